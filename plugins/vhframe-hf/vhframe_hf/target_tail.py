"""The last decoder layer computed only where the loss looks: from the first target position on.

A training loss reads the logits of the target positions only (the trainer passes
``logits_to_keep``), and the last decoder layer's output at a position feeds nothing but that
position's logits. So in the last layer only the keys and values are needed at every position
(the target positions attend to them); the queries, the attention output, ``o_proj``, the MLP
and both residual adds are needed only from the first target position on. On VIM pairs, whose
prompts are most of the tokens (a survey question of about a hundred tokens answered with two),
that skips most of one layer's work, forward and backward.

Exactness: every kept position computes what the full layer computes, in the same order, up to
the summation order of the smaller matrix products (last-bit rounding). The LoRA dropout of a
sliced ``q_proj`` is drawn over all positions, as peft draws it, and then sliced: the random
stream, and with it every later dropout draw, is the one the full layer uses.

Only Llama's own decoder layer (exactly ``LlamaDecoderLayer`` with ``LlamaAttention``, no
attention dropout while training) with a plain linear or plain-LoRA ``q_proj`` is handled;
:meth:`TargetTail.build` returns None otherwise and the caller keeps the full layer.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, cast


class TargetTail:
    """Context manager: inside, the model's last decoder layer returns hidden states only from
    position :attr:`start` on (set it before each call; 0 runs the full layer)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.start = 0
        self._full = layer.forward  # the bound method, before patching

    @classmethod
    def build(cls, model: Any) -> TargetTail | None:
        """For a (peft-wrapped) causal LM, or None when its last layer is not one handled."""
        from transformers.models.llama.modeling_llama import (
            LlamaAttention,
            LlamaDecoderLayer,
            LlamaMLP,
        )

        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        layers = getattr(getattr(base, "model", None), "layers", None)
        if layers is None or len(layers) == 0:
            return None
        layer = layers[-1]
        if type(layer) is not LlamaDecoderLayer or "forward" in vars(layer):
            return None
        attn = layer.self_attn
        if type(attn) is not LlamaAttention or type(layer.mlp) is not LlamaMLP:
            return None
        if attn.attention_dropout or _sliceable(attn.q_proj) is None:
            return None
        return cls(layer)

    def __enter__(self) -> TargetTail:
        # into the instance's __dict__: nn.Module.__setattr__ would not take a plain function
        vars(self.layer)["forward"] = self._forward
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        vars(self.layer).pop("forward", None)

    def _forward(
        self, hidden_states: Any, *args: Any, position_embeddings: Any = None, **kwargs: Any
    ) -> Any:
        start = self.start
        if (
            start <= 0
            or position_embeddings is None
            or kwargs.get("cache") is not None
            or kwargs.get("past_key_values") is not None
        ):
            return self._full(
                hidden_states, *args, position_embeddings=position_embeddings, **kwargs
            )
        layer = self.layer
        residual = hidden_states[:, start:]
        normed = layer.input_layernorm(hidden_states)
        h = residual + _attention_tail(layer.self_attn, normed, start, position_embeddings)
        return h + layer.mlp(layer.post_attention_layernorm(h))


def _sliceable(proj: Any) -> str | None:
    """How ``proj`` can be applied to a slice of positions: "linear", "lora", or None."""
    import torch
    from peft.tuners.lora import Linear as LoraLinear

    if type(proj) is torch.nn.Linear:
        return "linear"
    if type(proj) is not LoraLinear:
        return None
    module = cast(Any, proj)  # peft's attributes are untyped
    if module.merged or module.disable_adapters or type(module.base_layer) is not torch.nn.Linear:
        return None
    if any(a in module.lora_variant for a in module.active_adapters):
        return None
    return "lora"


def _project_tail(proj: Any, x: Any, start: int) -> Any:
    """``proj(x)[:, start:]`` without computing the other positions (peft's LoRA order: base
    output, then each active adapter's ``B(A(dropout(x))) * scaling`` added)."""
    if _sliceable(proj) == "linear":
        return proj(x[:, start:])
    module = cast(Any, proj)
    result = module.base_layer(x[:, start:])
    out_dtype = result.dtype
    for name in module.active_adapters:
        if name not in module.lora_A:
            continue
        lora_a = module.lora_A[name]
        xa = module._cast_input_dtype(x, lora_a.weight.dtype)
        # dropout over every position: the random stream stays the full layer's
        dropped = module.lora_dropout[name](xa)[:, start:]
        result = result + module.lora_B[name](lora_a(dropped)) * module.scaling[name]
    return result.to(out_dtype)


def _attention_tail(attn: Any, hidden: Any, start: int, position_embeddings: Any) -> Any:
    """Llama attention's output at positions ``start:``, keys and values from every position.
    Causal only: rows are right-padded, so no real position ever sees a pad."""
    import torch
    import torch.nn.functional as F
    from transformers.models.llama.modeling_llama import repeat_kv, rotate_half

    batch, width, _ = hidden.shape
    n_q = width - start
    head_dim = attn.head_dim
    q = _project_tail(attn.q_proj, hidden, start).view(batch, n_q, -1, head_dim).transpose(1, 2)
    k = attn.k_proj(hidden).view(batch, width, -1, head_dim).transpose(1, 2)
    v = attn.v_proj(hidden).view(batch, width, -1, head_dim).transpose(1, 2)
    # Llama's rotary embedding, with the queries' angles sliced to their positions
    cos, sin = position_embeddings[0].unsqueeze(1), position_embeddings[1].unsqueeze(1)
    q = q * cos[:, :, start:] + rotate_half(q) * sin[:, :, start:]
    k = k * cos + rotate_half(k) * sin
    groups = q.shape[1] // k.shape[1]
    k, v = repeat_kv(k, groups), repeat_kv(v, groups)
    # query i sits at position start + i: it sees keys 0 .. start + i
    keys = torch.arange(width, device=hidden.device)
    queries = torch.arange(start, width, device=hidden.device)
    allowed = keys[None, :] <= queries[:, None]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=attn.scaling)
    out = out.transpose(1, 2).reshape(batch, n_q, -1)
    return attn.o_proj(out)
