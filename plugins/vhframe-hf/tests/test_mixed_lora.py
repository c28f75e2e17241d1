"""Mixed-LoRA batches: one base model, a different adapter per row, same texts as alone."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from test_generator import PROMPTS, requests
from vhframe_hf.generator import BatchedGenerator

from vhframe.context import RunContext
from vhframe.records import GenerationRequest

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

# differently shaped adapters: the mixed path must not assume shared ranks or targets
SHAPES = [
    {"r": 4, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]},
    {"r": 8, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
    {"r": 2, "lora_alpha": 4, "target_modules": ["gate_proj", "down_proj"]},
]


def build_adapter(base: Path, out: Path, seed: int, **shape: object) -> Path:
    """A LoRA adapter with random non-zero B matrices: changes the text, trains nothing."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(**shape))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.2)
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory, tiny: Path) -> list[str]:
    root = tmp_path_factory.mktemp("adapters")
    return [
        str(build_adapter(tiny, root / f"ad{i}", seed=i, **shape)) for i, shape in enumerate(SHAPES)
    ]


def mixed_requests(adapters: list[str], **kw: object) -> list[GenerationRequest]:
    """Every prompt for the base model and for each adapter, interleaved by prompt."""
    per_subject = [requests(**kw)] + [requests(adapter=a, **kw) for a in adapters]  # type: ignore[arg-type]
    out = []
    for k, reqs in enumerate(per_subject):
        for r in reqs:  # distinct seeds per subject, so sampled rows differ across subjects
            out.append(dataclasses.replace(r, seed=r.seed + 1000 * k))
    return [out[i * len(PROMPTS) + j] for j in range(len(PROMPTS)) for i in range(len(per_subject))]


def by_plan(g: BatchedGenerator, ctx: RunContext, reqs: list[GenerationRequest]) -> list[str]:
    texts: dict[int, str] = {}
    for batch in g.plan(reqs):
        for r, t in zip(batch, g.generate(ctx, batch), strict=True):
            texts[id(r)] = t
    return [texts[id(r)] for r in reqs]


def alone(ctx: RunContext, reqs: list[GenerationRequest]) -> list[str]:
    """Each subject in its own batches, one adapter active at a time."""
    return by_plan(BatchedGenerator(batch_size=len(PROMPTS), mixed_adapters=False), ctx, reqs)


def test_greedy_mixed_equals_each_adapter_alone(ctx: RunContext, adapters: list[str]) -> None:
    reqs = mixed_requests(adapters)
    reference = alone(ctx, reqs)
    subjects = {r.subject.adapter: [] for r in reqs}  # type: dict[str | None, list[str]]
    for r, t in zip(reqs, reference, strict=True):
        subjects[r.subject.adapter].append(t)
    assert len({tuple(v) for v in subjects.values()}) == len(subjects)  # adapters matter
    g = BatchedGenerator(batch_size=8)
    batches = g.plan(reqs)
    assert any(len({r.subject.adapter for r in b}) > 2 for b in batches)  # really mixed
    assert by_plan(g, ctx, reqs) == reference
    assert BatchedGenerator(batch_size=64).generate(ctx, reqs) == reference  # one batch


def test_sampling_mixed_is_batch_independent(ctx: RunContext, adapters: list[str]) -> None:
    reqs = mixed_requests(adapters, temperature=0.9, top_p=0.95, max_new=16)
    reference = alone(ctx, reqs)
    assert BatchedGenerator(batch_size=64).generate(ctx, reqs) == reference
    assert by_plan(BatchedGenerator(batch_size=5), ctx, list(reversed(reqs))) == list(
        reversed(reference)
    )


def test_plan_mixes_subjects_by_length_and_is_pure(adapters: list[str]) -> None:
    reqs = mixed_requests(adapters)
    g = BatchedGenerator(batch_size=6)
    batches = g.plan(reqs)
    assert batches == g.plan(list(reqs)) == BatchedGenerator(batch_size=6).plan(reqs)
    flat = [r for b in batches for r in b]
    assert sorted(map(id, flat)) == sorted(map(id, reqs))
    # length classes ascend; inside one, each adapter's rows are contiguous and length-sorted
    classes = [int(2 * math.log2(len(r.prompt.encode()) + 1)) for r in flat]
    assert classes == sorted(classes)
    for c in set(classes):
        rows = [r for r, k in zip(flat, classes, strict=True) if k == c]
        names = [r.subject.adapter or "" for r in rows]
        assert names == sorted(names)
    assert all(len(b) <= 6 for b in batches)


def test_adapter_bound_is_kept_and_never_evicts_the_batch(
    ctx: RunContext, adapters: list[str]
) -> None:
    reqs = mixed_requests(adapters, max_new=8)
    reference = alone(ctx, reqs)
    g = BatchedGenerator(batch_size=16, max_adapters=2)
    batches = g.plan(reqs)
    assert all(len({r.subject.adapter for r in b} - {None}) <= 2 for b in batches)
    texts: dict[int, str] = {}
    for batch in batches:
        for r, t in zip(batch, g.generate(ctx, batch), strict=True):
            texts[id(r)] = t
        loaded = next(iter(g._loaded.values()))
        assert len(loaded.adapters) <= 2
        used = {str(Path(r.subject.adapter).resolve()) for r in batch if r.subject.adapter}
        assert used <= set(loaded.adapters)
    assert [texts[id(r)] for r in reqs] == reference
    # a batch not made by plan, needing more adapters than the bound, is split, not refused
    assert g.generate(ctx, reqs) == reference
    assert len(next(iter(g._loaded.values())).adapters) <= 2


def test_mixed_adapters_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="mixed_adapters must be"):
        BatchedGenerator(mixed_adapters="yes")  # type: ignore[arg-type]
