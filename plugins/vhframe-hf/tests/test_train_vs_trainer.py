"""What ``bucket = false`` shares with a real ``transformers.Trainer``, and what it does not.

Both train the same LoRA (same seed, so the same initial A matrices) on the same pairs in the
same dataset order, batch 8, AdamW (fused) at a constant learning rate, no clipping, loss the
mean over the batch's target tokens. Then:

* without dropout, every step of the first epoch has the same loss (float precision);
* from the second epoch the batches differ: the Trainer's sampler (accelerate's seedable
  sampler) reseeds its generator with ``seed + epoch`` every epoch, while hf:lora draws every
  epoch's order from one generator seeded once;
* with dropout, only the first step agrees (LoRA's B starts at zero, so the first loss is the
  base model's on the same batch): the Trainer's data loader takes a draw from torch's global
  generator before the first batch, so its dropout masks are other ones from the start.

hf:lora with ``bucket = false`` is draw for draw a hand-written loop seeded like it
(``test_train_reference.py``), not a Trainer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hf_helpers import make_examples, mixed
from vhframe_hf.trainer import LoraTrainer

from vhframe.context import RunContext

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning"),
]

SETTINGS = {"lr": 5e-3, "batch_size": 8, "max_examples": 24, "bucket": False}


def features(trainer: LoraTrainer, tiny: Path) -> list[dict[str, list[int]]]:
    """hf:lora's training pairs in its order, tokenised the plain way (nothing to truncate)."""
    from transformers import AutoTokenizer

    train_ex, _, _ = trainer.partition(mixed(), make_examples(60))
    tok = AutoTokenizer.from_pretrained(tiny)
    out = []
    for p in trainer._canonical(trainer.pairs(mixed(), train_ex)):
        prompt = tok(p.prompt)["input_ids"]
        target = tok(p.target, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert len(prompt) + len(target) <= trainer.max_length
        out.append({"input_ids": prompt + target, "labels": [-100] * len(prompt) + target})
    return out


def run_trainer(
    tiny: Path, trainer: LoraTrainer, feats: list[dict[str, list[int]]], out: Path
) -> tuple[list[float], list[list[int]]]:
    """A real Trainer on ``feats``: each step's training loss and the dataset indices of its
    batch."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(tiny)
    base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    config = LoraConfig(
        r=trainer.r,
        lora_alpha=trainer.alpha,
        lora_dropout=trainer.dropout,
        target_modules=list(trainer.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(trainer.seed)  # the LoRA A matrices, as hf:lora draws them
    model = get_peft_model(base, config)
    losses: list[float] = []
    batches: list[list[int]] = []
    pad = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)

    def collate(rows: list[dict[str, Any]]) -> Any:
        # the loader calls this once per batch, in training order
        batches.append([r["index"] for r in rows])
        return pad([{k: v for k, v in r.items() if k != "index"} for r in rows])

    class Recording(Trainer):
        def compute_loss(self, model: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            loss = super().compute_loss(model, inputs, *args, **kwargs)
            if model.training:
                losses.append(float(loss.detach()))
            return loss

    args = TrainingArguments(
        output_dir=str(out),
        num_train_epochs=trainer.epochs,
        per_device_train_batch_size=trainer.batch_size,
        learning_rate=trainer.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=0.0,  # no clipping, like hf:lora
        seed=trainer.seed,
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        remove_unused_columns=False,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        eval_strategy="no",
    )
    hf = Recording(
        model=model,
        args=args,
        train_dataset=[{**f, "index": i} for i, f in enumerate(feats)],
        data_collator=collate,
    )
    hf.remove_callback(PrinterCallback)
    hf.train()
    return losses, batches


def ours(ctx: RunContext, out: Path, **settings: Any) -> LoraTrainer:
    trainer = LoraTrainer(**SETTINGS, **settings)
    out.mkdir()
    trainer.train(ctx, "builtin:tiny-llama", mixed(), make_examples(60), out)
    return trainer


def test_without_dropout_the_first_epoch_equals_a_trainer(
    ctx: RunContext, tiny: Path, tmp_path: Path
) -> None:
    import torch

    trainer = ours(ctx, tmp_path / "ours", dropout=0.0, epochs=2)
    feats = features(trainer, tiny)
    theirs, batches = run_trainer(tiny, trainer, feats, tmp_path / "hf")
    steps = -(-len(feats) // trainer.batch_size)
    assert len(trainer.step_losses) == len(theirs) == 2 * steps

    gen = torch.Generator().manual_seed(trainer.seed)
    lengths = [len(f["input_ids"]) for f in feats]
    first, second = trainer.batches(lengths, gen), trainer.batches(lengths, gen)
    # epoch 1: the same batches, and the same loss at every step
    assert batches[:steps] == first
    assert trainer.step_losses[:steps] == pytest.approx(theirs[:steps], rel=1e-5, abs=1e-6)
    assert trainer.step_losses[steps - 1] < trainer.step_losses[0]  # the updates mattered
    # epoch 2: the Trainer reseeds its sampler with seed + 1; hf:lora's generator goes on
    reseeded = torch.randperm(len(feats), generator=torch.Generator().manual_seed(43)).tolist()
    assert batches[steps:] == [
        reseeded[i : i + trainer.batch_size] for i in range(0, len(feats), trainer.batch_size)
    ]
    assert batches[steps:] != second
    assert trainer.step_losses[steps:] != pytest.approx(theirs[steps:], rel=1e-3)


def test_with_dropout_only_the_first_step_equals_a_trainer(
    ctx: RunContext, tiny: Path, tmp_path: Path
) -> None:
    trainer = ours(ctx, tmp_path / "ours", dropout=0.1, epochs=1)
    feats = features(trainer, tiny)
    theirs, _ = run_trainer(tiny, trainer, feats, tmp_path / "hf")
    ours_losses = trainer.step_losses
    assert ours_losses[0] == pytest.approx(theirs[0], rel=1e-6)
    # other dropout masks from the first step on: the second step's loss already differs
    assert ours_losses[1] != pytest.approx(theirs[1], rel=1e-6)
