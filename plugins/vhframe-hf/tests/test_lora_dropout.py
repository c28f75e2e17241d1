"""LoRA dropout drawn from PCG64: the same dropout as torch's (keep share, scaling, gradient,
identity in eval mode), reproducible, and used by bucketed CPU trainings only."""

from __future__ import annotations

from pathlib import Path

import pytest
from hf_helpers import make_examples, mixed
from vhframe_hf.lora_dropout import PcgDropout
from vhframe_hf.trainer import LoraTrainer

from vhframe.context import RunContext

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


def test_masks_keep_the_share_and_scale_of_torch_dropout() -> None:
    import torch

    drop = torch.nn.Dropout(0.1)
    pcg = PcgDropout([drop], seed=3)
    x = torch.ones(400, 500, requires_grad=True)
    with pcg:
        y = drop(x)
        y.sum().backward()
        drop.eval()
        assert drop(x) is x  # eval mode: nothing dropped, nothing drawn
        drop.train()
    kept = y.detach() > 0
    assert abs(float(kept.float().mean()) - 0.9) < 0.005
    assert torch.equal(y.detach()[kept], torch.full_like(y.detach()[kept], 1 / 0.9))
    # the gradient flows through the kept elements only, scaled like the values
    assert x.grad is not None
    assert torch.equal(x.grad, y.detach())
    assert "forward" not in vars(drop)  # unpatched on exit

    again = PcgDropout([drop], seed=3)
    with again:
        assert torch.equal(drop(torch.ones(400, 500)), y.detach())  # same seed, same masks
    again.reseed(4)
    with again:
        assert not torch.equal(drop(torch.ones(400, 500)), y.detach())


def test_build_finds_the_lora_dropouts(tiny: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    def model(dropout: float):
        base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
        return get_peft_model(
            base,
            LoraConfig(
                r=4, lora_alpha=8, lora_dropout=dropout, target_modules=["q_proj", "v_proj"]
            ),
        )

    pcg = PcgDropout.build(model(0.1))
    assert pcg is not None
    assert len(pcg.modules) == 2 * 4  # q and v in each of the 4 layers
    assert PcgDropout.build(model(0.0)) is None  # nothing to draw


def test_bucketed_cpu_training_draws_from_pcg_unbucketed_from_torch(
    ctx: RunContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[str] = []
    original = PcgDropout.__enter__

    def enter(self: PcgDropout) -> PcgDropout:
        drawn.append("pcg")
        return original(self)

    monkeypatch.setattr(PcgDropout, "__enter__", enter)
    settings = {"lr": 5e-3, "epochs": 1, "batch_size": 8, "max_examples": 16}
    examples = make_examples(30)
    bucketed = LoraTrainer(**settings, device="cpu")
    bucketed.train(ctx, "builtin:tiny-llama", mixed(), examples, tmp_path / "a")
    assert drawn == ["pcg"]
    first = bucketed.step_losses
    bucketed.train(ctx, "builtin:tiny-llama", mixed(), examples, tmp_path / "b")
    assert bucketed.step_losses == first  # reseeded per training: the same masks again
    drawn.clear()
    plain = LoraTrainer(**settings, bucket=False, device="cpu")
    plain.train(ctx, "builtin:tiny-llama", mixed(), examples, tmp_path / "c")
    assert drawn == []


def test_the_loop_version_is_in_the_fingerprint() -> None:
    from vhframe_hf import trainer

    assert LoraTrainer().fingerprint()["loop"] == trainer.LOOP_VERSION >= 2
