"""``hf:lora``: LoRA value alignment of a causal LM on a profile's data (VIM stage 1 for now).

A plain PyTorch loop rather than ``transformers.Trainer``: at this size the framework overhead
dominates, and owning the loop lets us control every source of randomness (LoRA init, dropout,
batch order) so that the same seed gives the same adapter bytes on the CPU.

One instance serves a whole run: the base model, the LoRA-wrapped model and the tokenised
texts are kept across ``train`` calls; before each profile the LoRA weights are restored to
their seeded initial values and a fresh optimiser is made, so each profile's adapter is what
a fresh process would have produced.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vhframe.context import RunContext
from vhframe.records import Example, ValueProfile, content_hash
from vhframe_hf import formats
from vhframe_hf._torch import (
    DEVICES,
    check_choice,
    check_float,
    check_int,
    pick_device,
    quiet_hf,
)
from vhframe_hf.models import check_model_in, resolve_model_in

MANIFEST = "vhframe_adapter.json"
IGNORE = -100  # label id that cross-entropy skips: prompt and padding positions


class LoraTrainer:
    """LoRA fine-tuning with the paper's defaults (r 8, alpha 32, dropout 0.1 on q/v, lr 2e-5,
    5 epochs, batch 8, 128 tokens, seed 42, best epoch by validation loss).

    ``max_examples`` subsamples the value data deterministically (by a hash of each example
    id, so the choice does not depend on input order). ``validation_fraction`` of the
    examples, chosen the same way, is held out to pick the best epoch.
    """

    def __init__(
        self,
        r: int = 8,
        alpha: int = 32,
        dropout: float = 0.1,
        target_modules: Sequence[str] = ("q_proj", "v_proj"),
        lr: float = 2e-5,
        epochs: int = 5,
        batch_size: int = 8,
        max_length: int = 128,
        seed: int = 42,
        validation_fraction: float = 0.1,
        max_examples: int | None = None,
        stages: Sequence[str] = ("argument", "survey"),
        faithful_label_shift: bool = False,
        weight_decay: float = 0.0,
        device: str = "auto",
    ) -> None:
        self.r = check_int("r", r, 1)
        self.alpha = check_int("alpha", alpha, 1)
        self.dropout = check_float("dropout", dropout, 0.0, 1.0, high_open=True)
        if isinstance(target_modules, str) or not target_modules or not all(
            isinstance(m, str) and m for m in target_modules
        ):
            raise ValueError("target_modules must be a non-empty list of module names, "
                             f"found {target_modules!r}")
        self.target_modules = tuple(target_modules)
        self.lr = check_float("lr", lr, 0.0, 1.0, low_open=True)
        self.epochs = check_int("epochs", epochs, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.max_length = check_int("max_length", max_length, 8)
        self.seed = check_int("seed", seed, 0)
        self.validation_fraction = check_float(
            "validation_fraction", validation_fraction, 0.0, 1.0, low_open=True, high_open=True)
        if max_examples is not None:
            check_int("max_examples", max_examples, 2)
        self.max_examples = max_examples
        if isinstance(stages, str) or not stages:
            raise ValueError(f"stages must be a non-empty list, found {stages!r}")
        for s in stages:
            if s not in formats.STAGES:
                raise ValueError(f"unknown stage {s!r}; known: {', '.join(formats.STAGES)}")
        self.stages = tuple(stages)
        if not isinstance(faithful_label_shift, bool):
            raise ValueError("faithful_label_shift must be true or false, found "
                             f"{faithful_label_shift!r}")
        self.faithful_label_shift = faithful_label_shift
        self.weight_decay = check_float("weight_decay", weight_decay, 0.0, math.inf,
                                        high_open=True)
        self.device = check_choice("device", device, DEVICES)
        # state kept across train() calls
        self._model_dir: Path | None = None
        self._tokenizer: Any = None
        self._peft: Any = None
        self._init_state: dict[str, Any] | None = None
        self._ids: dict[str, list[int]] = {}

    # ------------------------------------------------------------------ contract
    def check_model(self, ctx: RunContext, ref: str) -> None:
        """Fail before any work when ``ref`` is neither a built-in nor a model folder."""
        check_model_in(ctx, ref)

    def model_identity(self, ctx: RunContext, ref: str) -> str:
        """Names the weights ``ref`` points at: equal names mean the same config, tokenizer
        and weight bytes (see :func:`vhframe_hf.models.model_identity_in`)."""
        from vhframe_hf.models import model_identity_in

        return model_identity_in(ctx, ref)

    def fingerprint(self) -> dict[str, Any]:
        # The device is left out on purpose, like thread counts: it changes the last bits of
        # the weights, not what the training means.
        return {
            "trainer": "hf:lora",
            "format": formats.FORMAT_VERSION,
            "r": self.r,
            "alpha": self.alpha,
            "dropout": self.dropout,
            "target_modules": list(self.target_modules),
            "lr": self.lr,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "max_length": self.max_length,
            "seed": self.seed,
            "validation_fraction": self.validation_fraction,
            "max_examples": self.max_examples,
            "stages": list(self.stages),
            "faithful_label_shift": self.faithful_label_shift,
            "weight_decay": self.weight_decay,
        }

    def train(
        self,
        ctx: RunContext,
        base_model: str,
        profile: ValueProfile,
        examples: Sequence[Example],
        out_dir: Path,
    ) -> dict[str, Any]:
        import torch

        out_dir = Path(out_dir)
        device = pick_device(self.device, ctx)
        self._load(ctx, base_model, device)
        used = self.select(examples)
        train_ex, val_ex = self.split(used)
        train_pairs = self.pairs(profile, train_ex)
        val_pairs = self.pairs(profile, val_ex)
        if not train_pairs or not val_pairs:
            raise ValueError(
                f"profile {profile.name!r}: need at least one training and one validation "
                f"example with value labels, found {len(train_pairs)} and {len(val_pairs)}"
            )
        train_data = [self._encode(p) for p in train_pairs]
        val_data = [self._encode(p) for p in val_pairs]

        model = self._peft
        self._reset_lora()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        history: list[dict[str, float]] = []
        best: tuple[float, int, dict[str, Any]] | None = None
        initial_val = self._eval_loss(val_data, device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # LoRA dropout draws from the global generator
            order_gen = torch.Generator().manual_seed(self.seed)
            for epoch in range(1, self.epochs + 1):
                model.train()
                order = torch.randperm(len(train_data), generator=order_gen).tolist()
                total, tokens = 0.0, 0
                for i in range(0, len(order), self.batch_size):
                    batch = [train_data[j] for j in order[i : i + self.batch_size]]
                    loss_sum, n_tok = self._loss(batch, device)
                    (loss_sum / n_tok).backward()
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    total += float(loss_sum.detach())
                    tokens += n_tok
                val = self._eval_loss(val_data, device)
                history.append({"epoch": epoch, "train_loss": total / tokens, "val_loss": val})
                ctx.log.debug("hf:lora %s epoch %d train %.4f val %.4f", profile.name, epoch,
                              total / tokens, val)
                if best is None or val < best[0]:
                    best = (val, epoch, self._lora_state())
        assert best is not None
        self._load_lora(best[2])
        with quiet_hf():
            model.save_pretrained(str(out_dir))
        manifest = {
            "trainer": "hf:lora",
            "base_model": base_model,
            "profile": {"name": profile.name, "scores": list(profile.scores)},
            "data_hash": content_hash([[p.stage, p.source_id, p.prompt, p.target]
                                       for p in train_pairs + val_pairs]),
            "examples": {"given": len(examples), "used": len(used),
                         "train": len(train_pairs), "validation": len(val_pairs),
                         "would_say": sum(p.label == "would_say"
                                          for p in train_pairs + val_pairs)},
            "hyperparameters": self.fingerprint(),
            "device": device,
            "initial_val_loss": initial_val,
            "epochs": history,
            "best_epoch": best[1],
            "best_val_loss": best[0],
            "adapter_sha256": _file_hash(out_dir / "adapter_model.safetensors"),
        }
        (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return manifest

    def close(self) -> None:
        self._peft = None
        self._tokenizer = None
        self._init_state = None
        self._ids.clear()

    # ------------------------------------------------------------------ data
    def select(self, examples: Sequence[Example]) -> list[Example]:
        """The examples used: all, or ``max_examples`` of them chosen by a hash of their id."""
        if self.max_examples is None or len(examples) <= self.max_examples:
            return list(examples)
        ranked = sorted(examples, key=lambda e: (_rank(self.seed, "select", e.id), e.id))
        return ranked[: self.max_examples]

    def split(self, examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
        """(train, validation): the validation share is chosen by a hash of each example id."""
        n = len(examples)
        n_val = min(n - 1, max(1, round(n * self.validation_fraction))) if n > 1 else 0
        ranked = sorted(range(n), key=lambda i: (_rank(self.seed, "split", examples[i].id), i))
        val_idx = set(ranked[:n_val])
        train = [e for i, e in enumerate(examples) if i not in val_idx]
        val = [e for i, e in enumerate(examples) if i in val_idx]
        return train, val

    def pairs(self, profile: ValueProfile,
              examples: Sequence[Example]) -> list[formats.TrainingPair]:
        out: list[formats.TrainingPair] = []
        for stage in self.stages:
            if stage == "survey":
                out.extend(formats.survey_pairs(profile, examples,
                                                faithful_label_shift=self.faithful_label_shift))
            else:
                out.extend(formats.STAGES[stage](profile, examples))
        return out

    def _tok(self, text: str, special: bool) -> list[int]:
        key = f"{int(special)}\x00{text}"
        ids = self._ids.get(key)
        if ids is None:
            ids = self._tokenizer(text, add_special_tokens=special)["input_ids"]
            self._ids[key] = ids
        return ids

    def _encode(self, pair: formats.TrainingPair) -> tuple[list[int], int]:
        """Token ids of prompt + target + EOS, cut to ``max_length``; and the prompt length."""
        prompt = self._tok(pair.prompt, True)
        target = [*self._tok(pair.target, False), self._tokenizer.eos_token_id]
        # Keep at least half the budget for the target; cut the prompt from the left (after
        # BOS) because the claim's end is closest to what the model must say.
        keep_target = min(len(target), self.max_length // 2)
        room = self.max_length - keep_target
        if len(prompt) > room:
            prompt = prompt[:1] + prompt[len(prompt) - room + 1 :]
        ids = (prompt + target)[: self.max_length]
        return ids, len(prompt)

    # ------------------------------------------------------------------ model
    def _load(self, ctx: RunContext, base_model: str, device: str) -> None:
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model_dir = resolve_model_in(ctx, base_model)
        if self._peft is not None and self._model_dir == model_dir:
            self._peft.to(device)
            return
        self.close()
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        with quiet_hf():
            base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        config = LoraConfig(
            r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
            target_modules=list(self.target_modules), bias="none", task_type="CAUSAL_LM",
        )
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            # peft still calls a transformers method that 5.x deprecates; nothing to act on
            warnings.simplefilter("ignore", FutureWarning)
            torch.manual_seed(self.seed)  # LoRA A matrices are drawn at injection
            try:
                peft_model = get_peft_model(base, config)
            except ValueError as exc:
                raise ValueError(f"target_modules {list(self.target_modules)} do not fit "
                                 f"model {base_model!r}: {exc}") from None
        peft_model.to(device)
        self._model_dir, self._tokenizer, self._peft = model_dir, tokenizer, peft_model
        self._init_state = self._lora_state()

    def _lora_state(self) -> dict[str, Any]:
        return {n: p.detach().clone() for n, p in self._peft.named_parameters()
                if p.requires_grad}

    def _load_lora(self, state: dict[str, Any]) -> None:
        import torch

        with torch.no_grad():
            for n, p in self._peft.named_parameters():
                if n in state:
                    p.copy_(state[n])

    def _reset_lora(self) -> None:
        assert self._init_state is not None
        self._load_lora(self._init_state)

    def _collate(self, batch: Sequence[tuple[list[int], int]], device: str) -> tuple[Any, ...]:
        import torch

        width = max(len(ids) for ids, _ in batch)
        pad = self._tokenizer.pad_token_id
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        for row, (ids, n_prompt) in enumerate(batch):
            t = torch.tensor(ids)
            input_ids[row, : len(ids)] = t
            mask[row, : len(ids)] = 1
            labels[row, n_prompt : len(ids)] = t[n_prompt:]
        return input_ids.to(device), mask.to(device), labels.to(device)

    def _loss(self, batch: Sequence[tuple[list[int], int]], device: str) -> tuple[Any, int]:
        """Summed next-token loss over target tokens, and how many target tokens there were."""
        import torch.nn.functional as F

        input_ids, mask, labels = self._collate(batch, device)
        logits = self._peft(input_ids=input_ids, attention_mask=mask, use_cache=False).logits
        shifted = labels[:, 1:]
        loss = F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]).float(), shifted.reshape(-1),
            ignore_index=IGNORE, reduction="sum",
        )
        return loss, int((shifted != IGNORE).sum())

    def _eval_loss(self, data: Sequence[tuple[list[int], int]], device: str) -> float:
        """Mean loss per target token over ``data`` (independent of how it is batched)."""
        import torch

        self._peft.eval()
        total, tokens = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(data), self.batch_size):
                loss_sum, n_tok = self._loss(data[i : i + self.batch_size], device)
                total += float(loss_sum)
                tokens += n_tok
        return total / max(tokens, 1)


def _rank(seed: int, purpose: str, key: str) -> str:
    return hashlib.sha256(f"{seed}\x00{purpose}\x00{key}".encode()).hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
