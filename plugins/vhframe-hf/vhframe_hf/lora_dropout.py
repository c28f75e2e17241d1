"""LoRA dropout masks drawn from numpy's PCG64 instead of torch's CPU generator.

On the CPU, torch draws dropout masks one element at a time from its Mersenne Twister
(``bernoulli_``): on the tiny model that is about a tenth of a training step, more than the
attention. numpy's PCG64 fills a block of uniform floats several times faster. The masks mean
the same (each element kept with probability ``1 - p``, kept ones scaled by ``1 / (1 - p)``,
as ``torch.nn.functional.dropout`` does); only the draws differ, so a training that uses this
trains with other dropout masks than one that does not, reproducibly for a given seed.

Only peft's LoRA dropout modules that are exactly ``torch.nn.Dropout`` with ``p > 0`` are
replaced, only while the context is entered, and only in training mode.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any


class PcgDropout:
    """Context manager: inside, the model's LoRA dropouts draw from one PCG64 generator seeded
    with :meth:`reseed`."""

    def __init__(self, modules: list[Any], seed: int = 0) -> None:
        self.modules = modules
        self.reseed(seed)

    @classmethod
    def build(cls, model: Any) -> PcgDropout | None:
        """For a peft model's LoRA layers, or None when none of them drops anything."""
        import torch
        from peft.tuners.lora import LoraLayer

        found = []
        for module in model.modules():
            if not isinstance(module, LoraLayer):
                continue
            for drop in module.lora_dropout.values():
                if type(drop) is torch.nn.Dropout and drop.p > 0 and not drop.inplace:
                    found.append(drop)
        return cls(found) if found else None

    def reseed(self, seed: int) -> None:
        import numpy as np

        self._rng = np.random.Generator(np.random.PCG64(seed))

    def _forward(self, module: Any) -> Callable[[Any], Any]:
        import numpy as np
        import torch

        def forward(x: Any) -> Any:
            if not module.training:
                return x
            p = module.p
            noise = torch.from_numpy(self._rng.random(x.numel(), dtype=np.float32))
            # 1.0 where kept, then scaled: the mask torch's dropout multiplies by
            noise = noise.ge_(p).div_(1 - p).view(x.shape).to(device=x.device, dtype=x.dtype)
            return x * noise

        return forward

    def __enter__(self) -> PcgDropout:
        # into the instance's __dict__, like the other per-call patches of this package
        for m in self.modules:
            vars(m)["forward"] = self._forward(m)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for m in self.modules:
            vars(m).pop("forward", None)
