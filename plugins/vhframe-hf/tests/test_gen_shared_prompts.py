"""Shared prompt passes: the samples of one prompt run its prefill once, same texts as before."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from test_generator import PROMPTS, requests
from test_mixed_lora import SHAPES, build_adapter
from vhframe_hf.generator import BatchedGenerator

from vhframe.context import RunContext
from vhframe.records import GenerationRequest

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

SAMPLES = 4


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory, tiny: Path) -> list[str]:
    root = tmp_path_factory.mktemp("shared-adapters")
    return [
        str(build_adapter(tiny, root / f"ad{i}", seed=10 + i, **shape))
        for i, shape in enumerate(SHAPES[:2])
    ]


def sampled(
    adapters: list[str | None], prompts: list[str] = PROMPTS, **kw: Any
) -> list[GenerationRequest]:
    """``SAMPLES`` samples of every prompt for every subject, each with its own seed, in the
    pipeline's order (subject, item, sample)."""
    out = []
    for k, adapter in enumerate(adapters):
        for r in requests(prompts, adapter=adapter, **kw):
            for s in range(SAMPLES):
                out.append(dataclasses.replace(r, sample=s, seed=r.seed * 31 + 7 * s + 1000 * k))
    return out


def by_plan(g: BatchedGenerator, ctx: RunContext, reqs: list[GenerationRequest]) -> list[str]:
    texts: dict[int, str] = {}
    for batch in g.plan(reqs):
        for r, t in zip(batch, g.generate(ctx, batch), strict=True):
            texts[id(r)] = t
    return [texts[id(r)] for r in reqs]


class PrefillRows:
    """Records the batch size of every prompt pass (a forward call over more than one token)."""

    def __init__(self, g: BatchedGenerator, ctx: RunContext) -> None:
        g.generate(ctx, requests(PROMPTS[:1], max_new=1))  # load the model
        self.model = next(iter(g._loaded.values())).model
        self.rows: list[int] = []
        embed = self.model.get_input_embeddings()
        self.handle = embed.register_forward_hook(self._hook)

    def _hook(self, _module: Any, args: Any, _out: Any) -> None:
        if args[0].shape[1] > 1:
            self.rows.append(int(args[0].shape[0]))

    def close(self) -> None:
        self.handle.remove()


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_samples_share_the_prompt_pass_and_texts_do_not_change(
    ctx: RunContext, adapters: list[str], temperature: float
) -> None:
    subjects: list[str | None] = [None, *adapters]
    reqs = sampled(subjects, temperature=temperature, top_p=0.95, max_new=12)
    shared = BatchedGenerator(batch_size=64)
    rows = PrefillRows(shared, ctx)
    try:
        got = shared.generate(ctx, reqs)  # one mixed batch: 3 subjects x 7 prompts x 4 samples
    finally:
        rows.close()
    assert rows.rows == [len(subjects) * len(PROMPTS)]  # one prompt pass per prompt, not 84
    # the path without sharing, and each sample decoded alone, give the same texts
    plain = BatchedGenerator(batch_size=64, share_prompts=False)
    assert plain.generate(ctx, reqs) == got
    alone = BatchedGenerator(mixed_adapters=False)
    assert [alone.generate(ctx, [r])[0] for r in reqs[::5]] == got[::5]
    if temperature > 0:
        # samples of one prompt differ (their own seeds), so the copies really diverge
        first = got[:SAMPLES]
        assert len(set(first)) > 1
    # through plan, with small batches cutting some prompts' samples apart, and in reverse
    small = BatchedGenerator(batch_size=6)
    assert by_plan(small, ctx, list(reversed(reqs))) == list(reversed(got))
    # one adapter per batch takes the same path
    assert by_plan(BatchedGenerator(batch_size=8, mixed_adapters=False), ctx, reqs) == got


def test_plan_keeps_samples_of_a_prompt_together(adapters: list[str]) -> None:
    reqs = sampled([None, adapters[0]])
    scattered = reqs[1::2] + reqs[::2]  # samples of each prompt far apart in the input
    g = BatchedGenerator(batch_size=SAMPLES * 2)
    batches = g.plan(scattered)
    assert g.plan(scattered) == batches
    for b in batches:
        keys = {(r.prompt, r.subject.adapter) for r in b}
        assert len(keys) * SAMPLES == len(b)  # whole items only: 4 samples of each prompt


def test_share_prompts_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="share_prompts must be"):
        BatchedGenerator(share_prompts=1)  # type: ignore[arg-type]
