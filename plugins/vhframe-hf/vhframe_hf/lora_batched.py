"""Mixed-LoRA batches with two dense products per LoRA layer, whatever the adapter count.

peft's per-row adapters (``adapter_names``) loop, in every LoRA layer and at every decoding
step, over the adapters present in the batch: select their rows, two small products, add the
result back into those rows; and every forward call first walks all modules to install and
remove hooks. With a handful of adapters per batch that costs more than the batching saves on
small models (benches/RESULTS.md).

Here, once per batch, each LoRA layer's A matrices of the batch's adapters are concatenated
into one (K, in) matrix and its B matrices into one (out, K) matrix, K the sum of their ranks.
A row's delta is then ``((x Aᵀ) ⊙ m) Bᵀ · s``: ``m`` is 1 on the K-slice of the row's own
adapter and 0 elsewhere, ``s`` the adapter's scaling. For the batch, every LoRA layer's
``forward`` is replaced (an instance attribute, removed afterwards) by its base layer plus that
delta, or by its base layer alone where none of the batch's adapters reaches: peft's own
forward, and toggling peft's adapters off and on (which walks the whole model for its status
each time), are bypassed, and nothing of peft's state changes.
Every row pays for all K columns, k adapters' worth of LoRA products instead of one; next to
the base layer's (in × out) product that is small while K stays well under ``in`` (14
adapters of rank 8 on a 4096-wide 7B layer: K = 112).

Exactness: for a row, the masked-out terms are exact zeros and the order of operations is
peft's (A, then B, then the scaling, then added to the base output), so the delta equals the
adapter-alone one up to the summation order the matrix kernels choose for the wider matrices:
last-bit rounding, as with any change of batch shape (see :mod:`vhframe_hf.generator`).

Only plain LoRA on linear layers is handled (no DoRA or other variants, no LoRA bias, not
merged); :func:`MixedLora.build` returns None otherwise and the caller keeps peft's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, cast

BASE = "__base__"  # the row name peft uses for "no adapter"; kept for the same meaning here


class _Layer:
    """One LoRA layer's concatenated matrices and the per-row mask and scaling."""

    def __init__(self, module: Any, a: Any, b: Any, mask: Any, scale: Any) -> None:
        self.module = module
        self.base = module.base_layer
        self.a = a  # (K, in)
        self.b = b  # (out, K)
        self.full_mask = mask  # (rows, 1, K), one row per batch row
        self.full_scale = scale  # (rows, 1, 1)
        self.mask = mask
        self.scale = scale

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        out = self.base(x, *args, **kwargs)
        h = (x.to(self.a.dtype) @ self.a.T) * self.mask
        delta = (h @ self.b.T) * self.scale
        return out + delta.to(out.dtype)


class MixedLora:
    """Per-row LoRA for a peft model over a batch whose rows name their adapters.

    Use as a context manager around the model calls: inside, the LoRA layers compute each
    row's own delta. :meth:`use_rows` says which of the batch's rows the next calls hold (rows
    leave as they finish, or one row stands for several samples).
    """

    def __init__(self, model: Any, layers: list[_Layer], bare: list[Any]) -> None:
        self.model = model
        self.layers = layers
        self.bare = bare  # LoRA layers none of the batch's adapters reaches: base layer only
        self._rows: tuple[int, ...] | None = None
        self._patched: list[Any] = []

    @classmethod
    def build(cls, model: Any, names: Sequence[str]) -> MixedLora | None:
        """Prepare ``model`` (a ``PeftModel``) for rows using adapters ``names`` (peft adapter
        names, ``"__base__"`` for none); None when some layer or adapter needs peft's path."""
        import torch
        from peft import PeftModel, PeftType
        from peft.tuners.lora import Linear as LoraLinear
        from peft.tuners.lora import LoraLayer

        if not isinstance(model, PeftModel):
            return None
        used = [n for n in dict.fromkeys(names) if n != BASE]
        for n in used:
            config = model.peft_config.get(n)
            if config is None or config.peft_type != PeftType.LORA:
                return None
        layers: list[_Layer] = []
        bare: list[Any] = []
        for found in model.modules():
            if not isinstance(found, LoraLayer):
                continue
            module = cast(Any, found)  # peft's attributes are untyped
            if "forward" in vars(module):
                return None  # someone else already replaced it; do not stack on that
            here = [n for n in used if n in module.lora_A or n in module.lora_embedding_A]
            if not here:
                bare.append(module)
                continue
            kind: type = type(found)  # exactly peft's Linear: a subclass may differ in forward
            if (
                kind is not LoraLinear
                or module.merged
                or any(
                    n in module.lora_variant
                    or n not in module.lora_A
                    or module.lora_B[n].bias is not None
                    for n in here
                )
            ):
                return None
            a = torch.cat([module.lora_A[n].weight for n in here])
            b = torch.cat([module.lora_B[n].weight for n in here], dim=1)
            start, span = 0, {}
            for n in here:
                r = module.lora_A[n].weight.shape[0]
                span[n] = (start, start + r)
                start += r
            mask = torch.zeros((len(names), 1, a.shape[0]), dtype=a.dtype, device=a.device)
            scale = torch.zeros((len(names), 1, 1), dtype=a.dtype, device=a.device)
            for row, n in enumerate(names):
                if n in span:
                    lo, hi = span[n]
                    mask[row, 0, lo:hi] = 1.0
                    scale[row] = module.scaling[n]
            layers.append(_Layer(module, a, b, mask, scale))
        return cls(model, layers, bare)

    def use_rows(self, rows: Sequence[int]) -> None:
        """The next calls hold the batch's ``rows`` (indices into ``names``), in this order."""
        key = tuple(rows)
        if key == self._rows:
            return
        self._rows = key
        import torch

        for lay in self.layers:
            if key == tuple(range(lay.full_mask.shape[0])):
                lay.mask, lay.scale = lay.full_mask, lay.full_scale
            else:
                idx = torch.tensor(key, device=lay.full_mask.device)
                lay.mask, lay.scale = lay.full_mask[idx], lay.full_scale[idx]

    def __enter__(self) -> MixedLora:
        # into the instance's __dict__ directly: nn.Module.__setattr__ would register a module
        # value (the base layer) as a child named "forward"
        for lay in self.layers:
            vars(lay.module)["forward"] = lay.forward
            self._patched.append(lay.module)
        for module in self.bare:
            vars(module)["forward"] = module.base_layer
            self._patched.append(module)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        while self._patched:
            vars(self._patched.pop()).pop("forward", None)
