"""``hf:lora`` computes the loss a plain transformers + peft loop computes: with bucketing off
and the same example order, the per-step loss curves agree to float precision.

The reference is what a careful user writes by hand: the tokenizer's own ids, a
``DataCollatorForSeq2Seq`` for padding, the model's built-in loss (``labels=``), AdamW.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hf_helpers import make_examples, mixed
from vhframe_hf.trainer import LoraTrainer

from vhframe.context import RunContext

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

SETTINGS = {"lr": 5e-3, "epochs": 2, "batch_size": 8, "max_examples": 24, "bucket": False}


def reference_step_losses(tiny: Path, trainer: LoraTrainer, features: list[dict]) -> list[float]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

    tok = AutoTokenizer.from_pretrained(tiny)
    collate = DataCollatorForSeq2Seq(
        tok, padding=True, label_pad_token_id=-100, return_tensors="pt"
    )
    base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    config = LoraConfig(
        r=trainer.r,
        lora_alpha=trainer.alpha,
        lora_dropout=trainer.dropout,
        target_modules=list(trainer.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    losses = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(trainer.seed)  # the LoRA A matrices
        model = get_peft_model(base, config)
        opt = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=trainer.lr, weight_decay=0.0
        )
        torch.manual_seed(trainer.seed)  # dropout
        order_gen = torch.Generator().manual_seed(trainer.seed)
        model.train()
        for _ in range(trainer.epochs):
            order = torch.randperm(len(features), generator=order_gen).tolist()
            for i in range(0, len(order), trainer.batch_size):
                batch = collate([features[j] for j in order[i : i + trainer.batch_size]])
                loss = model(**batch).loss
                loss.backward()
                opt.step()
                opt.zero_grad()
                losses.append(float(loss.detach()))
    return losses


def test_step_losses_equal_a_plain_transformers_loop(
    ctx: RunContext, tiny: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    trainer = LoraTrainer(**SETTINGS)
    examples = make_examples(60)
    trainer.train(ctx, "builtin:tiny-llama", mixed(), examples, tmp_path)
    ours = trainer.step_losses

    # the same pairs in the same order, tokenised the plain way
    train_ex, _, _ = trainer.partition(mixed(), examples)
    pairs = trainer._canonical(trainer.pairs(mixed(), train_ex))
    tok = AutoTokenizer.from_pretrained(tiny)
    features = []
    for p in pairs:
        prompt = tok(p.prompt)["input_ids"]
        target = tok(p.target, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert len(prompt) + len(target) <= trainer.max_length  # nothing to truncate
        features.append({"input_ids": prompt + target, "labels": [-100] * len(prompt) + target})
    theirs = reference_step_losses(tiny, trainer, features)

    steps_per_epoch = -(-len(features) // trainer.batch_size)
    assert len(ours) == len(theirs) == trainer.epochs * steps_per_epoch
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-6)
    assert ours[-1] < ours[0]  # it learned something, so the updates were compared too
