"""Benchmark: vhframe's ``hf:batched`` engine vs the ``model.generate`` loops users would write.

One process run on the CPU. Builds a small Llama-architecture model locally (a larger
:class:`vhframe_hf.models.TinySpec`, a few million parameters, random weights so that every
row decodes the full ``max_new_tokens`` and all methods do the same work) into a temp folder,
then times greedy decoding of the same prompts with the same ``max_new_tokens``:

1. ``hf:batched`` (length-sorted buckets, own KV-cache loop) vs a per-prompt
   ``model.generate`` loop and vs a batched ``model.generate`` loop over the prompts in their
   given order (left padding, no length bucketing), same batch size;
2. 14 LoRA adapters × 64 prompts: ``hf:batched`` with mixed-LoRA batches vs loading each
   adapter in turn with peft and running the batched ``model.generate`` loop for it.

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
does the same work; the texts are compared as a check. Each method is timed once after a
warm-up on a VM shared with other jobs, so ratios move between runs (an earlier run under
heavier load gave 6.1x and 1.8x for the first table).

Mixed-LoRA: loading the base model and one adapter takes a fraction of a second at this size,
so loading each adapter in turn costs almost nothing here and the lead over it is mostly the
engine's own (length buckets, own KV loop). peft's per-row adapters (`adapter_names`) run a
gather, two small products and a scatter per distinct adapter, per LoRA layer, per step; on two
CPU cores with a model this small that costs more than fuller batches save, so mixed batches
are slower than one-adapter batches. What mixed batches are for (one base model in memory
instead of a load of a 7B model per subject, full batches when each subject has few prompts)
does not show on this machine; the ≥ 3x target is not met on the CPU and was not measured on
a GPU (none available for this run).
"""

SPEC = TinySpec(vocab_size=4096, hidden_size=256, intermediate_size=688, num_hidden_layers=6,
                num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=1024,
                corpus_lines=3000, pretrain_steps=0)


def make_prompts(n: int, seed: int = 0) -> list[str]:
    """Prompts of widely varying length (1 to 4 corpus lines), like a benchmark mix."""
    rng = random.Random(seed)
    lines = corpus_lines(2000, seed + 1)
    return ["QUESTION: " + " ".join(rng.sample(lines, rng.choice([1, 1, 1, 2, 2, 3, 4])))
            + " ANSWER:" for _ in range(n)]


def requests(prompts: Sequence[str], model: str, max_new: int, adapter: str | None = None,
             tag: str = "s") -> list[GenerationRequest]:
    subject = Subject(name=tag, role="base", base_model=model, adapter=adapter)
    dec = Decoding(temperature=0.0, top_p=1.0, max_new_tokens=max_new)
    return [GenerationRequest(subject=subject,
                              item=Item(benchmark="bench", id=str(i), category="c", prompt=p),
                              prompt=p, decoding=dec, sample=0, seed=i)
            for i, p in enumerate(prompts)]


def run_engine(g: BatchedGenerator, ctx: RunContext, reqs: Sequence[GenerationRequest]
               ) -> list[str]:
    """Through ``plan`` and ``generate``, as the pipeline drives it; texts in request order."""
    texts: dict[int, str] = {}
    for batch in g.plan(reqs):
        for r, t in zip(batch, g.generate(ctx, batch), strict=True):
            texts[id(r)] = t
    return [texts[id(r)] for r in reqs]


def hf_per_prompt(model: Any, tok: Any, prompts: Sequence[str], max_new: int) -> list[list[int]]:
    out = []
    for p in prompts:
        enc = tok(p, return_tensors="pt")
        ids = model.generate(**enc, do_sample=False, max_new_tokens=max_new)
        out.append(_strip(ids[0, enc.input_ids.shape[1]:].tolist(), tok))
    return out


def hf_batched(model: Any, tok: Any, prompts: Sequence[str], max_new: int, batch: int
               ) -> list[list[int]]:
    """Batches in the given order, left padded: what a user writes without bucketing."""
    out = []
    for s in range(0, len(prompts), batch):
        enc = tok(list(prompts[s:s + batch]), return_tensors="pt", padding=True,
                  padding_side="left")
        ids = model.generate(**enc, do_sample=False, max_new_tokens=max_new)
        out.extend(_strip(row.tolist(), tok) for row in ids[:, enc.input_ids.shape[1]:])
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


def count_tokens(tok: Any, texts: Sequence[str]) -> int:
    return sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)


def build_adapters(base: Path, root: Path, n: int) -> list[str]:
    """``n`` LoRA adapters (r 8 on q/v, the study's shape) with random non-zero B matrices."""
    from peft import LoraConfig, get_peft_model

    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=32,
                                                  target_modules=["q_proj", "v_proj"]))
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


def adapters_in_turn(base: Path, tok: Any, adapters: Sequence[str], prompts: Sequence[str],
                     max_new: int, batch: int) -> list[list[int]]:
    """Per subject: load the base model, load its adapter with peft, run the batched loop."""
    from peft import PeftModel

    out = []
    for path in adapters:
        model = AutoModelForCausalLM.from_pretrained(base).eval()
        model = PeftModel.from_pretrained(model, path).eval()
        with torch.inference_mode():
            out.extend(hf_batched(model, tok, prompts, max_new, batch))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    ap.add_argument("--write", action="store_true", help="write benches/RESULTS.md section")
    args = ap.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore")
    n_prompts, max_new, batch = (16, 32, 8) if args.quick else (64, 64, 16)
    n_adapters, lora_prompts, lora_new = (4, 16, 8) if args.quick else (14, 64, 16)

    tmp = Path(tempfile.mkdtemp(prefix="vhframe-bench-gen-"))
    t_build, base = timed(lambda: build_tiny_llama(tmp / "model", SPEC))
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    tok = AutoTokenizer.from_pretrained(base)
    params = sum(p.numel() for p in model.parameters())
    ctx = RunContext(seed=0, run_dir=tmp / "run", cache_dir=tmp / "cache", config_dir=tmp)
    prompts = make_prompts(n_prompts)
    prompt_lens = [len(tok(p)["input_ids"]) for p in prompts]
    print(f"model: {params / 1e6:.1f} M parameters, built in {t_build:.0f} s; "
          f"{n_prompts} prompts of {min(prompt_lens)}-{max(prompt_lens)} tokens, "
          f"max_new_tokens {max_new}, batch {batch}, torch threads {torch.get_num_threads()}")

    engine = BatchedGenerator(model=str(base), batch_size=batch, device="cpu")
    reqs = requests(prompts, str(base), max_new)
    with torch.inference_mode():  # warm up every path once (allocator, lazy imports)
        run_engine(engine, ctx, reqs[:2])
        hf_batched(model, tok, prompts[:2], 2, batch)
        t_engine, texts = timed(lambda: run_engine(engine, ctx, reqs))
        t_loop, loop_ids = timed(lambda: hf_per_prompt(model, tok, prompts, max_new))
        t_plain, plain_ids = timed(lambda: hf_batched(model, tok, prompts, max_new, batch))
    n_engine = count_tokens(tok, texts)
    n_loop = sum(map(len, loop_ids))
    n_plain = sum(map(len, plain_ids))
    same_loop = sum(t == tok.decode(i, skip_special_tokens=True)
                    for t, i in zip(texts, loop_ids, strict=True))
    same_plain = sum(t == tok.decode(i, skip_special_tokens=True)
                     for t, i in zip(texts, plain_ids, strict=True))
    tps = {"engine": n_engine / t_engine, "loop": n_loop / t_loop, "plain": n_plain / t_plain}
    print(f"hf:batched          {t_engine:7.2f} s  {tps['engine']:8.1f} tok/s")
    print(f"per-prompt generate {t_loop:7.2f} s  {tps['loop']:8.1f} tok/s  "
          f"(same text {same_loop}/{n_prompts})")
    print(f"batched generate    {t_plain:7.2f} s  {tps['plain']:8.1f} tok/s  "
          f"(same text {same_plain}/{n_prompts})")

    adapters = build_adapters(base, tmp / "adapters", n_adapters)
    lprompts = make_prompts(lora_prompts, seed=1)
    lreqs = [r for i, a in enumerate(adapters)
             for r in requests(lprompts, str(base), lora_new, adapter=a, tag=f"a{i}")]
    mixed = BatchedGenerator(model=str(base), batch_size=batch, device="cpu",
                             max_adapters=n_adapters)
    one_by_one = BatchedGenerator(model=str(base), batch_size=batch, device="cpu",
                                  mixed_adapters=False, max_adapters=1)
    with torch.inference_mode():
        run_engine(mixed, ctx, lreqs[:2])
    t_mixed, mixed_texts = timed(lambda: run_engine(mixed, ctx, lreqs))
    t_turn, turn_ids = timed(lambda: adapters_in_turn(base, tok, adapters, lprompts, lora_new,
                                                      batch))
    t_single, single_texts = timed(lambda: run_engine(one_by_one, ctx, lreqs))
    n_mixed = count_tokens(tok, mixed_texts)
    n_turn = sum(map(len, turn_ids))
    n_single = count_tokens(tok, single_texts)
    same_turn = sum(t == tok.decode(i, skip_special_tokens=True)
                    for t, i in zip(mixed_texts, turn_ids, strict=True))
    ltps = {"mixed": n_mixed / t_mixed, "turn": n_turn / t_turn, "single": n_single / t_single}
    print(f"{n_adapters} adapters x {lora_prompts} prompts, max_new_tokens {lora_new}:")
    print(f"hf:batched mixed-LoRA         {t_mixed:7.2f} s  {ltps['mixed']:8.1f} tok/s")
    print(f"peft, each adapter in turn    {t_turn:7.2f} s  {ltps['turn']:8.1f} tok/s  "
          f"(same text {same_turn}/{len(lreqs)})")
    print(f"hf:batched, one adapter/batch {t_single:7.2f} s  {ltps['single']:8.1f} tok/s  "
          f"(same text {sum(a == b for a, b in zip(mixed_texts, single_texts, strict=True))}"
          f"/{len(lreqs)})")

    r_loop = tps["engine"] / tps["loop"]
    r_plain = tps["engine"] / tps["plain"]
    r_lora = ltps["mixed"] / ltps["turn"]
    r_single = ltps["mixed"] / ltps["single"]
    print(f"ratios: vs per-prompt {r_loop:.2f}x (target 5), vs batched {r_plain:.2f}x "
          f"(target 1.3), mixed-LoRA vs in turn {r_lora:.2f}x (target 3), "
          f"mixed vs one adapter per batch {r_single:.2f}x")
    if args.write:
        write_section(args.quick, params, prompt_lens, n_prompts, max_new, batch, n_adapters,
                      lora_prompts, lora_new, tps, ltps, r_loop, r_plain, r_lora, r_single,
                      same_loop, same_plain, same_turn, len(lreqs))


def write_section(quick: bool, params: int, prompt_lens: list[int], n_prompts: int,
                  max_new: int, batch: int, n_adapters: int, lora_prompts: int, lora_new: int,
                  tps: dict[str, float], ltps: dict[str, float], r_loop: float,
                  r_plain: float, r_lora: float, r_single: float, same_loop: int,
                  same_plain: int, same_turn: int, n_lora: int) -> None:
    def row(name: str, tps: float, ratio: float, target: float, same: int, n: int) -> str:
        verdict = "met" if ratio >= target else "**missed**"
        return f"| {name} | {tps:.1f} | {ratio:.2f}x | ≥ {target}x, {verdict} | {same}/{n} |"

    body = f"""{SECTION}

`python benches/bench_generate.py{' --quick' if quick else ''} --write`, {DATE}; 2-core x86_64
VM (shared with other jobs), CPU only, torch {torch.__version__.split('+')[0]}, Python
{platform.python_version()}. Model: Llama architecture built locally by the benchmark,
{params / 1e6:.1f} M parameters (GQA 8/4 heads, 6 layers, float32). Greedy decoding; tokens/s
counts the new tokens each method produced.

{n_prompts} prompts of {min(prompt_lens)}-{max(prompt_lens)} tokens, max_new_tokens {max_new},
batch size {batch}:

| method | tokens/s | hf:batched is | target | same text |
|---|---:|---:|---:|---:|
| hf:batched (length buckets, own KV loop) | {tps['engine']:.1f} | | | |
{row('per-prompt `model.generate` loop', tps['loop'], r_loop, 5, same_loop, n_prompts)}
{row('batched `model.generate`, no bucketing', tps['plain'], r_plain, 1.3, same_plain,
     n_prompts)}

{n_adapters} LoRA adapters (r 8 on q/v) × {lora_prompts} prompts, max_new_tokens {lora_new},
batch size {batch}:

| method | tokens/s | mixed-LoRA is | target | same text |
|---|---:|---:|---:|---:|
| hf:batched, mixed-LoRA batches | {ltps['mixed']:.1f} | | | |
{row('peft, load base + each adapter in turn, batched `generate`', ltps['turn'], r_lora, 3,
     same_turn, n_lora)}
| hf:batched, one adapter per batch | {ltps['single']:.1f} | {r_single:.2f}x | | |
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
