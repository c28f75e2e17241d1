"""Benchmark: vhframe's ``hf:batched`` engine vs the ``model.generate`` loops users would write.

One process run on the CPU. Builds a small Llama-architecture model locally (a larger
:class:`vhframe_hf.models.TinySpec`, a few million parameters, random weights so that every
row decodes the full ``max_new_tokens`` and all methods do the same work) into a temp folder,
then times greedy decoding of the same prompts with the same ``max_new_tokens``:

1. ``hf:batched`` (length-sorted buckets, own KV-cache loop) vs a per-prompt
   ``model.generate`` loop and vs a batched ``model.generate`` loop over the prompts in their
   given order (left padding, no length bucketing), same batch size;
2. 14 LoRA adapters × 64 prompts: ``hf:batched`` with mixed-LoRA batches vs loading each
   adapter in turn with peft and running the batched ``model.generate`` loop for it;
3. RealToxicityPrompts-style sampling, 10 samples per prompt at the study's decoding
   (temperature 0.1, top-p 0.75, 64 new tokens): ``hf:batched`` with one shared prompt pass
   per prompt vs prefilling every sample row, and vs a per-sample ``model.generate`` loop.

Tokens/s counts the new tokens each method produced; greedy texts are compared as a check.

    python benches/bench_generate.py [--quick] [--write]

``--write`` replaces the ``## Generation`` section of benches/RESULTS.md (other sections are
left as they are).
"""

from __future__ import annotations

import os

# before torch loads OpenMP: idle threads sleep instead of spinning on a shared CPU
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import math
import platform
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging
from vhframe_hf.corpus import corpus_lines
from vhframe_hf.generator import BatchedGenerator
from vhframe_hf.models import TinySpec, build_tiny_llama

from vhframe.context import RunContext
from vhframe.records import Decoding, GenerationRequest, Item, Subject

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "RESULTS.md"
SECTION = "## Generation"
DATE = "2026-11-29"
NOTES = """
Notes. The model's weights are random (the spec's pretraining is off): an untrained model
almost never emits end-of-sequence, so every row decodes all max_new_tokens and every method
does the same work; the texts are compared as a check. The VM is shared with other jobs, whose
load comes and goes: the first table times each method once after a warm-up, the other two
take each method's best of two (mixed-LoRA) or three (samples) runs taken in turns, and ratios
still move by tens of percent between runs. New tokens are counted as decoded (the engine's
own count, `generate`'s ids); earlier versions of this file re-tokenised the engine's texts,
which for random-weight output overcounts and flattered the engine's rates.

Mixed-LoRA. Each engine run starts from a fresh generator, so loading the base model and the
adapters counts, as it does for the baseline that loads them in turn. The batched LoRA path
(`vhframe_hf/lora_batched.py`) concatenates the batch's adapters' A and B matrices once per
batch and applies every row's delta with two dense products per LoRA layer, where peft's
per-row `adapter_names` loop over the batch's adapters in every layer at every step; the
"without adapters" row runs the mixed runs' very batches on the bare base model and bounds
what any LoRA kernel can reach. Against the in-turn baseline that bound is the engine's own
lead over batched `generate` (first table) plus the loading the baseline repeats, and loading a
4.9 M-parameter model takes milliseconds: the ≥ 3x target assumes loading a multi-gigabyte
base model once per subject, a cost this machine's model does not have, so no LoRA kernel can
reach it here. Not measured on a GPU (none available for this run).

Samples. Sharing saves prompt passes only: with 64 new tokens per sample and short prompts
the prompt passes are a small part of a run on this CPU, so whole runs gain little; the saving
grows with prompt length and with the number of samples per prompt.
"""

SPEC = TinySpec(
    vocab_size=4096,
    hidden_size=256,
    intermediate_size=688,
    num_hidden_layers=6,
    num_attention_heads=8,
    num_key_value_heads=4,
    max_position_embeddings=1024,
    corpus_lines=3000,
    pretrain_steps=0,
)


def make_prompts(n: int, seed: int = 0) -> list[str]:
    """Prompts of widely varying length (1 to 4 corpus lines), like a benchmark mix."""
    rng = random.Random(seed)
    lines = corpus_lines(2000, seed + 1)
    return [
        "QUESTION: " + " ".join(rng.sample(lines, rng.choice([1, 1, 1, 2, 2, 3, 4]))) + " ANSWER:"
        for _ in range(n)
    ]


def requests(
    prompts: Sequence[str],
    model: str,
    max_new: int,
    adapter: str | None = None,
    tag: str = "s",
    samples: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
) -> list[GenerationRequest]:
    """Requests in the pipeline's order: item, then sample (each sample its own seed)."""
    subject = Subject(name=tag, role="base", base_model=model, adapter=adapter)
    dec = Decoding(temperature=temperature, top_p=top_p, max_new_tokens=max_new, samples=samples)
    return [
        GenerationRequest(
            subject=subject,
            item=Item(benchmark="bench", id=str(i), category="c", prompt=p),
            prompt=p,
            decoding=dec,
            sample=s,
            seed=i * samples + s,
        )
        for i, p in enumerate(prompts)
        for s in range(samples)
    ]


def run_engine(
    g: BatchedGenerator, ctx: RunContext, reqs: Sequence[GenerationRequest]
) -> tuple[list[str], int]:
    """Through ``plan`` and ``generate``, as the pipeline drives it: texts in request order
    and the number of new tokens decoded."""
    texts: dict[int, str] = {}
    before = g.new_tokens
    for batch in g.plan(reqs):
        for r, t in zip(batch, g.generate(ctx, batch), strict=True):
            texts[id(r)] = t
    return [texts[id(r)] for r in reqs], g.new_tokens - before


def hf_per_prompt(model: Any, tok: Any, prompts: Sequence[str], max_new: int) -> list[list[int]]:
    out = []
    for p in prompts:
        enc = tok(p, return_tensors="pt")
        ids = model.generate(**enc, do_sample=False, max_new_tokens=max_new)
        out.append(_strip(ids[0, enc.input_ids.shape[1] :].tolist(), tok))
    return out


def hf_batched(
    model: Any, tok: Any, prompts: Sequence[str], max_new: int, batch: int
) -> list[list[int]]:
    """Batches in the given order, left padded: what a user writes without bucketing."""
    out = []
    for s in range(0, len(prompts), batch):
        enc = tok(
            list(prompts[s : s + batch]), return_tensors="pt", padding=True, padding_side="left"
        )
        ids = model.generate(**enc, do_sample=False, max_new_tokens=max_new)
        out.extend(_strip(row.tolist(), tok) for row in ids[:, enc.input_ids.shape[1] :])
    return out


def hf_sampled(model: Any, tok: Any, reqs: Sequence[GenerationRequest]) -> list[list[int]]:
    """A per-sample ``generate`` loop, seeding torch per sample: what a user writes for
    reproducible samples (batching would tie a sample to its batch's random stream)."""
    out = []
    for r in reqs:
        enc = tok(r.prompt, return_tensors="pt")
        torch.manual_seed(r.seed)
        ids = model.generate(
            **enc,
            do_sample=True,
            temperature=r.decoding.temperature,
            top_p=r.decoding.top_p,
            top_k=0,
            max_new_tokens=r.decoding.max_new_tokens,
        )
        out.append(_strip(ids[0, enc.input_ids.shape[1] :].tolist(), tok))
    return out


def _strip(ids: list[int], tok: Any) -> list[int]:
    """New tokens up to (not including) the first end-of-sequence or padding token."""
    for i, t in enumerate(ids):
        if t in (tok.eos_token_id, tok.pad_token_id):
            return ids[:i]
    return ids


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def best_of(
    fns: Sequence[Callable[[], Any]], reps: int = 3, clock: Callable[[], float] = time.perf_counter
) -> list[tuple[float, Any]]:
    """Each function's fastest of ``reps`` runs, taken in turns; with its result."""
    best: list[tuple[float, Any]] = [(math.inf, None)] * len(fns)
    for _ in range(reps):
        for i, fn in enumerate(fns):
            t0 = clock()
            result = fn()
            t = clock() - t0
            if t < best[i][0]:
                best[i] = (t, result)
    return best


def build_adapters(base: Path, root: Path, n: int) -> list[str]:
    """``n`` LoRA adapters (r 8 on q/v, the study's shape) with random non-zero B matrices."""
    from peft import LoraConfig, get_peft_model

    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj"])
    )
    paths = []
    for i in range(n):
        torch.manual_seed(100 + i)
        with torch.no_grad():
            for name, p in peft_model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0.0, 0.05)
        out = root / f"adapter-{i:02d}"
        peft_model.save_pretrained(str(out))
        paths.append(str(out))
    return paths


def adapters_in_turn(
    base: Path,
    tok: Any,
    adapters: Sequence[str],
    prompts: Sequence[str],
    max_new: int,
    batch: int,
    load_times: list[float] | None = None,
) -> list[list[int]]:
    """Per subject: load the base model, load its adapter with peft, run the batched loop.
    The seconds spent loading are appended to ``load_times``."""
    from peft import PeftModel

    out = []
    for path in adapters:
        t0 = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(base).eval()
        model = PeftModel.from_pretrained(model, path).eval()
        if load_times is not None:
            load_times.append(time.perf_counter() - t0)
        with torch.inference_mode():
            out.extend(hf_batched(model, tok, prompts, max_new, batch))
    return out


PARTS = ("engine", "lora", "samples")


def same(texts: Sequence[str], ids: Sequence[list[int]], tok: Any) -> int:
    return sum(
        t == tok.decode(i, skip_special_tokens=True) for t, i in zip(texts, ids, strict=True)
    )


def bench_engine(
    res: dict[str, Any], base: Path, model: Any, tok: Any, ctx: RunContext, quick: bool
) -> None:
    n_prompts, max_new, batch = (16, 32, 8) if quick else (64, 64, 16)
    prompts = make_prompts(n_prompts)
    lens = [len(tok(p)["input_ids"]) for p in prompts]
    engine = BatchedGenerator(model=str(base), batch_size=batch, device="cpu")
    reqs = requests(prompts, str(base), max_new)
    with torch.inference_mode():  # warm up every path once (allocator, lazy imports)
        run_engine(engine, ctx, reqs[:2])
        hf_batched(model, tok, prompts[:2], 2, batch)
        t_engine, (texts, n_engine) = timed(lambda: run_engine(engine, ctx, reqs))
        t_loop, loop_ids = timed(lambda: hf_per_prompt(model, tok, prompts, max_new))
        t_plain, plain_ids = timed(lambda: hf_batched(model, tok, prompts, max_new, batch))
    tps = {
        "engine": n_engine / t_engine,
        "loop": sum(map(len, loop_ids)) / t_loop,
        "plain": sum(map(len, plain_ids)) / t_plain,
    }
    res["engine"] = {
        "n": n_prompts,
        "lens": (min(lens), max(lens)),
        "max_new": max_new,
        "batch": batch,
        "tps": tps,
        "same_loop": same(texts, loop_ids, tok),
        "same_plain": same(texts, plain_ids, tok),
    }
    print(
        f"{n_prompts} prompts of {min(lens)}-{max(lens)} tokens, max_new_tokens {max_new}, "
        f"batch {batch}:"
    )
    print(f"hf:batched          {t_engine:7.2f} s  {tps['engine']:8.1f} tok/s")
    print(
        f"per-prompt generate {t_loop:7.2f} s  {tps['loop']:8.1f} tok/s  "
        f"(same text {res['engine']['same_loop']}/{n_prompts})"
    )
    print(
        f"batched generate    {t_plain:7.2f} s  {tps['plain']:8.1f} tok/s  "
        f"(same text {res['engine']['same_plain']}/{n_prompts})"
    )
    print(
        f"ratios: vs per-prompt {tps['engine'] / tps['loop']:.2f}x (target 5), vs batched "
        f"{tps['engine'] / tps['plain']:.2f}x (target 1.3)"
    )


def bench_lora(
    res: dict[str, Any], base: Path, tok: Any, ctx: RunContext, tmp: Path, quick: bool
) -> None:
    n_adapters, n_prompts, max_new, batch = (4, 16, 8, 8) if quick else (14, 64, 16, 16)
    adapters = build_adapters(base, tmp / "adapters", n_adapters)
    prompts = make_prompts(n_prompts, seed=1)
    reqs = [
        r
        for i, a in enumerate(adapters)
        for r in requests(prompts, str(base), max_new, adapter=a, tag=f"a{i}")
    ]
    settings: dict[str, dict[str, Any]] = {
        "mixed": {"max_adapters": n_adapters},
        "peft_rows": {"max_adapters": n_adapters, "batched_lora": False},
        "single": {"mixed_adapters": False, "max_adapters": 1},
    }

    def engine_run(**kw: Any) -> tuple[list[str], int]:
        # a fresh generator each time: loading the base model and the adapters is part of
        # the cost, as it is for the baseline that loads them in turn
        g = BatchedGenerator(model=str(base), batch_size=batch, device="cpu", **kw)
        return run_engine(g, ctx, reqs)

    # the bound: the mixed runs' very batches (same padding) without adapters, on a model
    # that never loads one (prompt sharing off: without adapters, equal prompts would share)
    batches = BatchedGenerator(batch_size=batch, max_adapters=n_adapters).plan(reqs)
    no_lora = [
        [dataclasses.replace(r, subject=dataclasses.replace(r.subject, adapter=None)) for r in b]
        for b in batches
    ]

    def bare_run() -> tuple[list[str], int]:
        g = BatchedGenerator(model=str(base), batch_size=batch, device="cpu", share_prompts=False)
        return [text for b in no_lora for text in g.generate(ctx, b)], g.new_tokens

    def turn_run() -> tuple[list[list[int]], float]:
        loads: list[float] = []
        ids = adapters_in_turn(base, tok, adapters, prompts, max_new, batch, loads)
        return ids, sum(loads)

    runs: dict[str, Callable[[], Any]] = {
        k: (lambda kw=kw: engine_run(**kw)) for k, kw in settings.items()
    }
    runs["base"] = bare_run
    runs["turn"] = turn_run
    # two rounds taken in turns, each method's best kept: other jobs on the VM come and go
    best = dict(zip(runs, best_of(list(runs.values()), reps=2), strict=True))
    t = {k: v[0] for k, v in best.items()}
    texts = {k: best[k][1][0] for k in (*settings, "base")}
    turn_ids, load = best["turn"][1]
    tps = {k: best[k][1][1] / t[k] for k in texts}
    tps["turn"] = sum(map(len, turn_ids)) / t["turn"]
    # decoding alone: adapters already loaded, process CPU time (less swayed by other jobs
    # than wall time), best of three in turns, on the first quarter of the prompts
    part = [r for r in reqs if int(r.item.id) < max(1, n_prompts // 4)]
    part_batches = BatchedGenerator(batch_size=batch, max_adapters=n_adapters).plan(part)
    part_bare = [
        [dataclasses.replace(r, subject=dataclasses.replace(r.subject, adapter=None)) for r in b]
        for b in part_batches
    ]
    loaded = {
        k: BatchedGenerator(model=str(base), batch_size=batch, device="cpu", **kw)
        for k, kw in settings.items()
    }
    loaded["base"] = BatchedGenerator(
        model=str(base), batch_size=batch, device="cpu", share_prompts=False
    )
    decode: dict[str, Callable[[], Any]] = {
        k: (lambda g=g: run_engine(g, ctx, part)) for k, g in loaded.items() if k != "base"
    }
    decode["base"] = lambda: [loaded["base"].generate(ctx, b) for b in part_bare]
    for fn in decode.values():
        fn()  # load
    cpu = dict(
        zip(decode, best_of(list(decode.values()), reps=3, clock=time.process_time), strict=True)
    )
    cpu_s = {k: v[0] for k, v in cpu.items()}
    res["lora"] = {
        "adapters": n_adapters,
        "prompts": n_prompts,
        "max_new": max_new,
        "batch": batch,
        "rows": len(reqs),
        "tps": tps,
        "t": t,
        "load": load,
        "cpu": cpu_s,
        "cpu_rows": len(part),
        "per_batch": sorted(len({r.subject.adapter for r in b}) for b in part_batches),
        "same_turn": same(texts["mixed"], turn_ids, tok),
        "same": {
            k: sum(a == b for a, b in zip(texts["mixed"], v, strict=True)) for k, v in texts.items()
        },
    }
    print(f"{n_adapters} adapters x {n_prompts} prompts, max_new_tokens {max_new}:")
    print(f"hf:batched mixed-LoRA, batched   {t['mixed']:7.2f} s  {tps['mixed']:8.1f} tok/s")
    print(
        f"hf:batched mixed-LoRA, peft rows {t['peft_rows']:7.2f} s  "
        f"{tps['peft_rows']:8.1f} tok/s  (same text {res['lora']['same']['peft_rows']})"
    )
    print(
        f"hf:batched, one adapter/batch    {t['single']:7.2f} s  {tps['single']:8.1f} tok/s  "
        f"(same text {res['lora']['same']['single']})"
    )
    print(f"hf:batched, no adapters          {t['base']:7.2f} s  {tps['base']:8.1f} tok/s")
    print(
        f"peft, each adapter in turn       {t['turn']:7.2f} s  {tps['turn']:8.1f} tok/s  "
        f"(same text {res['lora']['same_turn']}/{len(reqs)}; loading {load:.2f} s)"
    )
    print(
        f"ratios: mixed-LoRA vs in turn {tps['mixed'] / tps['turn']:.2f}x (target 3), "
        f"vs peft's per-row path {tps['mixed'] / tps['peft_rows']:.2f}x, "
        f"vs one adapter per batch {tps['mixed'] / tps['single']:.2f}x; "
        f"bound (no adapters) vs in turn {tps['base'] / tps['turn']:.2f}x"
    )
    print(
        f"decoding only, CPU s on {len(part)} rows: "
        + ", ".join(f"{k} {v:.2f}" for k, v in cpu_s.items())
    )


def bench_samples(
    res: dict[str, Any], base: Path, model: Any, tok: Any, ctx: RunContext, quick: bool
) -> None:
    n_prompts, samples, max_new, batch = (4, 10, 16, 16) if quick else (24, 10, 64, 16)
    # RealToxicityPrompts prompts are sentence beginnings: one corpus line each
    rng = random.Random(2)
    prompts = rng.sample(corpus_lines(2000, 3), n_prompts)
    lens = [len(tok(p)["input_ids"]) for p in prompts]
    reqs = requests(prompts, str(base), max_new, samples=samples, temperature=0.1, top_p=0.75)
    shared = BatchedGenerator(model=str(base), batch_size=batch, device="cpu")
    unshared = BatchedGenerator(
        model=str(base), batch_size=batch, device="cpu", share_prompts=False
    )
    first = [
        dataclasses.replace(r, decoding=dataclasses.replace(r.decoding, max_new_tokens=1))
        for r in reqs
    ]
    with torch.inference_mode():
        run_engine(shared, ctx, reqs[:2])
        run_engine(unshared, ctx, reqs[:2])
        # the two engine paths differ by a few percent at most: alternate them and keep each
        # one's best of three, so that load from other jobs on the VM does not decide
        (t_shared, (texts, n_shared)), (t_unshared, (texts2, n_unshared)) = best_of(
            [lambda: run_engine(shared, ctx, reqs), lambda: run_engine(unshared, ctx, reqs)]
        )
        # the prompt pass alone (one new token): what sharing saves
        (t1_shared, _), (t1_unshared, _) = best_of(
            [lambda: run_engine(shared, ctx, first), lambda: run_engine(unshared, ctx, first)]
        )
        loop_reqs = reqs[: len(reqs) // 4]  # a quarter: the loop is slow, its rate is steady
        t_loop, loop_ids = timed(lambda: hf_sampled(model, tok, loop_reqs))
    tps = {
        "shared": n_shared / t_shared,
        "unshared": n_unshared / t_unshared,
        "loop": sum(map(len, loop_ids)) / t_loop,
    }
    res["samples"] = {
        "prompts": n_prompts,
        "samples": samples,
        "lens": (min(lens), max(lens)),
        "max_new": max_new,
        "batch": batch,
        "rows": len(reqs),
        "tps": tps,
        "loop_rows": len(loop_reqs),
        "t": (t_shared, t_unshared),
        "t1": (t1_shared, t1_unshared),
        "same_unshared": sum(a == b for a, b in zip(texts, texts2, strict=True)),
    }
    print(
        f"{n_prompts} prompts of {min(lens)}-{max(lens)} tokens x {samples} samples, "
        f"temperature 0.1, top-p 0.75, max_new_tokens {max_new}, batch {batch}:"
    )
    print(f"hf:batched, shared prompt pass  {t_shared:7.2f} s  {tps['shared']:8.1f} tok/s")
    print(
        f"hf:batched, prefill every row   {t_unshared:7.2f} s  {tps['unshared']:8.1f} tok/s"
        f"  (same text {res['samples']['same_unshared']}/{len(reqs)})"
    )
    print(f"per-sample generate ({len(loop_reqs)} rows)  {t_loop:7.2f} s  {tps['loop']:8.1f} tok/s")
    print(
        f"prompt passes only (max_new_tokens 1): shared {t1_shared:.2f} s, every row "
        f"{t1_unshared:.2f} s"
    )
    print(
        f"ratios: sharing {tps['shared'] / tps['unshared']:.2f}x, vs per-sample loop "
        f"{tps['shared'] / tps['loop']:.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    ap.add_argument("--write", action="store_true", help="write benches/RESULTS.md section")
    ap.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated subset of {', '.join(PARTS)} (--write needs all)",
    )
    args = ap.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        ap.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if args.write and set(parts) != set(PARTS):
        ap.error("--write needs every part")
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore")

    tmp = Path(tempfile.mkdtemp(prefix="vhframe-bench-gen-"))
    t_build, base = timed(lambda: build_tiny_llama(tmp / "model", SPEC))
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    tok = AutoTokenizer.from_pretrained(base)
    params = sum(p.numel() for p in model.parameters())
    ctx = RunContext(seed=0, run_dir=tmp / "run", cache_dir=tmp / "cache", config_dir=tmp)
    print(
        f"model: {params / 1e6:.1f} M parameters, built in {t_build:.0f} s, "
        f"torch threads {torch.get_num_threads()}"
    )
    res: dict[str, Any] = {"params": params}
    if "engine" in parts:
        bench_engine(res, base, model, tok, ctx, args.quick)
    if "lora" in parts:
        bench_lora(res, base, tok, ctx, tmp, args.quick)
    if "samples" in parts:
        bench_samples(res, base, model, tok, ctx, args.quick)
    if args.write:
        write_section(args.quick, res)


def write_section(quick: bool, res: dict[str, Any]) -> None:
    def row(name: str, tps: float, ratio: float, target: float | None, same: str) -> str:
        goal = (
            "" if target is None else f"≥ {target}x, {'met' if ratio >= target else '**missed**'}"
        )
        return f"| {name} | {tps:.1f} | {ratio:.2f}x | {goal} | {same} |"

    e, lo, sa = res["engine"], res["lora"], res["samples"]
    c = lo["cpu"]
    per_batch = f"{min(lo['per_batch'])}-{max(lo['per_batch'])}"
    over = 100 * (c["mixed"] / c["base"] - 1)
    et, lt, st = e["tps"], lo["tps"], sa["tps"]
    body = f"""{SECTION}

`python benches/bench_generate.py{" --quick" if quick else ""} --write`, {DATE}; 2-core x86_64
VM (shared with other jobs), CPU only, torch {torch.__version__.split("+")[0]}, Python
{platform.python_version()}. Model: Llama architecture built locally by the benchmark,
{res["params"] / 1e6:.1f} M parameters (GQA 8/4 heads, 6 layers, float32). Tokens/s counts the
new tokens each method produced.

Greedy, {e["n"]} prompts of {e["lens"][0]}-{e["lens"][1]} tokens, max_new_tokens {e["max_new"]},
batch size {e["batch"]}:

| method | tokens/s | hf:batched is | target | same text |
|---|---:|---:|---:|---:|
| hf:batched (length buckets, own KV loop) | {et["engine"]:.1f} | | | |
{
        row(
            "per-prompt `model.generate` loop",
            et["loop"],
            et["engine"] / et["loop"],
            5,
            f"{e['same_loop']}/{e['n']}",
        )
    }
{
        row(
            "batched `model.generate`, no bucketing",
            et["plain"],
            et["engine"] / et["plain"],
            1.3,
            f"{e['same_plain']}/{e['n']}",
        )
    }

Greedy, {lo["adapters"]} LoRA adapters (r 8 on q/v) × {lo["prompts"]} prompts, max_new_tokens
{lo["max_new"]}, batch size {lo["batch"]}:

| method | tokens/s | mixed-LoRA is | target | same text |
|---|---:|---:|---:|---:|
| hf:batched, mixed-LoRA batches, batched LoRA products | {lt["mixed"]:.1f} | | | |
{
        row(
            "peft, load base + each adapter in turn, batched `generate`",
            lt["turn"],
            lt["mixed"] / lt["turn"],
            3,
            f"{lo['same_turn']}/{lo['rows']}",
        )
    }
{
        row(
            "hf:batched, mixed-LoRA batches, peft's per-row `adapter_names`",
            lt["peft_rows"],
            lt["mixed"] / lt["peft_rows"],
            None,
            f"{lo['same']['peft_rows']}/{lo['rows']}",
        )
    }
{
        row(
            "hf:batched, one adapter per batch",
            lt["single"],
            lt["mixed"] / lt["single"],
            None,
            f"{lo['same']['single']}/{lo['rows']}",
        )
    }
{
        row(
            "hf:batched, same rows without adapters (bound)",
            lt["base"],
            lt["mixed"] / lt["base"],
            None,
            "",
        )
    }

Of the {lo["t"]["turn"]:.1f} s the in-turn baseline took, {lo["load"]:.2f} s went to loading
the base model and an adapter {lo["adapters"]} times; the rest is `generate`.

Decoding alone (adapters already loaded; process CPU time, best of three taken in turns; the
same settings on the first {lo["cpu_rows"]} rows, batches holding {per_batch} adapters): batched
LoRA products {c["mixed"]:.2f} s, peft's per-row path {c["peft_rows"]:.2f} s
({c["peft_rows"] / c["mixed"]:.2f}x), one adapter per batch {c["single"]:.2f} s, no adapters
{c["base"]:.2f} s (the batched products cost {over:.0f}% over the bare model).

RealToxicityPrompts-style: {sa["prompts"]} sentence-start prompts of {sa["lens"][0]}-{sa["lens"][1]}
tokens × {sa["samples"]} samples each, temperature 0.1, top-p 0.75, max_new_tokens
{sa["max_new"]}, batch size {sa["batch"]}:

| method | tokens/s | shared pass is | target | same text |
|---|---:|---:|---:|---:|
| hf:batched, one prompt pass per prompt, copied to its samples | {st["shared"]:.1f} | | | |
{
        row(
            "hf:batched, prefill every sample row",
            st["unshared"],
            st["shared"] / st["unshared"],
            None,
            f"{sa['same_unshared']}/{sa['rows']}",
        )
    }
{
        row(
            f"per-sample `model.generate` loop (first {sa['loop_rows']} rows)",
            st["loop"],
            st["shared"] / st["loop"],
            None,
            "",
        )
    }

The prompt passes alone (the same requests with max_new_tokens 1) take
{sa["t1"][0]:.2f} s shared vs {sa["t1"][1]:.2f} s for every row
({sa["t1"][1] / sa["t1"][0]:.1f}x); whole runs {sa["t"][0]:.1f} s vs {sa["t"][1]:.1f} s (best of
three, taken in turns).
{NOTES}"""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + ("" if nxt < 0 else text[nxt:])
    RESULTS.write_text(text.rstrip("\n") + "\n")
    print(f"wrote {SECTION} to {RESULTS}")


if __name__ == "__main__":
    main()
