"""Small torch helpers shared by the trainer and the generator (imported lazily)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from vhframe.context import RunContext

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, found {value!r}")
    return value


def check_int(name: str, value: Any, minimum: int) -> int:
    # bool is an int subclass; `epochs = true` in a config is a mistake, not 1
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, found {value!r}")
    return value


def check_float(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, found {value!r}")
    v = float(value)
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if too_low or too_high or v != v:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name} must be in {lo}{low:g}, {high:g}{hi}, found {value!r}")
    return v


def pick_device(requested: str, ctx: RunContext) -> str:
    """``auto`` follows the run's device, falling back to CUDA when present, else the CPU."""
    import torch

    if requested == "auto":
        requested = ctx.device if ctx.device in ("cpu", "cuda") else "auto"
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA device")
    return requested


def pick_dtype(requested: str, device: str) -> Any:
    import torch

    if requested == "auto":
        # float32 on the CPU keeps results exact and comparable; bf16 is the GPU's sweet spot
        return torch.bfloat16 if device == "cuda" else torch.float32
    return getattr(torch, requested)


@contextlib.contextmanager
def quiet_hf() -> Iterator[None]:
    """Hide transformers' own progress bars (weight loading, shard writing): vhframe draws its
    own, and ``--quiet`` runs must stay quiet."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
