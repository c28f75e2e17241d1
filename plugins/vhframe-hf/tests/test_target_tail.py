"""The last decoder layer computed from the first target position on gives the full layer's
logits and LoRA gradients, draws the same dropout masks, and leaves training unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from hf_helpers import make_examples, mixed
from vhframe_hf import target_tail
from vhframe_hf.target_tail import TargetTail
from vhframe_hf.trainer import LoraTrainer

from vhframe.context import RunContext

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


def _lora_model(tiny: Path, dropout: float = 0.1):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_peft_model(
            base,
            LoraConfig(
                r=8,
                lora_alpha=32,
                lora_dropout=dropout,
                target_modules=["q_proj", "v_proj"],
                bias="none",
                task_type="CAUSAL_LM",
            ),
        )
        for name, p in model.named_parameters():
            if "lora_B" in name:  # non-zero B: the LoRA branch must matter in the comparison
                torch.nn.init.normal_(p, std=0.1)
    return model


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_tail_equals_the_full_layer(tiny: Path, mode: str) -> None:
    import torch

    model = _lora_model(tiny)
    getattr(model, mode)()
    tail = TargetTail.build(model)
    assert tail is not None
    ids = torch.randint(3, 200, (4, 40), generator=torch.Generator().manual_seed(1))
    start = 29

    def run(use_tail: bool):
        torch.manual_seed(5)
        model.zero_grad()
        tail.start = start if use_tail else 0
        with tail:
            logits = model(input_ids=ids, use_cache=False, logits_to_keep=40 - start).logits
        logits.pow(2).mean().backward()
        after = torch.rand(4)  # where the random stream stands after the call
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        return logits.detach(), grads, after

    full, full_grads, full_after = run(False)
    ours, our_grads, our_after = run(True)
    assert ours.shape == full.shape == (4, 40 - start, full.shape[-1])
    torch.testing.assert_close(ours, full, rtol=1e-5, atol=1e-6)
    assert full_grads.keys() == our_grads.keys()
    for name, g in full_grads.items():
        # summation order differs: compare against the gradient's scale, not element-wise
        scale = float(g.abs().max())
        assert scale > 0, name
        torch.testing.assert_close(our_grads[name], g, rtol=0, atol=1e-5 * scale, msg=name)
    assert torch.equal(our_after, full_after)  # the same number of dropout draws
    assert "forward" not in vars(tail.layer)  # unpatched on exit


def test_tail_declines_what_it_does_not_handle(tiny: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    assert TargetTail.build(torch.nn.Linear(2, 2)) is None
    base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    assert TargetTail.build(base) is not None  # no LoRA: plain q_proj is fine
    base.model.layers[-1].self_attn.attention_dropout = 0.1
    assert TargetTail.build(base) is None  # attention dropout would need the full rows
    model = _lora_model(tiny)
    layer = model.get_base_model().model.layers[-1]
    vars(layer)["forward"] = layer.forward  # someone else's patch: do not stack on it
    assert TargetTail.build(model) is None


def test_training_with_and_without_the_tail_agrees(
    ctx: RunContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {"lr": 5e-3, "epochs": 2, "batch_size": 8, "max_examples": 24}
    examples = make_examples(60)
    with_tail = LoraTrainer(**settings)
    m1 = with_tail.train(ctx, "builtin:tiny-llama", mixed(), examples, tmp_path / "a")
    assert with_tail._tail is not None
    monkeypatch.setattr(target_tail.TargetTail, "build", classmethod(lambda cls, m: None))
    without = LoraTrainer(**settings)
    m2 = without.train(ctx, "builtin:tiny-llama", mixed(), examples, tmp_path / "b")
    assert without._tail is None
    assert with_tail.step_losses == pytest.approx(without.step_losses, rel=1e-5, abs=1e-6)
    assert m1["best_val_loss"] == pytest.approx(m2["best_val_loss"], rel=1e-5)
    assert m1["best_epoch"] == m2["best_epoch"]
