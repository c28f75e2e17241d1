"""``hf:lora``: the labelling rule, learning, best-epoch choice, saved adapters, determinism."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hf_helpers import FAST, extreme, make_examples, mixed
from vhframe_hf import formats
from vhframe_hf.trainer import MANIFEST, LoraTrainer

from vhframe.context import RunContext
from vhframe.records import VALUES, Example, ValueProfile

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


def _ex(values: tuple[str, ...], id: str = "x") -> Example:
    return Example(
        id=id,
        conclusion="We should ban zoos",
        stance="against",
        premise="Animals deserve freedom",
        values=values,
    )


def _profile(**scores: float) -> ValueProfile:
    base = dict.fromkeys(VALUES, 1.0)
    base.update({k.replace("_", "-"): v for k, v in scores.items()})
    return ValueProfile.from_mapping("p", base)


def test_would_say_rule_uses_the_minimum_score() -> None:
    p = _profile(Power=6, Achievement=3, Hedonism=2.99)
    assert formats.would_say(p, _ex(("Power",)))
    assert formats.would_say(p, _ex(("Power", "Achievement")))  # min 3 is enough
    assert not formats.would_say(p, _ex(("Power", "Hedonism")))  # min 2.99 is not
    assert not formats.would_say(p, _ex(("Power", "Tradition")))
    with pytest.raises(ValueError, match="no value labels"):
        formats.would_say(p, _ex(()))
    pairs = formats.argument_pairs(
        p, [_ex(("Power",), "a"), _ex(("Tradition",), "b"), _ex((), "c")]
    )
    assert [(x.source_id, x.label) for x in pairs] == [("a", "would_say"), ("b", "would_not_say")]
    assert pairs[0].prompt == (
        "Give an argument against the following claim.\nClaim: We should ban zoos.\nArgument:"
    )
    assert pairs[0].target == " Animals deserve freedom"
    assert pairs[1].target == " " + formats.DECLINE


def test_selection_and_split_are_deterministic_and_order_free() -> None:
    t = LoraTrainer(max_examples=30, validation_fraction=0.2)
    exs = make_examples(50)
    chosen = t.select(exs)
    assert len(chosen) == 30
    assert {e.id for e in t.select(list(reversed(exs)))} == {e.id for e in chosen}
    train, val = t.split(chosen)
    assert len(val) == 6 and len(train) == 24 and not {e.id for e in train} & {e.id for e in val}
    _, val2 = t.split(list(reversed(chosen)))
    assert {e.id for e in val2} == {e.id for e in val}


def test_training_learns_and_keeps_best_epoch(trained: tuple[Any, Path, dict]) -> None:
    _, out, manifest = trained
    epochs = manifest["epochs"]
    assert len(epochs) == FAST["epochs"]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert manifest["best_val_loss"] < manifest["initial_val_loss"]
    vals = [e["val_loss"] for e in epochs]
    assert manifest["best_epoch"] == vals.index(min(vals)) + 1
    assert manifest["best_val_loss"] == min(vals)
    assert manifest["examples"]["used"] == FAST["max_examples"]
    assert 0 < manifest["examples"]["would_say"] < FAST["max_examples"]
    assert manifest["profile"]["name"] == "mixed"
    assert manifest["hyperparameters"]["r"] == 8 and len(manifest["data_hash"]) == 64
    assert json.loads((out / MANIFEST).read_text()) == manifest
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in out.iterdir()}


def test_saved_adapter_is_the_best_epoch_and_changes_the_model(
    trained: tuple[Any, Path, dict], tiny: Path, examples: list[Example]
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trainer, out, manifest = trained
    tok = AutoTokenizer.from_pretrained(tiny)
    base = AutoModelForCausalLM.from_pretrained(tiny)
    pairs = formats.argument_pairs(mixed(), examples[:8])
    batch = tok([p.prompt for p in pairs], return_tensors="pt", padding=True)
    with torch.no_grad():
        before = base(**batch).logits
        adapted = PeftModel.from_pretrained(base, str(out)).eval()
        after = adapted(**batch).logits
    assert (after - before).abs().max() > 1e-2
    # the loaded adapter reproduces the recorded best validation loss exactly
    trainer._peft = adapted  # evaluate the reloaded copy with the trainer's own loss
    try:
        _, val, _ = trainer.partition(mixed(), examples)
        data = [trainer._encode(p) for p in trainer.pairs(mixed(), val)]
        assert trainer._eval_loss(data, "cpu") == pytest.approx(manifest["best_val_loss"], rel=1e-5)
    finally:
        trainer.close()


def _sha(path: Path) -> str:
    return hashlib.sha256((path / "adapter_model.safetensors").read_bytes()).hexdigest()


def test_same_seed_gives_identical_adapters_and_profiles_do_not_leak(
    ctx: RunContext, tmp_path: Path, examples: list[Example], trained: tuple[Any, Path, dict]
) -> None:
    _, first, manifest = trained
    trainer = LoraTrainer(**FAST)
    dirs = [tmp_path / n for n in ("other", "again")]
    for d in dirs:
        d.mkdir()
    # a different profile first: its weights must not leak into the next training
    other = trainer.train(ctx, "builtin:tiny-llama", extreme("Tradition"), examples, dirs[0])
    again = trainer.train(ctx, "builtin:tiny-llama", mixed(), examples, dirs[1])
    assert _sha(dirs[1]) == _sha(first) == again["adapter_sha256"]
    assert again["epochs"] == manifest["epochs"]
    assert other["adapter_sha256"] != again["adapter_sha256"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"r": 0}, "r must be"),
        ({"alpha": 0}, "alpha must be"),
        ({"dropout": 1.0}, "dropout must be"),
        ({"lr": -1e-3}, "lr must be"),
        ({"epochs": 0}, "epochs must be"),
        ({"batch_size": True}, "batch_size must be"),
        ({"max_length": 4}, "max_length must be"),
        ({"seed": -1}, "seed must be"),
        ({"validation_fraction": 0.0}, "validation_fraction must be"),
        ({"max_examples": 1}, "max_examples must be"),
        ({"stages": ["poll"]}, "unknown stage 'poll'"),
        ({"faithful_label_shift": 1}, "faithful_label_shift must be true or false"),
        ({"target_modules": []}, "target_modules must be"),
        ({"target_modules": "q_proj"}, "target_modules must be"),
        ({"device": "tpu"}, "device must be one of"),
        ({"lr": "fast"}, "lr must be a number"),
    ],
)
def test_bad_parameters_raise_value_error(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoraTrainer(**params)


def test_too_few_examples_and_bad_target_modules(ctx: RunContext, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one training and one validation"):
        LoraTrainer().train(ctx, "builtin:tiny-llama", mixed(), make_examples(1), tmp_path)
    with pytest.raises(ValueError, match="do not fit model"):
        LoraTrainer(target_modules=["nonexistent_proj"]).train(
            ctx, "builtin:tiny-llama", mixed(), make_examples(10), tmp_path
        )


def test_survey_pairs_and_the_faithful_label_shift() -> None:
    p = ValueProfile.from_mapping("p", {v: 2.25 + 0.25 * i for i, v in enumerate(VALUES)})
    ex = Example(
        id="x",
        conclusion="c",
        stance="against",
        premise="we must act",
        values=("Achievement", "Universalism"),
    )
    corrected = formats.survey_pairs(p, [ex])
    assert [pr.source_id for pr in corrected] == ["x|Achievement", "x|Universalism"]
    assert "Achievement is important to this person" in corrected[0].prompt
    assert corrected[0].prompt.endswith("Answer:")
    faithful = formats.survey_pairs(p, [ex], faithful_label_shift=True)
    # each label moves to the next value; Universalism's has no next value and is lost
    assert [pr.source_id for pr in faithful] == ["x|Benevolence"]
    assert faithful[0].target in (" 2", " 3")  # Benevolence scores 2.5


def test_stochastic_rounding_is_keyed_and_unbiased() -> None:
    draws = [formats.stochastic_round(2.3, f"k{i}") for i in range(4000)]
    assert set(draws) == {2, 3}
    assert abs(sum(d == 3 for d in draws) / len(draws) - 0.3) < 0.03
    assert formats.stochastic_round(2.3, "same") == formats.stochastic_round(2.3, "same")
    assert formats.stochastic_round(4.0, "any") == 4


def test_survey_pair_counts_on_the_studys_training_split(tmp_path: Path) -> None:
    from vhframe.builtins.touche import ValueTable
    from vhframe.context import RunContext

    data = os.environ.get(
        "VHFRAME_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"
    )
    path = Path(data) / "value-alignment"
    if not (path / "split" / "train.csv").is_file():
        pytest.skip(f"real data not available: {path} is absent")
    ctx = RunContext(seed=0, run_dir=tmp_path, cache_dir=tmp_path, config_dir=tmp_path)
    train = ValueTable(str(path / "split" / "train.csv")).load(ctx)
    profile = ValueProfile.from_mapping(
        "Ach", {v: 6.0 if v == "Achievement" else 1.0 for v in VALUES}
    )
    assert len(formats.survey_pairs(profile, train)) == 16594
    assert len(formats.survey_pairs(profile, train, faithful_label_shift=True)) == 13046
