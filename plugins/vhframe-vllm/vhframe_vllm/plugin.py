"""vhframe plugin entry point (``[project.entry-points.vhframe] vllm``).

Nothing here imports vLLM: the plugin must list and register on machines without it (and
without a GPU). The class is registered directly so that its parameters stay visible.
"""

from __future__ import annotations

from vhframe import hookimpl
from vhframe.hookspecs import Register
from vhframe_vllm.engine import VllmEngine


@hookimpl
def register_generators(register: Register) -> None:
    register(
        "engine",
        VllmEngine,
        description="vLLM on CUDA GPUs: one base model, one "
        "LoRARequest per adapter, per-request seeds (needs pip install vllm)",
    )
