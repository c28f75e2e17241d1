"""Choice of the attention kernel a generator's model runs with, and the xformers entry.

The model code is never forked: the choice is passed to ``from_pretrained`` as
``attn_implementation``, which selects an entry of transformers' attention interface. ``sdpa``
and ``eager`` are transformers' own; ``xformers`` is registered here (:func:`register_xformers`)
as a function of the same signature plus a mask builder, so every model that dispatches through
``ALL_ATTENTION_FUNCTIONS`` (Llama, Mistral, Qwen2, ...) can run on it.

The xformers entry converts transformers' layout and masks into what
``xformers.ops.memory_efficient_attention`` takes and back. The kernel call itself is the single
function :data:`kernel` (swappable with :func:`use_kernel`), so the CPU tests run everything up
to it against a plain-torch reference with the same contract.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

ATTENTIONS = ("auto", "sdpa", "eager", "xformers")
XFORMERS = "xformers"

# (query, key, value, bias, scale) -> output; tensors in xformers' (batch, seq, heads, dim)
# layout, bias additive and broadcastable to (batch, heads, q_len, kv_len).
Kernel = Callable[[Any, Any, Any, Any, float], Any]


def xformers_available() -> bool:
    return importlib.util.find_spec("xformers") is not None


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def xformers_problem(device: str) -> str | None:
    """Why xformers cannot run on ``device`` ("auto", "cpu" or "cuda"), or None if it can."""
    if device == "cpu":
        return "attention 'xformers' needs a CUDA device; use 'sdpa' or 'eager' on the CPU"
    if not cuda_available():
        return "attention 'xformers' needs a CUDA device and torch sees none; use 'sdpa' or 'eager'"
    if not xformers_available():
        return (
            "attention 'xformers' needs the xformers package (pip install 'vhframe-hf[xformers]')"
        )
    return None


def check_attention(requested: str, device: str) -> None:
    """Reject choices that cannot work on ``device`` ("auto", "cpu" or "cuda") early."""
    if requested not in ATTENTIONS:
        raise ValueError(
            f"attention must be one of {', '.join(map(repr, ATTENTIONS))}, found {requested!r}"
        )
    if requested == XFORMERS:
        problem = xformers_problem(device)
        if problem is not None:
            raise ValueError(problem)


def resolve_attention(requested: str, device: str) -> str:
    """The ``attn_implementation`` to load the model with, for a resolved ``device``."""
    check_attention(requested, device)
    if requested == "auto":
        requested = XFORMERS if xformers_problem(device) is None else "sdpa"
    if requested == XFORMERS:
        register_xformers()
    return requested


# --------------------------------------------------------------------------- the kernel


def xformers_kernel(query: Any, key: Any, value: Any, bias: Any, scale: float) -> Any:
    """The real kernel: xformers' memory-efficient attention (CUDA only)."""
    import xformers.ops as xops

    return xops.memory_efficient_attention(query, key, value, attn_bias=bias, scale=scale)


def reference_kernel(query: Any, key: Any, value: Any, bias: Any, scale: float) -> Any:
    """softmax(Q Kᵀ · scale + bias) V in float32 with plain torch; the kernel's contract."""
    import torch

    q, k, v = (t.transpose(1, 2).float() for t in (query, key, value))  # -> (b, h, s, d)
    scores = q @ k.transpose(-1, -2) * scale + bias.float()
    out = torch.softmax(scores, dim=-1) @ v
    return out.transpose(1, 2).to(query.dtype)


kernel: Kernel = xformers_kernel


@contextmanager
def use_kernel(fn: Kernel) -> Iterator[None]:
    """Run the xformers entry with ``fn`` in place of the kernel (tests, other backends)."""
    global kernel
    before = kernel
    kernel = fn
    try:
        yield
    finally:
        kernel = before


# --------------------------------------------------------------------------- the entry


def _aligned_bias(mask: Any, batch: int, heads: int, q_len: int, kv_len: int, dtype: Any) -> Any:
    """The additive mask as xformers wants it: query dtype, (b, h, q, kv), rows 16-byte aligned.

    xformers requires every stride but the last to be a multiple of 16 bytes, so the mask is
    copied into a buffer whose last dimension is rounded up and then sliced; heads are a
    stride-0 broadcast rather than a copy.
    """
    import torch

    align = 128 // torch.finfo(dtype).bits
    width = -(-kv_len // align) * align
    buf = torch.zeros((mask.shape[0], 1, q_len, width), dtype=dtype, device=mask.device)
    buf[..., :kv_len] = mask[..., :kv_len].to(dtype)
    return buf[..., :kv_len].expand(batch, heads, q_len, kv_len)


def xformers_attention_forward(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """transformers' attention-function contract on top of :data:`kernel`.

    In: query (b, h, q, d), key/value (b, h_kv, kv, d), attention_mask an additive float mask
    (b, 1, q, kv) from the eager mask builder (causal and padding in one; never None, see
    :func:`register_xformers`). Out: (b, q, h, d) and no weights, as the SDPA entry returns.
    """
    import torch

    if dropout:
        raise ValueError("attention 'xformers' is registered for inference only (dropout 0)")
    if kwargs.get("softcap") is not None or kwargs.get("sliding_window") is not None:
        raise ValueError(
            "attention 'xformers' does not support softcapping or sliding windows "
            "here; use 'sdpa' or 'eager' for this model"
        )
    batch, heads, q_len, dim = query.shape
    kv_heads, kv_len = key.shape[1], key.shape[2]
    if kv_heads != heads:
        # grouped-query attention: repeat each KV head for its group of query heads, which
        # the 4-D layout of every xformers backend accepts
        groups = heads // kv_heads
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    scale = scaling if scaling is not None else 1.0 / math.sqrt(dim)
    if attention_mask is None:
        # only reached when a caller bypasses the registered mask builder: causal, no padding,
        # queries aligned to the end of the keys (the cache case)
        q_pos = torch.arange(kv_len - q_len, kv_len, device=query.device)[:, None]
        allowed = torch.arange(kv_len, device=query.device)[None, :] <= q_pos
        attention_mask = torch.zeros((1, 1, q_len, kv_len), dtype=query.dtype, device=query.device)
        attention_mask.masked_fill_(~allowed, torch.finfo(query.dtype).min)
    bias = _aligned_bias(attention_mask, batch, heads, q_len, kv_len, query.dtype)
    out = kernel(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), bias, scale)
    return out.contiguous(), None


_registered = False


def register_xformers() -> None:
    """Add ``"xformers"`` to transformers' attention and attention-mask interfaces (once).

    The mask builder is transformers' eager one: a dense additive float mask that already
    combines causality with left padding and cache offsets, which is exactly the tensor bias
    the kernel takes.
    """
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(XFORMERS, xformers_attention_forward)
    AttentionMaskInterface.register(XFORMERS, eager_mask)
    _registered = True
