"""The core stays torch-free: importing it and listing plugins never loads torch."""

from __future__ import annotations

import subprocess
import sys

BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'transformers', 'peft'}:
            raise ImportError('blocked for this test: ' + name)
sys.meta_path.insert(0, Block())
import vhframe, vhframe.cli, vhframe.pipeline, vhframe.analysis, vhframe.builtins.plugin
from vhframe.plugins import PluginManager
pm = PluginManager().load()
assert 'vhframe:refusal' in pm.registry['judges']
assert 'torch' not in sys.modules
print('ok')
"""


def test_core_imports_without_torch() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
