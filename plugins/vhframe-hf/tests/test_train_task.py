"""``hf:lora`` ``train_task``: benign LoRA fine-tunes on task examples."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hf_helpers import make_examples, mixed
from vhframe_hf.corpus import PREMISES
from vhframe_hf.trainer import MANIFEST, LoraTrainer

from vhframe.context import RunContext
from vhframe.records import TaskExample

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

TASK = {"lr": 5e-3, "epochs": 3, "batch_size": 8, "validation_fraction": 0.2}


def task_examples(n: int = 40, seed: int = 2) -> list[TaskExample]:
    """A grammar-style task the tiny model can learn quickly: restore a sentence's capital
    letter and full stop."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        s = rng.choice(PREMISES)
        src = "grammar" if i % 4 else "alpaca"
        out.append(
            TaskExample(
                id=f"T{i:03d}",
                prompt=f"Correct this sentence: {s}\nCorrected:",
                target=f" {s[0].upper()}{s[1:]}.",
                source=src,
            )
        )
    return out


@pytest.fixture(scope="module")
def task_run(
    tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, tiny: Path
) -> tuple[LoraTrainer, Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("task")
    ctx = RunContext(seed=42, run_dir=base, cache_dir=cache_dir, config_dir=base)
    trainer = LoraTrainer(**TASK)
    out = base / "adapter"
    out.mkdir()
    return trainer, out, trainer.train_task(ctx, "builtin:tiny-llama", task_examples(), out)


def test_task_training_learns_and_records_itself(task_run: tuple[LoraTrainer, Path, dict]) -> None:
    _, out, manifest = task_run
    assert manifest["best_val_loss"] < manifest["initial_val_loss"]
    vals = [e["val_loss"] for e in manifest["epochs"]]
    assert vals[-1] < vals[0] and manifest["best_epoch"] == vals.index(min(vals)) + 1
    assert manifest["examples"] == {"given": 40, "used": 40, "train": 32, "validation": 8}
    assert manifest["task"] == {"alpaca": 10, "grammar": 30}
    assert manifest["validation"] == "hash" and len(manifest["data_hash"]) == 64
    assert json.loads((out / MANIFEST).read_text()) == manifest


def test_task_adapter_loads_and_reproduces_the_best_loss(
    task_run: tuple[LoraTrainer, Path, dict], tiny: Path
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    from vhframe_hf import formats

    trainer, out, manifest = task_run
    base = AutoModelForCausalLM.from_pretrained(tiny)
    adapted = PeftModel.from_pretrained(base, str(out)).eval()
    exs = task_examples()
    _, val = trainer._hash_split(exs, [e.source for e in exs])
    assert {e.source for e in val} == {"alpaca", "grammar"}  # stratified by source
    data = sorted(
        (trainer._encode(p) for p in trainer._canonical(formats.task_pairs(val))),
        key=lambda d: len(d[0]),
    )
    kept = trainer._peft
    trainer._peft = adapted
    try:
        with torch.no_grad():
            assert trainer._eval_loss(data, "cpu") == pytest.approx(
                manifest["best_val_loss"], rel=1e-5
            )
    finally:
        trainer._peft = kept


def test_task_training_is_deterministic_and_shares_the_model(
    task_run: tuple[LoraTrainer, Path, dict], ctx: RunContext, tmp_path: Path
) -> None:
    trainer, _, first = task_run
    model = trainer._peft
    # a value alignment in between must not leak into the next task training
    (tmp_path / "v").mkdir()
    trainer.train(ctx, "builtin:tiny-llama", mixed(), make_examples(20), tmp_path / "v")
    (tmp_path / "t").mkdir()
    again = trainer.train_task(
        ctx, "builtin:tiny-llama", list(reversed(task_examples())), tmp_path / "t"
    )
    assert trainer._peft is model  # loaded once for all trainings
    assert again["epochs"] == first["epochs"]
    assert again["adapter_sha256"] == first["adapter_sha256"]


def test_task_training_rejects_too_few_or_empty_examples(ctx: RunContext, tmp_path: Path) -> None:
    t = LoraTrainer(**TASK)
    with pytest.raises(ValueError, match=r"at least 2 examples .* found 1"):
        t.train_task(ctx, "builtin:tiny-llama", task_examples(1), tmp_path)
    with pytest.raises(ValueError, match=r"at least 2 examples .* found 0"):
        t.train_task(ctx, "builtin:tiny-llama", [], tmp_path)
    bad = [*task_examples(3), TaskExample(id="blank", prompt="p", target="  ")]
    with pytest.raises(ValueError, match="non-empty target; 1 do not, first 'blank'"):
        t.train_task(ctx, "builtin:tiny-llama", bad, tmp_path)
    assert t._peft is None  # rejected before any model was loaded
