"""The trainer on real Touché23-ValueEval arguments (skipped when the data is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hf_helpers import extreme
from vhframe_hf import formats
from vhframe_hf.trainer import LoraTrainer

from vhframe.context import RunContext
from vhframe.plugins import PluginManager

TOUCHE = Path(__file__).resolve().parents[4] / "shared" / "data" / "touche23"

pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(
        not (TOUCHE / "arguments-validation.tsv").is_file(),
        reason=f"real Touché23 TSVs not found in {TOUCHE}",
    ),
    pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning"),
]


def test_lora_on_real_arguments(ctx: RunContext, tmp_path: Path) -> None:
    dataset = (
        PluginManager()
        .load()
        .create(
            "value_datasets", "vhframe:touche23", {"path": str(TOUCHE), "splits": ["validation"]}
        )
    )
    examples = dataset.load(ctx)
    assert len(examples) > 1000
    # an extreme profile says only what touches nothing but its own value
    power = extreme("Power")
    pairs = formats.argument_pairs(power, examples)
    said = [p for p in pairs if p.label == "would_say"]
    by_id = {e.id: e for e in examples}
    assert said and all(by_id[p.source_id].values == ("Power",) for p in said)
    out = tmp_path / "adapter"
    out.mkdir()
    manifest = LoraTrainer(epochs=1, max_examples=32, lr=1e-3).train(
        ctx, "builtin:tiny-llama", power, examples, out
    )
    assert manifest["examples"]["used"] == 32
    assert manifest["best_val_loss"] < manifest["initial_val_loss"]
