"""``hf:lora``: LoRA value alignment of a causal LM on a profile's data (the VIM method), and
benign LoRA fine-tunes on task data (``train_task``).

A plain PyTorch loop rather than ``transformers.Trainer``: at this size the framework overhead
dominates, and owning the loop lets us control every source of randomness (LoRA init, dropout,
batch order) so that the same seed gives the same adapter bytes on the CPU.

One instance serves a whole run: the base model, the LoRA-wrapped model and the tokenised
texts are kept across ``train`` and ``train_task`` calls; before each training the LoRA
weights are restored to their seeded initial values and a fresh optimiser is made, so each
adapter is what a fresh process would have produced.

Costs saved per step: batches are drawn from length buckets (little padding), the logits
are computed only from the first target position on (the prompt's logits are never used by
the loss), and so is the last decoder layer's work past its keys and values (see
:mod:`vhframe_hf.target_tail`); no attention mask is built (rows are right-padded and
attention is causal), so SDPA runs its fused causal kernel; losses stay on the device until
the end of an epoch (no per-step sync).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TypeVar

from vhframe.context import RunContext
from vhframe.records import Example, TaskExample, ValueProfile, content_hash
from vhframe_hf import formats
from vhframe_hf._torch import (
    DEVICES,
    check_choice,
    check_float,
    check_int,
    pick_device,
    quiet_hf,
)
from vhframe_hf.lora_dropout import PcgDropout
from vhframe_hf.models import check_model_in, resolve_model_in
from vhframe_hf.target_tail import TargetTail

MANIFEST = "vhframe_adapter.json"
IGNORE = -100  # label id that cross-entropy skips: prompt and padding positions
VALIDATION = ("auto", "split", "hash")
#: Length bucketing sorts windows of this many batches by length (then shuffles the batches):
#: wide enough that batches are nearly pad-free, narrow enough that each epoch still mixes.
BUCKET_WINDOW = 50
#: What the training loop draws beyond the settings; in the fingerprint, so that a change
#: recomputes cached adapters. 2: bucketed CPU trainings draw LoRA dropout from PCG64.
LOOP_VERSION = 2

_E = TypeVar("_E", Example, TaskExample)
Encoded = tuple[list[int], int]  # token ids, prompt length


class LoraTrainer:
    """LoRA fine-tuning with the paper's defaults (r 8, alpha 32, dropout 0.1 on q/v, lr 2e-5,
    5 epochs, batch 8, 128 tokens, seed 42, best epoch by validation loss).

    ``validation`` says which examples pick the best epoch: ``"split"`` trains on the
    examples whose dataset split is ``"train"`` and validates on ``"valid"`` (``"test"`` and
    unsplit examples are never used); ``"hash"`` holds out ``validation_fraction`` of all
    given examples, chosen by a hash of their id and stratified by the profile's stage-1
    label (would say / would not say) so that both are validated whenever both occur;
    ``"auto"`` (default) is ``"split"`` when the examples carry a split and ``"hash"``
    otherwise.

    ``max_examples`` subsamples deterministically (by a hash of each example id, so the choice
    does not depend on input order); with ``"split"`` each split keeps its share.

    ``bucket`` (default true) draws batches from length buckets: each epoch's shuffled order
    is cut into windows of 50 batches, each window is sorted by length and cut into batches,
    and the batches are shuffled; each step's summed loss is divided by the mean number of
    target tokens per batch, so that every target token keeps the weight it has without
    buckets. Off, batches are consecutive runs of the shuffled order and each step takes the
    mean over its batch's target tokens, as ``transformers.Trainer`` does. With buckets on
    the CPU, the LoRA dropout masks are drawn from a PCG64 generator seeded with ``seed``
    (:mod:`vhframe_hf.lora_dropout`, several times faster than torch's CPU draws; the same
    dropout, other masks); off, from torch's generator seeded with ``seed`` when training
    starts.

    With ``bucket`` off, the per-step losses are, draw for draw, those of a hand-written
    transformers + peft loop that seeds torch and one order generator with ``seed``. A
    ``transformers.Trainer`` given the same seed, pairs, order and settings (constant lr, no
    clipping) computes the same losses through the first epoch only, and only without
    dropout: its sampler reseeds with ``seed + epoch`` every epoch (another order from the
    second), and its data loader takes a draw from torch's generator before the first batch
    (other dropout masks from the start; the first step's loss still agrees, LoRA's B being
    zero there).
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
        validation: str = "auto",
        validation_fraction: float = 0.1,
        max_examples: int | None = None,
        stages: Sequence[str] = ("argument", "survey"),
        faithful_label_shift: bool = False,
        weight_decay: float = 0.0,
        bucket: bool = True,
        device: str = "auto",
    ) -> None:
        self.r = check_int("r", r, 1)
        self.alpha = check_int("alpha", alpha, 1)
        self.dropout = check_float("dropout", dropout, 0.0, 1.0, high_open=True)
        if (
            isinstance(target_modules, str)
            or not target_modules
            or not all(isinstance(m, str) and m for m in target_modules)
        ):
            raise ValueError(
                f"target_modules must be a non-empty list of module names, found {target_modules!r}"
            )
        self.target_modules = tuple(target_modules)
        self.lr = check_float("lr", lr, 0.0, 1.0, low_open=True)
        self.epochs = check_int("epochs", epochs, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.max_length = check_int("max_length", max_length, 8)
        self.seed = check_int("seed", seed, 0)
        self.validation = check_choice("validation", validation, VALIDATION)
        self.validation_fraction = check_float(
            "validation_fraction", validation_fraction, 0.0, 1.0, low_open=True, high_open=True
        )
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
            raise ValueError(
                f"faithful_label_shift must be true or false, found {faithful_label_shift!r}"
            )
        self.faithful_label_shift = faithful_label_shift
        self.weight_decay = check_float("weight_decay", weight_decay, 0.0, math.inf, high_open=True)
        if not isinstance(bucket, bool):
            raise ValueError(f"bucket must be true or false, found {bucket!r}")
        self.bucket = bucket
        self.device = check_choice("device", device, DEVICES)
        #: Per-step training losses (mean per target token) of the last training, for
        #: diagnostics and tests.
        self.step_losses: list[float] = []
        # state kept across train() calls
        self._model_dir: Path | None = None
        self._tokenizer: Any = None
        self._peft: Any = None
        self._tail: TargetTail | None = None
        self._dropout: PcgDropout | None = None
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
            "loop": LOOP_VERSION,
            "r": self.r,
            "alpha": self.alpha,
            "dropout": self.dropout,
            "target_modules": list(self.target_modules),
            "lr": self.lr,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "max_length": self.max_length,
            "seed": self.seed,
            "validation": self.validation,
            "validation_fraction": self.validation_fraction,
            "max_examples": self.max_examples,
            "stages": list(self.stages),
            "faithful_label_shift": self.faithful_label_shift,
            "weight_decay": self.weight_decay,
            "bucket": self.bucket,
        }

    def train(
        self,
        ctx: RunContext,
        base_model: str,
        profile: ValueProfile,
        examples: Sequence[Example],
        out_dir: Path,
    ) -> dict[str, Any]:
        """Align ``base_model`` to ``profile`` on ``examples``; write the adapter and its
        manifest into ``out_dir`` and return the manifest."""
        out_dir = Path(out_dir)
        device = pick_device(self.device, ctx)
        train_ex, val_ex, mode = self.partition(profile, examples)
        train_pairs = self.pairs(profile, train_ex)
        val_pairs = self.pairs(profile, val_ex)
        if not train_pairs or not val_pairs:
            raise ValueError(
                f"profile {profile.name!r}: need at least one training and one validation "
                f"example with value labels, found {len(train_pairs)} and {len(val_pairs)}"
            )
        self._load(ctx, base_model, device)
        fit = self._fit(ctx, profile.name, train_pairs, val_pairs, device)
        all_pairs = train_pairs + val_pairs
        manifest = {
            "trainer": "hf:lora",
            "base_model": base_model,
            "profile": {"name": profile.name, "scores": list(profile.scores)},
            "data_hash": content_hash(
                [[p.stage, p.source_id, p.prompt, p.target] for p in all_pairs]
            ),
            "validation": mode,
            "examples": {
                "given": len(examples),
                "used": len(train_ex) + len(val_ex),
                "train": len(train_pairs),
                "validation": len(val_pairs),
                "would_say": sum(p.label == "would_say" for p in all_pairs),
                "validation_would_say": sum(p.label == "would_say" for p in val_pairs),
            },
            "hyperparameters": self.fingerprint(),
            "device": device,
            **fit,
        }
        return self._save(out_dir, manifest)

    def train_task(
        self,
        ctx: RunContext,
        base_model: str,
        examples: Sequence[TaskExample],
        out_dir: Path,
    ) -> dict[str, Any]:
        """A benign LoRA fine-tune on task examples (loss on ``target`` only), with the same
        LoRA settings; the best epoch is chosen on a held-out hash split of
        ``validation_fraction``, stratified by each example's ``source``."""
        out_dir = Path(out_dir)
        bad = [e.id for e in examples if not isinstance(e, TaskExample) or not e.target.strip()]
        if bad:
            raise ValueError(
                f"task examples need a non-empty target; {len(bad)} do not, first {bad[0]!r}"
            )
        used = self.select(examples)
        if len(used) < 2:
            raise ValueError(
                f"train_task needs at least 2 examples (one to train on, one to "
                f"hold out for validation), found {len(used)}"
            )
        train_ex, val_ex = self._hash_split(used, [e.source for e in used])
        train_pairs, val_pairs = formats.task_pairs(train_ex), formats.task_pairs(val_ex)
        device = pick_device(self.device, ctx)
        self._load(ctx, base_model, device)
        fit = self._fit(ctx, "task", train_pairs, val_pairs, device)
        all_pairs = train_pairs + val_pairs
        manifest = {
            "trainer": "hf:lora",
            "task": dict(sorted(Counter(e.source for e in used).items())),
            "base_model": base_model,
            "data_hash": content_hash([[p.source_id, p.prompt, p.target] for p in all_pairs]),
            "validation": "hash",
            "examples": {
                "given": len(examples),
                "used": len(used),
                "train": len(train_pairs),
                "validation": len(val_pairs),
            },
            "hyperparameters": self.fingerprint(),
            "device": device,
            **fit,
        }
        return self._save(out_dir, manifest)

    def close(self) -> None:
        self._peft = None
        self._tail = None
        self._dropout = None
        self._tokenizer = None
        self._init_state = None
        self._ids.clear()

    # ------------------------------------------------------------------ data
    def select(self, examples: Sequence[_E]) -> list[_E]:
        """The examples used: all, or ``max_examples`` of them chosen by a hash of their id."""
        if self.max_examples is None or len(examples) <= self.max_examples:
            return list(examples)
        return self._take(examples, self.max_examples)

    def _take(self, examples: Sequence[_E], n: int) -> list[_E]:
        ranked = sorted(examples, key=lambda e: (_rank(self.seed, "select", e.id), e.id))
        return ranked[:n]

    def partition(
        self, profile: ValueProfile, examples: Sequence[Example]
    ) -> tuple[list[Example], list[Example], str]:
        """(train, validation, mode): the examples that train and pick the best epoch under
        the ``validation`` setting, and the mode it resolved to (``split`` or ``hash``)."""
        mode = self.validation
        if mode == "auto":
            mode = "split" if any(e.split for e in examples) else "hash"
        if mode == "hash":
            train, val = self.split(self.select(examples), profile)
            return train, val, mode
        train = [e for e in examples if e.split == "train"]
        val = [e for e in examples if e.split == "valid"]
        if not train or not val:
            raise ValueError(
                f"validation = 'split' needs examples marked split 'train' and 'valid', found "
                f"{len(train)} and {len(val)} (give the dataset's split, e.g. value-table's "
                "split_dir, or set validation = 'hash')"
            )
        if self.max_examples is not None and len(train) + len(val) > self.max_examples:
            # each split keeps its share, and validation at least one example
            n_val = round(self.max_examples * len(val) / (len(train) + len(val)))
            n_val = min(len(val), self.max_examples - 1, max(1, n_val))
            train, val = self._take(train, self.max_examples - n_val), self._take(val, n_val)
        return train, val, mode

    def split(
        self, examples: Sequence[Example], profile: ValueProfile | None = None
    ) -> tuple[list[Example], list[Example]]:
        """(train, validation) by a hash of each example id: ``validation_fraction`` held out,
        stratified by ``profile``'s stage-1 label when a profile is given."""
        strata = [_stage1_label(profile, e) for e in examples] if profile is not None else None
        return self._hash_split(examples, strata)

    def _hash_split(
        self, examples: Sequence[_E], strata: Sequence[str] | None
    ) -> tuple[list[_E], list[_E]]:
        n = len(examples)
        n_val = min(n - 1, max(1, round(n * self.validation_fraction))) if n > 1 else 0
        groups: dict[str, list[int]] = {}
        for i in range(n):
            groups.setdefault(strata[i] if strata is not None else "", []).append(i)
        for idx in groups.values():
            idx.sort(key=lambda i: (_rank(self.seed, "split", examples[i].id), i))
        quota = _allocate(n_val, {k: len(v) for k, v in groups.items()})
        val_idx = {i for k, idx in groups.items() for i in idx[: quota[k]]}
        train = [e for i, e in enumerate(examples) if i not in val_idx]
        val = [e for i, e in enumerate(examples) if i in val_idx]
        return train, val

    def pairs(
        self, profile: ValueProfile, examples: Sequence[Example]
    ) -> list[formats.TrainingPair]:
        out: list[formats.TrainingPair] = []
        for stage in self.stages:
            if stage == "survey":
                out.extend(
                    formats.survey_pairs(
                        profile, examples, faithful_label_shift=self.faithful_label_shift
                    )
                )
            else:
                out.extend(formats.STAGES[stage](profile, examples))
        return out

    def batches(self, lengths: Sequence[int], generator: Any) -> list[list[int]]:
        """One epoch's batches as indices into the training data, drawn from ``generator``
        (length-bucketed when ``bucket`` is on)."""
        import torch

        n, bs = len(lengths), self.batch_size
        order = torch.randperm(n, generator=generator).tolist()
        if not self.bucket:
            return [order[i : i + bs] for i in range(0, n, bs)]
        out: list[list[int]] = []
        window = bs * BUCKET_WINDOW
        for w in range(0, n, window):
            # stable sort: equal lengths keep their shuffled order
            chunk = sorted(order[w : w + window], key=lambda j: lengths[j])
            out.extend(chunk[i : i + bs] for i in range(0, len(chunk), bs))
        perm = torch.randperm(len(out), generator=generator).tolist()
        return [out[k] for k in perm]

    def _tok(self, text: str, special: bool) -> list[int]:
        key = f"{int(special)}\x00{text}"
        ids = self._ids.get(key)
        if ids is None:
            ids = self._tokenizer(text, add_special_tokens=special)["input_ids"]
            self._ids[key] = ids
        return ids

    def _encode(self, pair: formats.TrainingPair) -> Encoded:
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

    # ------------------------------------------------------------------ training
    def _fit(
        self,
        ctx: RunContext,
        name: str,
        train_pairs: Sequence[formats.TrainingPair],
        val_pairs: Sequence[formats.TrainingPair],
        device: str,
    ) -> dict[str, Any]:
        """Train the LoRA from its seeded initial state; leave the best epoch's weights in the
        model and return the loss history."""
        import torch

        # A canonical order first, so that an adapter does not depend on the order in which
        # the examples came (the split itself is already order-free).
        train_data = [self._encode(p) for p in self._canonical(train_pairs)]
        val_data = [self._encode(p) for p in self._canonical(val_pairs)]
        if self.bucket:  # fewer pads; the mean per token does not depend on the batching
            val_data.sort(key=lambda d: len(d[0]))
        lengths = [len(ids) for ids, _ in train_data]
        # Length buckets group pairs of one kind (survey answers have 2 target tokens,
        # arguments dozens): a per-batch mean would give a survey token the weight of a dozen
        # argument tokens. Dividing every step by the mean target count per batch instead
        # keeps each token's weight what it is in unbucketed training, on average.
        n_steps = math.ceil(len(train_data) / self.batch_size)
        per_batch = sum(len(ids) - max(n, 1) for ids, n in train_data) / max(n_steps, 1)
        model = self._peft
        self._reset_lora()
        params = [p for p in model.parameters() if p.requires_grad]
        # fused: one kernel for all the small LoRA tensors instead of a loop of a dozen ops
        # per tensor (the same update up to float rounding)
        fused = torch.device(device).type in ("cpu", "cuda")
        opt = torch.optim.AdamW(
            params, lr=self.lr, weight_decay=self.weight_decay, fused=fused or None
        )
        history: list[dict[str, float]] = []
        best: tuple[float, int, dict[str, Any]] | None = None
        initial_val = self._eval_loss(val_data, device)
        self.step_losses = []
        pcg = self._dropout if self.bucket and torch.device(device).type == "cpu" else None
        if pcg is not None:
            pcg.reseed(self.seed)
        with torch.random.fork_rng(devices=[]), pcg if pcg is not None else nullcontext():
            torch.manual_seed(self.seed)  # else LoRA dropout draws from the global generator
            order_gen = torch.Generator().manual_seed(self.seed)
            for epoch in range(1, self.epochs + 1):
                model.train()
                sums, counts = [], []
                for idx in self.batches(lengths, order_gen):
                    loss_sum, n_tok = self._loss([train_data[j] for j in idx], device)
                    (loss_sum / (per_batch if self.bucket else n_tok)).backward()
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    sums.append(loss_sum.detach())  # no .item() per step: no device sync
                    counts.append(n_tok)
                step_sums = torch.stack(sums).double().cpu().tolist()
                self.step_losses.extend(s / c for s, c in zip(step_sums, counts, strict=True))
                train_loss = sum(step_sums) / sum(counts)
                val = self._eval_loss(val_data, device)
                history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val})
                ctx.log.debug(
                    "hf:lora %s epoch %d train %.4f val %.4f", name, epoch, train_loss, val
                )
                if best is None or val < best[0]:
                    best = (val, epoch, self._lora_state())
        assert best is not None
        self._load_lora(best[2])
        return {
            "initial_val_loss": initial_val,
            "epochs": history,
            "best_epoch": best[1],
            "best_val_loss": best[0],
        }

    def _canonical(self, pairs: Sequence[formats.TrainingPair]) -> list[formats.TrainingPair]:
        return sorted(pairs, key=lambda p: _rank(self.seed, "order", f"{p.stage}\x00{p.source_id}"))

    def _save(self, out_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        with quiet_hf():
            self._peft.save_pretrained(str(out_dir))
        manifest["adapter_sha256"] = _file_hash(out_dir / "adapter_model.safetensors")
        (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return manifest

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
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=list(self.target_modules),
            bias="none",
            task_type="CAUSAL_LM",
        )
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            # peft still calls a transformers method that 5.x deprecates; nothing to act on
            warnings.simplefilter("ignore", FutureWarning)
            torch.manual_seed(self.seed)  # LoRA A matrices are drawn at injection
            try:
                peft_model = get_peft_model(base, config)
            except ValueError as exc:
                raise ValueError(
                    f"target_modules {list(self.target_modules)} do not fit "
                    f"model {base_model!r}: {exc}"
                ) from None
        peft_model.to(device)
        self._model_dir, self._tokenizer, self._peft = model_dir, tokenizer, peft_model
        self._tail = TargetTail.build(peft_model)
        self._dropout = PcgDropout.build(peft_model)
        self._init_state = self._lora_state()

    def _lora_state(self) -> dict[str, Any]:
        return {n: p.detach().clone() for n, p in self._peft.named_parameters() if p.requires_grad}

    def _load_lora(self, state: dict[str, Any]) -> None:
        import torch

        with torch.no_grad():
            for n, p in self._peft.named_parameters():
                if n in state:
                    p.copy_(state[n])

    def _reset_lora(self) -> None:
        assert self._init_state is not None
        self._load_lora(self._init_state)

    def _collate(self, batch: Sequence[Encoded], device: str) -> tuple[Any, Any, int, int]:
        """Right-padded (input ids, labels), the first position whose logits the loss needs,
        and the number of target tokens."""
        import torch

        width = max(len(ids) for ids, _ in batch)
        pad = self._tokenizer.pad_token_id
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        n_tok = 0
        for row, (ids, n_prompt) in enumerate(batch):
            t = torch.tensor(ids)
            input_ids[row, : len(ids)] = t
            labels[row, n_prompt : len(ids)] = t[n_prompt:]
            n_tok += len(ids) - max(n_prompt, 1)  # position 0 is never predicted
        # logits at position p predict token p + 1: the earliest target token needs p = start
        start = max(0, min(n_prompt for _, n_prompt in batch) - 1)
        return input_ids.to(device), labels.to(device), start, n_tok

    def _loss(self, batch: Sequence[Encoded], device: str) -> tuple[Any, int]:
        """Summed next-token loss over target tokens, and how many target tokens there were."""
        import torch.nn.functional as F

        input_ids, labels, start, n_tok = self._collate(batch, device)
        width = input_ids.shape[1]
        tail = self._tail
        if tail is not None:
            tail.start = start
        # No attention mask: rows are right-padded and attention is causal, so a real token
        # never sees a pad and a pad's outputs reach no loss; without a mask SDPA takes its
        # fused causal kernel, grouped-query heads unexpanded. logits_to_keep=k keeps the
        # last k positions: the prompt's logits are never used, nor (with the tail) the last
        # layer's work on the prompt.
        with tail if tail is not None else nullcontext():
            logits = self._peft(
                input_ids=input_ids, use_cache=False, logits_to_keep=width - start
            ).logits
        shifted = labels[:, start + 1 :]
        loss = F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
            shifted.reshape(-1),
            ignore_index=IGNORE,
            reduction="sum",
        )
        return loss, n_tok

    def _eval_loss(self, data: Sequence[Encoded], device: str) -> float:
        """Mean loss per target token over ``data`` (independent of how it is batched)."""
        import torch

        self._peft.eval()
        sums, tokens = [], 0
        with torch.inference_mode():
            for i in range(0, len(data), self.batch_size):
                loss_sum, n_tok = self._loss(data[i : i + self.batch_size], device)
                sums.append(loss_sum)
                tokens += n_tok
        return float(torch.stack(sums).double().sum()) / max(tokens, 1)


def _stage1_label(profile: ValueProfile, example: Example) -> str:
    return (
        ("would_say" if formats.would_say(profile, example) else "would_not_say")
        if example.values
        else "unlabelled"
    )


def _allocate(n_val: int, sizes: dict[str, int]) -> dict[str, int]:
    """How many of each stratum to validate on: ``n_val`` in all, shared in proportion to the
    strata sizes, but every stratum with two or more members gets at least one (and keeps
    one for training); singletons are held out only when nothing else is left."""
    n = sum(sizes.values())
    quota = dict.fromkeys(sizes, 0)
    cap = {k: (s - 1 if s >= 2 else 0) for k, s in sizes.items()}
    eligible = sorted(k for k in sizes if cap[k] > 0)
    # lifting the total to the number of eligible strata is what puts every class in
    # validation on a small sample; it is capped so that training keeps one example
    n_val = min(max(n_val, len(eligible)), n - 1) if n > 1 else 0
    for k in eligible[:n_val]:
        quota[k] = 1
    left = n_val - sum(quota.values())

    while left > 0:
        open_ = [k for k in sizes if quota[k] < cap[k]]
        if not open_:  # only singletons left: take them by name
            open_ = [k for k in sorted(sizes) if quota[k] < sizes[k]]
            quota[open_[0]] += 1
        else:
            # max keeps the first of equals: ties go to the alphabetically first stratum
            k = max(sorted(open_), key=lambda k: n_val * sizes[k] / n - quota[k])
            quota[k] += 1
        left -= 1
    return quota


def _rank(seed: int, purpose: str, key: str) -> str:
    return hashlib.sha256(f"{seed}\x00{purpose}\x00{key}".encode()).hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
