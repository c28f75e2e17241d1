"""Benchmark: ``hf:lora`` training several profiles vs a plain peft + ``transformers.Trainer``
loop doing the same work.

One process run on the CPU with ``builtin:tiny-llama``. Both sides train the same LoRA
config (r 8, alpha 32, dropout 0.1 on q/v) on the same (prompt, target) pairs of both VIM
stages, for the same epochs and batch size, at a constant learning rate, evaluate the
validation pairs after every epoch, keep the best epoch and save the adapter:

* ``hf:lora``: one :class:`~vhframe_hf.trainer.LoraTrainer` instance trains every profile in
  turn, keeping the model and the tokenised texts, with length-bucketed batches;
* the baseline as a careful user writes it: per profile, load the model and tokenizer, wrap
  with peft, tokenise, ``DataCollatorForSeq2Seq`` for padding, ``Trainer`` with
  ``eval_strategy="epoch"``, ``load_best_model_at_end`` on ``eval_loss``, and save; no
  bucketing.

Examples/s counts training pairs × epochs over the whole wall time (loading, tokenising,
training, evaluating, saving); the process's CPU time is reported beside it because it
moves less when other jobs share the machine. Peak memory is the process's peak RSS during
each variant (``VmHWM``, reset before each), plus the RSS it started from. Variants
alternate, best of ``--repeat`` is reported. ``--threads`` sets torch's thread count for all
variants alike.

    python benches/bench_train.py [--profiles 4] [--examples 160] [--epochs 2]
                                  [--threads N] [--write]

``--write`` replaces the ``## Training`` section of benches/RESULTS.md.
"""

from __future__ import annotations

import os

# before torch loads OpenMP: idle threads sleep instead of spinning on a shared CPU
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import logging
import platform
import random
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from vhframe_hf import formats
from vhframe_hf.corpus import CLAIMS, PREMISES, TOPICS
from vhframe_hf.models import resolve_model
from vhframe_hf.trainer import LoraTrainer

from vhframe.builtins.profiles import extreme_profiles
from vhframe.context import RunContext
from vhframe.records import VALUES, Example, ValueProfile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "RESULTS.md"
SECTION = "## Training"
DATE = "2026-11-29"
SHARED = Path(os.environ.get("VHFRAME_SHARED_DATA", ROOT.parent / "shared" / "data"))
LR = 2e-4  # any constant rate does the same work; this one shows the losses moving


def load_examples(n: int, seed: int = 0) -> tuple[list[Example], str]:
    """``n`` arguments of the study's training split when ../shared/data has it, else
    synthetic ones from the tiny model's corpus."""
    table = SHARED / "value-alignment" / "valueEval_10.csv"
    if table.is_file():
        from vhframe.builtins.touche import ValueTable

        ctx = RunContext(seed=0, run_dir=Path("."), cache_dir=Path("."), config_dir=Path("."))
        rows = [
            e
            for e in ValueTable(str(table), split_dir=str(table.parent / "split")).load(ctx)
            if e.split == "train"
        ]
        rng = random.Random(seed)
        return rng.sample(rows, n), f"{n} arguments sampled from the study's train split"
    rng = random.Random(seed)
    out = []
    for i in range(n):
        claim = rng.choice(CLAIMS).format(t=rng.choice(TOPICS))
        out.append(
            Example(
                id=f"S{i:05d}",
                conclusion=claim.capitalize(),
                stance=rng.choice(("in favor of", "against")),
                premise=" ".join(rng.sample(PREMISES, rng.randint(1, 4))) + ".",
                values=tuple(rng.sample(VALUES, rng.randint(1, 3))),
            )
        )
    return out, f"{n} synthetic arguments (../shared/data absent)"


# ------------------------------------------------------------------------------ memory
def _status(field: str) -> int:
    m = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(m.group(1)) * 1024 if m else 0


def reset_peak() -> int:
    """Reset the peak-RSS mark (Linux ``clear_refs`` 5); return the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status("VmRSS")


# ------------------------------------------------------------------------------ variants
def run_ours(
    ctx: RunContext,
    model_dir: Path,
    profiles: Sequence[ValueProfile],
    examples: Sequence[Example],
    epochs: int,
    batch: int,
    out: Path,
    bucket: bool = True,
) -> list[dict[str, Any]]:
    trainer = LoraTrainer(
        lr=LR, epochs=epochs, batch_size=batch, bucket=bucket, validation="hash", device="cpu"
    )
    manifests = []
    for p in profiles:
        d = out / f"ours-{p.name}"
        d.mkdir(parents=True, exist_ok=True)
        manifests.append({**trainer.train(ctx, str(model_dir), p, examples, d), "adapter": str(d)})
    trainer.close()
    return manifests


def profile_pairs(
    profile: ValueProfile, examples: Sequence[Example]
) -> tuple[list[formats.TrainingPair], list[formats.TrainingPair]]:
    """The pairs hf:lora trains and validates on for ``profile`` (same split, same texts)."""
    t = LoraTrainer(validation="hash")
    train, val, _ = t.partition(profile, examples)
    return t.pairs(profile, train), t.pairs(profile, val)


def encode(tok: Any, pair: formats.TrainingPair, max_length: int = 128) -> dict[str, list[int]]:
    """The ids hf:lora trains on, made with the tokenizer: the prompt cut from the left so
    that the target keeps at least half of ``max_length``, then prompt + target + EOS."""
    prompt = tok(pair.prompt)["input_ids"]
    target = tok(pair.target, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    room = max_length - min(len(target), max_length // 2)
    if len(prompt) > room:
        prompt = prompt[:1] + prompt[len(prompt) - room + 1 :]
    ids = (prompt + target)[:max_length]
    return {"input_ids": ids, "labels": [-100] * len(prompt) + ids[len(prompt) :]}


def run_baseline(
    model_dir: Path,
    profiles: Sequence[ValueProfile],
    examples: Sequence[Example],
    epochs: int,
    batch: int,
    out: Path,
    max_length: int = 128,
) -> list[dict[str, Any]]:
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        PrinterCallback,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    results = []
    for p in profiles:
        train_pairs, val_pairs = profile_pairs(p, examples)
        set_seed(42)  # LoRA init
        tok = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        model = get_peft_model(
            model,
            LoraConfig(
                r=8,
                lora_alpha=32,
                lora_dropout=0.1,
                target_modules=["q_proj", "v_proj"],
                bias="none",
                task_type="CAUSAL_LM",
            ),
        )

        args = TrainingArguments(
            output_dir=str(out / f"hf-{p.name}"),
            num_train_epochs=epochs,
            per_device_train_batch_size=batch,
            per_device_eval_batch_size=batch,
            learning_rate=LR,
            lr_scheduler_type="constant",
            warmup_steps=0,
            weight_decay=0.0,
            max_grad_norm=0.0,  # hf:lora clips nothing
            eval_strategy="epoch",
            save_strategy="epoch",
            save_total_limit=1,
            load_best_model_at_end=True,
            metric_for_best_model="eval_loss",
            greater_is_better=False,
            logging_strategy="epoch",
            report_to="none",
            seed=42,
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
            remove_unused_columns=False,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=[encode(tok, x, max_length) for x in train_pairs],
            eval_dataset=[encode(tok, x, max_length) for x in val_pairs],
            data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100),
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        model.save_pretrained(str(out / f"hf-{p.name}" / "adapter"))
        results.append({"adapter": str(out / f"hf-{p.name}" / "adapter")})
    return results


def val_loss(
    model_dir: Path, adapter: str, profile: ValueProfile, examples: Sequence[Example]
) -> float:
    """Mean loss per target token of an adapter on the profile's validation pairs: one metric
    for both sides (``Trainer``'s ``eval_loss`` averages batch means instead)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter).eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for pair in profile_pairs(profile, examples)[1]:
            f = encode(tok, pair)
            k = sum(x != -100 for x in f["labels"][1:])
            out = model(
                input_ids=torch.tensor([f["input_ids"]]), labels=torch.tensor([f["labels"]])
            )
            total += float(out.loss) * k
            n += k
    return total / n


def token_shares(
    ctx: RunContext,
    model_dir: Path,
    profiles: Sequence[ValueProfile],
    examples: Sequence[Example],
    epochs: int,
    batch: int,
) -> dict[str, float]:
    """Where hf:lora's savings come from, counted over its own batches (outside the timings):
    the prompt's share of the training tokens, the padding's share of the tokens fed to the
    model with and without buckets, and the share of the last layer's positions computed in
    full (from each batch's first target position on)."""
    counts = dict.fromkeys(("tokens", "prompt", "fed", "fed_nb", "tail"), 0)
    for bucket in (True, False):
        trainer = LoraTrainer(
            lr=LR, epochs=epochs, batch_size=batch, bucket=bucket, validation="hash", device="cpu"
        )
        trainer._load(ctx, str(model_dir), "cpu")
        for p in profiles:
            train, _, _ = trainer.partition(p, examples)
            data = [trainer._encode(x) for x in trainer._canonical(trainer.pairs(p, train))]
            gen = torch.Generator().manual_seed(trainer.seed)
            for _ in range(epochs):
                for idx in trainer.batches([len(ids) for ids, _ in data], gen):
                    rows = [data[j] for j in idx]
                    # the trainer's own batch: its width, and where the last layer starts
                    input_ids, _, start, _ = trainer._collate(rows, "cpu")
                    width = input_ids.shape[1]
                    if bucket:
                        counts["tokens"] += sum(len(ids) for ids, _ in rows)
                        counts["prompt"] += sum(n for _, n in rows)
                        counts["fed"] += width * len(rows)
                        counts["tail"] += (width - start) * len(rows)
                    else:
                        counts["fed_nb"] += width * len(rows)
        trainer.close()
    return {
        "prompt": counts["prompt"] / counts["tokens"],
        "pad": 1 - counts["tokens"] / counts["fed"],
        "pad_nb": 1 - counts["tokens"] / counts["fed_nb"],
        "tail": counts["tail"] / counts["fed"],
    }


Timing = tuple[float, int, int, list[dict[str, Any]], float]


def timed(fn: Callable[[], list[dict[str, Any]]]) -> Timing:
    """(wall seconds, RSS at start, peak RSS, results, CPU seconds of the process)."""
    start_rss = reset_peak()
    c0, t0 = time.process_time(), time.perf_counter()
    res = fn()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, start_rss, _status("VmHWM"), res, cpu


# ------------------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profiles", type=int, default=4)
    ap.add_argument("--examples", type=int, default=160)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where builtin:tiny-llama is built (default: a temp folder)",
    )
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if a.threads:
        torch.set_num_threads(a.threads)

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cache = a.cache_dir or tmp / "cache"
        model_dir = resolve_model("builtin:tiny-llama", cache)
        ctx = RunContext(seed=42, run_dir=tmp / "run", cache_dir=cache, config_dir=tmp)
        examples, source = load_examples(a.examples)
        profiles = extreme_profiles()[: a.profiles]
        counts = [profile_pairs(p, examples) for p in profiles]
        n_train = sum(len(t) for t, _ in counts)
        n_val = sum(len(v) for _, v in counts)
        work = n_train * a.epochs

        # warm-up: imports, allocator, kernels (not timed)
        run_ours(ctx, model_dir, profiles[:1], examples[:16], 1, a.batch_size, tmp / "w")
        run_baseline(model_dir, profiles[:1], examples[:16], 1, a.batch_size, tmp / "w")

        variants: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
            "ours": lambda o: run_ours(
                ctx, model_dir, profiles, examples, a.epochs, a.batch_size, o
            ),
            "hf": lambda o: run_baseline(model_dir, profiles, examples, a.epochs, a.batch_size, o),
            "ours_nobucket": lambda o: run_ours(
                ctx, model_dir, profiles, examples, a.epochs, a.batch_size, o, bucket=False
            ),
        }
        runs: dict[str, list[Timing]] = {k: [] for k in variants}
        for r in range(a.repeat):
            for k, fn in variants.items():
                o = tmp / f"r{r}-{k}"
                runs[k].append(timed(lambda fn=fn, o=o: fn(o)))
            print(
                f"repeat {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f} s" for k, v in runs.items()),
                flush=True,
            )
        best = {k: min(v, key=lambda x: x[0]) for k, v in runs.items()}
        # one metric for all (mean loss per target token on the validation pairs), computed
        # from the saved adapters outside the timings
        val = {
            k: [
                val_loss(model_dir, m["adapter"], p, examples)
                for m, p in zip(best[k][3], profiles, strict=True)
            ]
            for k in best
        }
        recorded = [m["best_val_loss"] for m in best["ours"][3]]
        shares = token_shares(ctx, model_dir, profiles, examples, a.epochs, a.batch_size)

    labels = {
        "ours": "hf:lora, one instance, length buckets (default)",
        "ours_nobucket": "hf:lora, one instance, `bucket = false`",
        "hf": "peft + `transformers.Trainer`, reload per profile",
    }
    vmean = {k: sum(v) / len(v) for k, v in val.items()}
    rows = []
    for k in ("ours", "ours_nobucket", "hf"):
        s, rss0, peak, _, cpu = best[k]
        rows.append(
            f"| {labels[k]} | {s:.1f} s | {work / s:.1f} | {cpu:.1f} s "
            f"| {peak / 2**20:.0f} MB | {rss0 / 2**20:.0f} MB "
            f"| {vmean[k]:.4f} |"
        )
    ratio = best["hf"][0] / best["ours"][0]
    ratio_nb = best["hf"][0] / best["ours_nobucket"][0]
    cpu_best = {k: min(x[4] for x in v) for k, v in runs.items()}
    cpu_ratio = cpu_best["hf"] / cpu_best["ours"]
    cpu_ratio_nb = cpu_best["hf"] / cpu_best["ours_nobucket"]
    all_runs = "; ".join(
        f"{k} "
        + ", ".join(f"{x[0]:.1f}" for x in v)
        + " s wall, "
        + ", ".join(f"{x[4]:.1f}" for x in v)
        + " s CPU"
        for k, v in runs.items()
    )
    drift = max(abs(x - y) for x, y in zip(recorded, val["ours"], strict=True))
    cmd = (
        f"python benches/bench_train.py --profiles {a.profiles} --examples {a.examples} "
        f"--epochs {a.epochs} --batch-size {a.batch_size} --repeat {a.repeat}"
        + (f" --threads {a.threads}" if a.threads else "")
    )
    text = f"""{SECTION}

Date {DATE}; 2-core x86_64 VM, load average {os.getloadavg()[0]:.1f} when written; Python
{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads), CPU;
`{cmd} --write`, one process.

Task (issue 4): value-align `builtin:tiny-llama` to {len(profiles)} profiles
({", ".join(p.name for p in profiles)}), {source}: both VIM stages, {n_train:,} training
pairs and {n_val:,} validation pairs in all, {a.epochs} epochs, batch {a.batch_size}, LoRA r 8 /
alpha 32 / dropout 0.1 on q/v, constant lr {LR:g}, validation after every epoch, best epoch
kept, adapter saved. Best of {a.repeat} alternating runs (all runs: {all_runs});
examples/s = training pairs × epochs / wall time of the whole job (loading, tokenising,
training, evaluating, saving). Validation loss: mean per target token of the saved adapters,
averaged over the profiles, the same function for all (hf:lora's own record differs from it
by at most {drift:.1e}).

| implementation | wall time | examples/s | CPU time | peak RSS | RSS at start | val loss |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

**Ratio (wall time, best run each): {ratio:.2f}× the `Trainer` loop with length buckets
(target ≥ 1.5×), {ratio_nb:.2f}× without.** By CPU time of the process (least CPU time of each
variant; less sensitive to the other jobs on the machine): {cpu_ratio:.2f}× with buckets,
{cpu_ratio_nb:.2f}× without.

Where the lead comes from: the pairs are {shares["prompt"]:.0%} prompt tokens (a survey
question of about 100 tokens answered with 2), so hf:lora computes the logits, and the last
decoder layer's work past its keys and values, only from each batch's first target position
on ({shares["tail"]:.0%} of the last layer's positions here; exact up to float rounding); length
buckets remove most of the padding ({shares["pad_nb"]:.0%} of the tokens the unbucketed loop
feeds the model, {shares["pad"]:.0%} with buckets). No attention mask is built (rows are
right-padded and attention is causal), so SDPA runs its fused causal kernel; AdamW runs fused;
with buckets on the CPU the LoRA dropout masks are drawn from PCG64 instead of torch's
element-by-element CPU draws (the same dropout, other masks; `bucket = false` keeps torch's
draws, but not the `Trainer` loop's masks: its data loader draws from torch's generator
before the first batch, and it visits the pairs in another order). The `Trainer` loop also
reloads the base model per profile, which costs it little at 1 M parameters (more with a 7B
model, not measured here).

Validation loss: with buckets a batch holds pairs of one kind (survey answers or arguments).
Each step's loss is divided by the mean target count per batch, so that every target token
keeps its unbucketed weight, but Adam sees the two kinds in separate steps: after
{a.epochs} epochs the bucketed adapters' validation loss is {vmean["ours"]:.4f} against
{vmean["ours_nobucket"]:.4f} without buckets and {vmean["hf"]:.4f} for the `Trainer` loop.
Set `bucket = false` for the unbucketed behaviour; it is in the trainer's fingerprint.

Peak memory: about {max(b[2] for b in best.values()) / 2**30:.1f} GB for every variant, almost
all of it torch and transformers themselves; at this model size the variants' own memory does
not show.
"""
    print(text)
    if a.write:
        write_section(text)


def write_section(text: str) -> None:
    body = RESULTS.read_text()
    start = body.find(SECTION + "\n")
    if start >= 0:
        nxt = body.find("\n## ", start + len(SECTION))
        body = body[:start] + text.rstrip("\n") + "\n" + (body[nxt:] if nxt >= 0 else "")
    else:
        body = body.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    RESULTS.write_text(body)


if __name__ == "__main__":
    main()
