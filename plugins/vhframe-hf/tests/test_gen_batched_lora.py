"""Batched LoRA products for mixed batches: same texts as each adapter alone and as peft's
per-row path; unsupported adapters fall back to peft; the model is left as it was found."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from test_generator import PROMPTS
from test_mixed_lora import SHAPES, alone, build_adapter, mixed_requests
from vhframe_hf.generator import BatchedGenerator
from vhframe_hf.lora_batched import MixedLora

from vhframe.context import RunContext
from vhframe.records import GenerationRequest

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory, tiny: Path) -> list[str]:
    root = tmp_path_factory.mktemp("batched-adapters")
    return [
        str(build_adapter(tiny, root / f"ad{i}", seed=20 + i, **shape))
        for i, shape in enumerate(SHAPES)
    ]


def ragged(reqs: list[GenerationRequest]) -> list[GenerationRequest]:
    """Different max_new_tokens per row, so rows leave the batch at different steps."""
    return [
        dataclasses.replace(
            r, decoding=dataclasses.replace(r.decoding, max_new_tokens=4 + 5 * (i % 4))
        )
        for i, r in enumerate(reqs)
    ]


class Calls:
    """Counts how often the batched path's layers run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from vhframe_hf import lora_batched

        self.n = 0
        real = lora_batched._Layer.forward

        def forward(layer: Any, *args: Any, **kwargs: Any) -> Any:
            self.n += 1
            return real(layer, *args, **kwargs)

        monkeypatch.setattr(lora_batched._Layer, "forward", forward)


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_batched_lora_equals_adapters_alone_and_peft_rows(
    ctx: RunContext, adapters: list[str], temperature: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    reqs = ragged(mixed_requests(adapters, temperature=temperature, top_p=0.95, max_new=16))
    reference = alone(ctx, reqs)
    calls = Calls(monkeypatch)
    batched = BatchedGenerator(batch_size=64)
    got = batched.generate(ctx, reqs)  # one batch: base rows and three adapters together
    assert calls.n > 0  # the batched path ran, not peft's
    assert got == reference
    seen = calls.n
    peft_rows = BatchedGenerator(batch_size=64, batched_lora=False)
    assert peft_rows.generate(ctx, reqs) == reference
    assert calls.n == seen  # and peft's path does not use it
    # small batches through plan (rows of one prompt's samples and adapters cut apart)
    texts: dict[int, str] = {}
    small = BatchedGenerator(batch_size=5)
    for batch in small.plan(reqs):
        for r, t in zip(batch, small.generate(ctx, batch), strict=True):
            texts[id(r)] = t
    assert [texts[id(r)] for r in reqs] == reference


def test_model_is_left_as_found(ctx: RunContext, adapters: list[str]) -> None:
    g = BatchedGenerator(batch_size=64)
    reqs = mixed_requests(adapters, max_new=4)
    g.generate(ctx, reqs)
    model = next(iter(g._loaded.values())).model

    def patched() -> int:
        return sum("forward" in vars(m) for m in model.modules())

    assert model.get_model_status().enabled is True and patched() == 0
    assert (
        "forward"
        not in dict(model.named_modules())[
            "base_model.model.model.layers.0.self_attn.q_proj"
        ]._modules
    )
    # an error inside the batch also restores it
    names = list(next(iter(g._loaded.values())).adapters.values())
    lora = MixedLora.build(model, names[:1] * 2)
    assert lora is not None and lora.layers and lora.bare  # SHAPES[0] is q/v only
    with pytest.raises(RuntimeError, match="boom"), lora:
        assert patched() == len(lora.layers) + len(lora.bare)
        raise RuntimeError("boom")
    assert patched() == 0 and model.get_model_status().enabled is True


# peft's save check mistakes the 1-D LoRA bias for an unsharded tensor
@pytest.mark.filterwarnings("ignore:.*have invalid shape")
@pytest.mark.filterwarnings("ignore:.*lora_bias=True. was passed")
def test_unsupported_adapters_fall_back_to_peft(
    ctx: RunContext, tiny: Path, tmp_path: Path, adapters: list[str]
) -> None:
    # a LoRA bias (in B) is not something the batched products carry
    biased = str(
        build_adapter(
            tiny,
            tmp_path / "biased",
            seed=5,
            r=4,
            lora_alpha=8,
            target_modules=["q_proj", "v_proj"],
            lora_bias=True,
        )
    )
    g = BatchedGenerator(batch_size=64)
    reqs = mixed_requests([adapters[0], biased], max_new=12)
    got = g.generate(ctx, reqs)
    model = next(iter(g._loaded.values())).model
    names = list(next(iter(g._loaded.values())).adapters.values())
    assert MixedLora.build(model, names) is None  # the biased adapter: peft's path
    assert MixedLora.build(model, names[:1]) is not None  # plain LoRA alone: batched
    assert got == alone(ctx, reqs)
    assert len(PROMPTS) * 3 == len(got)


def test_batched_lora_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="batched_lora must be"):
        BatchedGenerator(batched_lora="yes")  # type: ignore[arg-type]
