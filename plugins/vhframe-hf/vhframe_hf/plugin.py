"""vhframe plugin entry point (``[project.entry-points.vhframe] hf``).

``vhframe plugins`` imports every plugin, so nothing imported here may pull in torch,
transformers or peft: the component modules import them inside their methods. The classes are
registered directly so that their signatures (and so the accepted parameters) stay visible.
"""

from __future__ import annotations

from vhframe import hookimpl
from vhframe.hookspecs import Register
from vhframe_hf.generator import BatchedGenerator
from vhframe_hf.trainer import LoraTrainer


@hookimpl
def register_trainers(register: Register) -> None:
    register(
        "lora",
        LoraTrainer,
        description="LoRA value alignment (VIM argument stage) of a "
        "causal LM; paper defaults r 8, alpha 32, lr 2e-5, 5 epochs, best by validation",
    )


@hookimpl
def register_generators(register: Register) -> None:
    register(
        "batched",
        BatchedGenerator,
        description="batched KV-cache generation with "
        "per-request seeds, left padding, length-sorted batches, one adapter per batch",
    )
