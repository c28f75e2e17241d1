"""Choice of the attention kernel a generator's model runs with.

The model code is never forked: the choice is passed to ``from_pretrained`` as
``attn_implementation``, which selects an entry of transformers' attention interface.
``xformers`` (memory-efficient attention on CUDA) is reserved here and will be registered
into that interface by the generation engine; until then it is rejected with a clear error.
"""

from __future__ import annotations

import importlib.util

ATTENTIONS = ("auto", "sdpa", "eager", "xformers")


def xformers_available() -> bool:
    return importlib.util.find_spec("xformers") is not None


def check_attention(requested: str, device: str) -> None:
    """Reject choices that cannot work on ``device`` ("auto", "cpu" or "cuda") early."""
    if requested not in ATTENTIONS:
        raise ValueError(f"attention must be one of {', '.join(map(repr, ATTENTIONS))}, "
                         f"found {requested!r}")
    if requested != "xformers":
        return
    if device == "cpu":
        raise ValueError("attention 'xformers' needs a CUDA device; use 'sdpa' or 'eager' on "
                         "the CPU")
    if device == "auto":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("attention 'xformers' needs a CUDA device and torch sees none; use "
                             "'sdpa' or 'eager'")
    if not xformers_available():
        raise ValueError("attention 'xformers' needs the xformers package "
                         "(pip install 'vhframe-hf[xformers]')")
    raise ValueError("attention 'xformers' is not available in this version of vhframe-hf yet; "
                     "use 'sdpa'")


def resolve_attention(requested: str, device: str) -> str:
    """The ``attn_implementation`` to load the model with, for a resolved ``device``."""
    check_attention(requested, device)
    if requested == "auto":
        # SDPA everywhere for now; "auto" picks xformers on CUDA once it is registered.
        return "sdpa"
    return requested
