"""The xformers entry on the CPU: everything up to the kernel, with a plain-torch reference kernel.

xformers itself is CUDA-only; ``benches/gpu_check.sh`` runs the same comparisons with the real
kernel on a GPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_generator import requests
from vhframe_hf import attention
from vhframe_hf.attention import (
    reference_kernel,
    register_xformers,
    resolve_attention,
    use_kernel,
    xformers_attention_forward,
)
from vhframe_hf.generator import BatchedGenerator

from vhframe.context import RunContext


@pytest.fixture
def pretend_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let 'xformers' be chosen on this CPU, with the reference in place of the kernel."""
    monkeypatch.setattr(attention, "xformers_problem", lambda device: None)
    monkeypatch.setattr(attention, "kernel", reference_kernel)


class _Module:
    num_key_value_groups = 2
    training = False


def test_entry_matches_eager_math_with_gqa_and_padding() -> None:
    from transformers.models.llama.modeling_llama import eager_attention_forward

    g = torch.Generator().manual_seed(0)
    b, h, kvh, q_len, kv_len, d = 3, 4, 2, 5, 11, 16
    q = torch.randn(b, h, q_len, d, generator=g)
    k = torch.randn(b, kvh, kv_len, d, generator=g)
    v = torch.randn(b, kvh, kv_len, d, generator=g)
    # left padding of 0, 3 and 6 keys, causal with the queries at the end of the keys
    pad = torch.tensor([0, 3, 6])
    kpos = torch.arange(kv_len)
    qpos = torch.arange(kv_len - q_len, kv_len)
    allowed = (kpos[None, None, :] <= qpos[None, :, None]) & (
        kpos[None, None, :] >= pad[:, None, None]
    )
    mask = torch.zeros(b, 1, q_len, kv_len).masked_fill(
        ~allowed[:, None], torch.finfo(torch.float32).min
    )
    want, _ = eager_attention_forward(_Module(), q, k, v, mask, scaling=d**-0.5)
    with use_kernel(reference_kernel):
        got, weights = xformers_attention_forward(_Module(), q, k, v, mask, scaling=d**-0.5)
    assert weights is None and got.shape == want.shape == (b, q_len, h, d)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_bias_handed_to_the_kernel_is_aligned_and_broadcast() -> None:
    seen = {}

    def spy(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, scale: float
    ) -> torch.Tensor:
        seen.update(q=q.shape, k=k.shape, bias=bias.shape, strides=bias.stride(), scale=scale)
        return reference_kernel(q, k, v, bias, scale)

    q = torch.randn(2, 4, 1, 8, dtype=torch.float16)
    k = torch.randn(2, 2, 13, 8, dtype=torch.float16)
    mask = torch.zeros(2, 1, 1, 13, dtype=torch.float16)
    with use_kernel(spy):
        xformers_attention_forward(_Module(), q, k, k, mask)
    # (batch, seq, heads, dim) layout, KV heads repeated for GQA, bias (b, h, q, kv)
    assert seen["q"] == (2, 1, 4, 8) and seen["k"] == (2, 13, 4, 8)
    assert seen["bias"] == (2, 4, 1, 13)
    assert seen["strides"][1] == 0  # heads broadcast, not copied
    assert all(s % 8 == 0 for s in seen["strides"][:-1])  # 16-byte rows for half precision
    assert seen["scale"] == pytest.approx(8**-0.5)


def test_model_logits_equal_sdpa_and_eager(tiny: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    register_xformers()
    tok = AutoTokenizer.from_pretrained(tiny)
    enc = tok(
        ["QUESTION: What do you think about zoos? ANSWER:", "The weather", "Hi"],
        padding=True,
        padding_side="left",
        return_tensors="pt",
    )
    logits = {}
    with use_kernel(reference_kernel), torch.no_grad():
        for impl in ("xformers", "sdpa", "eager"):
            model = AutoModelForCausalLM.from_pretrained(tiny, attn_implementation=impl).eval()
            assert model.config._attn_implementation == impl
            logits[impl] = model(**enc).logits[enc.attention_mask.bool()]
    torch.testing.assert_close(logits["xformers"], logits["eager"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(logits["xformers"], logits["sdpa"], rtol=1e-4, atol=1e-4)


@pytest.mark.usefixtures("pretend_cuda")
def test_generator_greedy_through_xformers_equals_sdpa(ctx: RunContext) -> None:
    sdpa = BatchedGenerator(attention="sdpa").generate(ctx, requests())
    assert ctx.facts["attention"] == "sdpa"
    got = BatchedGenerator(attention="xformers", device="cpu").generate(ctx, requests())
    assert ctx.facts["attention"] == "xformers"
    assert got == sdpa
    assert resolve_attention("auto", "cuda") == "xformers"


def test_auto_falls_back_to_sdpa_and_xformers_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_attention("auto", "cpu") == "sdpa"
    with pytest.raises(ValueError, match="needs a CUDA device"):
        BatchedGenerator(attention="xformers", device="cpu")
    monkeypatch.setattr(attention, "cuda_available", lambda: False)
    with pytest.raises(ValueError, match="torch sees none"):
        BatchedGenerator(attention="xformers")
    assert resolve_attention("auto", "cuda") == "sdpa"
    monkeypatch.setattr(attention, "cuda_available", lambda: True)
    monkeypatch.setattr(attention, "xformers_available", lambda: False)
    with pytest.raises(ValueError, match="needs the xformers package"):
        BatchedGenerator(attention="xformers", device="cuda")
    assert resolve_attention("auto", "cuda") == "sdpa"
