#!/usr/bin/env bash
# GPU check for the xformers attention entry of vhframe-hf (issue 5, items 2 and 6).
#
# Run from the repository root on a CUDA machine:
#
#     bash benches/gpu_check.sh            # table to stdout, and to $OUT/gpu_check.md if set
#     WHEELS=/path/to/wheels bash benches/gpu_check.sh   # offline: install from local wheels
#
# 1. Installs what is missing (torch with CUDA, transformers, peft, xformers): from $WHEELS
#    with --no-index when given, else from the package index.
# 2. Equality: a Llama-architecture model with grouped-query attention and random weights,
#    left-padded batches, attention "xformers" (vhframe_hf.attention, the real kernel) vs
#    "sdpa" vs "eager": logits on real tokens in float32 and bfloat16 (max abs difference,
#    tolerance), greedy continuations (share of rows identical to eager); plus the kernel
#    entry against the plain-torch reference on random GQA tensors.
# 3. Speed: tokens/s of batched greedy generate (fixed output length) per implementation.
#
# It needs only the plugin's attention module (no Rust build of the core), so it runs with
# PYTHONPATH pointing at plugins/vhframe-hf.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT_DIR=${OUT:-}

need() { ! "$PY" -c "import $1" >/dev/null 2>&1; }
install() {
  if [[ -n "${WHEELS:-}" ]]; then
    "$PY" -m pip install --quiet --no-index --find-links "$WHEELS" "$@"
  else
    "$PY" -m pip install --quiet "$@"
  fi
}

if need torch || ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  install "torch>=2.15,<3"
fi
need transformers && install "transformers>=5.24,<6"
need peft && install "peft>=0.21.2,<0.23"
# xformers wheels are built against one torch release; --no-deps keeps the installed torch,
# and the import check below says so plainly if the two do not match
need xformers && install --no-deps xformers
"$PY" -c "import xformers.ops" || { echo "xformers does not import with this torch" >&2; exit 1; }

export PYTHONPATH="$PWD/plugins/vhframe-hf${PYTHONPATH:+:$PYTHONPATH}"
"$PY" - "$OUT_DIR" <<'PYEOF'
import sys
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from vhframe_hf import attention

assert torch.cuda.is_available(), "no CUDA device"
assert attention.resolve_attention("auto", "cuda") == "xformers", "auto did not pick xformers"
out_dir = sys.argv[1]
lines = [f"# vhframe-hf GPU check: {torch.cuda.get_device_name()}, torch {torch.__version__}",
         ""]
ok = True


def say(line: str) -> None:
    print(line, flush=True)
    lines.append(line)


# -- the kernel entry against the reference, random GQA tensors with padding
g = torch.Generator(device="cuda").manual_seed(0)
for dtype, tol in ((torch.float32, 1e-4), (torch.bfloat16, 2e-2)):
    b, h, kvh, q_len, kv_len, d = 4, 8, 2, 37, 37, 64
    q = torch.randn(b, h, q_len, d, device="cuda", dtype=dtype, generator=g)
    k = torch.randn(b, kvh, kv_len, d, device="cuda", dtype=dtype, generator=g)
    v = torch.randn(b, kvh, kv_len, d, device="cuda", dtype=dtype, generator=g)
    pad = torch.tensor([0, 5, 17, 30], device="cuda")
    pos = torch.arange(kv_len, device="cuda")
    allowed = (pos[None, None, :] <= pos[None, :, None]) & (pos[None, None, :] >= pad[:, None, None])
    mask = torch.zeros(b, 1, q_len, kv_len, device="cuda", dtype=dtype)
    mask = mask.masked_fill(~allowed[:, None], torch.finfo(dtype).min)

    class M:
        num_key_value_groups = h // kvh

    fast, _ = attention.xformers_attention_forward(M(), q, k, v, mask)
    with attention.use_kernel(attention.reference_kernel):
        ref, _ = attention.xformers_attention_forward(M(), q, k, v, mask)
    real = allowed.any(-1)  # query rows with at least one key (left padding rows have none)
    diff = (fast.float() - ref.float())[real].abs().max().item()
    good = diff <= tol
    ok &= good
    say(f"kernel vs reference, {str(dtype)[6:]}: max |diff| {diff:.2e} (tol {tol:g}) "
        f"{'ok' if good else 'FAIL'}")

# -- whole model: xformers vs sdpa vs eager
attention.register_xformers()
cfg = LlamaConfig(vocab_size=32000, hidden_size=1024, intermediate_size=2816,
                  num_hidden_layers=8, num_attention_heads=16, num_key_value_heads=4,
                  max_position_embeddings=2048)
torch.manual_seed(0)
state = LlamaForCausalLM(cfg).state_dict()


def load(impl: str, dtype: torch.dtype) -> LlamaForCausalLM:
    model = LlamaForCausalLM._from_config(cfg, attn_implementation=impl, dtype=dtype)
    model.load_state_dict(state)
    model.generation_config.eos_token_id = None  # fixed output length for timing
    model.generation_config.pad_token_id = 0
    return model.to("cuda").eval()


def batch(n: int, lo: int, hi: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    lens = torch.randint(lo, hi + 1, (n,), generator=gen)
    width = int(lens.max())
    ids = torch.zeros(n, width, dtype=torch.long)
    mask = torch.zeros(n, width, dtype=torch.long)
    for i, ln in enumerate(lens.tolist()):  # left padding
        ids[i, width - ln:] = torch.randint(3, cfg.vocab_size, (ln,), generator=gen)
        mask[i, width - ln:] = 1
    return ids.cuda(), mask.cuda()


IMPLS = ("xformers", "sdpa", "eager")
say("")
say("| dtype | impl | max abs logit diff vs eager | greedy rows equal to eager | "
    "tokens/s (batch 64, 64-512 prompt, 128 new) |")
say("|---|---|---:|---:|---:|")
ids, mask = batch(16, 8, 200, seed=1)
bids, bmask = batch(64, 64, 512, seed=2)
for dtype, tol in ((torch.float32, 1e-3), (torch.bfloat16, 0.25)):
    logits, greedy, speed = {}, {}, {}
    for impl in IMPLS:
        model = load(impl, dtype)
        with torch.inference_mode():
            logits[impl] = model(input_ids=ids, attention_mask=mask).logits[mask.bool()].float()
            greedy[impl] = model.generate(input_ids=ids, attention_mask=mask, do_sample=False,
                                          max_new_tokens=32)[:, ids.shape[1]:]
            model.generate(input_ids=bids[:8], attention_mask=bmask[:8], do_sample=False,
                           max_new_tokens=4)  # warm-up
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            new = model.generate(input_ids=bids, attention_mask=bmask, do_sample=False,
                                 min_new_tokens=128, max_new_tokens=128)
            torch.cuda.synchronize()
            speed[impl] = (new.shape[1] - bids.shape[1]) * bids.shape[0] / (
                time.perf_counter() - t0)
        del model
        torch.cuda.empty_cache()
    for impl in IMPLS:
        diff = (logits[impl] - logits["eager"]).abs().max().item()
        same = int((greedy[impl] == greedy["eager"]).all(-1).sum())
        good = diff <= tol and (dtype != torch.float32 or same == len(greedy["eager"]))
        ok &= good
        say(f"| {str(dtype)[6:]} | {impl} | {diff:.2e}{'' if good else ' FAIL'} | "
            f"{same}/{len(greedy['eager'])} | {speed[impl]:.0f} |")
say("")
say("bfloat16 greedy rows may part from eager after a near-tie (different reduction order); "
    "float32 rows must all agree.")
say("result: " + ("ok" if ok else "FAIL"))
if out_dir:
    Path(out_dir, "gpu_check.md").write_text("\n".join(lines) + "\n")
sys.exit(0 if ok else 1)
PYEOF
