"""The distribution registers through the ``vhframe`` entry-point group, cheaply."""

from __future__ import annotations

import subprocess
import sys

from vhframe_hf.generator import BatchedGenerator
from vhframe_hf.trainer import LoraTrainer

from vhframe.plugins import PluginManager


def test_registers_through_entry_point() -> None:
    pm = PluginManager().load()
    info = pm.plugins["hf"]
    assert info.error is None, info.error
    assert "vhframe-hf" in info.source
    assert pm.get("trainers", "hf:lora").factory is LoraTrainer
    assert pm.get("generators", "hf:batched").factory is BatchedGenerator
    assert isinstance(pm.create("trainers", "hf:lora", {"epochs": 2}), LoraTrainer)


def test_plugin_import_does_not_load_torch() -> None:
    code = (
        "import sys, vhframe_hf.plugin; "
        "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
