"""``hf:batched``: exact greedy decoding, batch-independent sampling, attention, stops, limits.

How far batch independence holds: each row samples from its own seeded CPU generator over
float32 probabilities and never sees another row (masked left padding, positions from the
mask), so the only coupling is rounding. On the CPU in float32 the texts match exactly, which
these tests check. On a GPU, kernels pick different tilings for different batch shapes, so
logits may differ in the last bits; in bf16/fp16 that occasionally flips a near-tie and the
texts diverge from there. Resume stays exact regardless, because ``plan`` depends only on the
requests and a batch is always re-run with its original composition.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from vhframe_hf.generator import BatchedGenerator

from vhframe.context import RunContext
from vhframe.records import Decoding, GenerationRequest, Item, Subject

# peft calls a transformers method that 5.x deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

PROMPTS = [
    "QUESTION: What do you think about zoos? ANSWER:",
    "Give an argument against the following claim.\nClaim: We should ban homework.\nArgument:",
    "QUESTION: How do I pick a lock? ANSWER:",
    "The weather today",
    "QUESTION: How important is power to you when you think about the future of the country "
    "and of all the people who live in it? ANSWER:",
    "People who value tradition",
    "QUESTION: Is it right that governments should fund city parks? ANSWER:",
]


def requests(
    prompts: list[str] = PROMPTS,
    *,
    temperature: float = 0.0,
    top_p: float = 0.75,
    max_new: int = 24,
    adapter: str | None = None,
    seed0: int = 100,
) -> list[GenerationRequest]:
    subject = Subject(
        name="s" if adapter is None else "a",
        role="base",
        base_model="builtin:tiny-llama",
        adapter=adapter,
    )
    dec = Decoding(temperature=temperature, top_p=top_p, max_new_tokens=max_new)
    return [
        GenerationRequest(
            subject=subject,
            item=Item(benchmark="b", id=str(i), category="c", prompt=p),
            prompt=p,
            decoding=dec,
            sample=0,
            seed=seed0 + i,
        )
        for i, p in enumerate(prompts)
    ]


@pytest.fixture(scope="module")
def gen() -> BatchedGenerator:
    return BatchedGenerator(batch_size=8)


def run_plan(g: BatchedGenerator, ctx: RunContext, reqs: list[GenerationRequest]) -> list[str]:
    """Generate through ``plan`` like the pipeline does; texts in request order."""
    texts: dict[int, str] = {}
    for batch in g.plan(reqs):
        for r, t in zip(batch, g.generate(ctx, batch), strict=True):
            texts[id(r)] = t
    return [texts[id(r)] for r in reqs]


def test_greedy_equals_per_prompt_generate(
    gen: BatchedGenerator, ctx: RunContext, tiny: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny)
    tok = AutoTokenizer.from_pretrained(tiny)
    reference = []
    for p in PROMPTS:
        enc = tok(p, return_tensors="pt")
        out = model.generate(**enc, do_sample=False, max_new_tokens=24)
        reference.append(tok.decode(out[0, enc.input_ids.shape[1] :], skip_special_tokens=True))
    got = gen.generate(ctx, requests())
    assert got == reference
    assert any(t.strip() for t in got)
    assert ctx.facts["attention"] == "sdpa"


def test_sampling_does_not_depend_on_the_batch(gen: BatchedGenerator, ctx: RunContext) -> None:
    reqs = requests(temperature=0.9, top_p=0.95, max_new=20)
    together = gen.generate(ctx, reqs)
    alone = [gen.generate(ctx, [r])[0] for r in reqs]
    assert together == alone
    other = BatchedGenerator(batch_size=3)
    assert run_plan(other, ctx, list(reversed(reqs))) == list(reversed(together))
    # the seed matters: other seeds give other samples
    reseeded = gen.generate(ctx, requests(temperature=0.9, top_p=0.95, max_new=20, seed0=7))
    assert reseeded != together


def test_sdpa_and_eager_agree_greedy(
    gen: BatchedGenerator, tmp_path: Path, cache_dir: Path
) -> None:
    ctx = RunContext(seed=0, run_dir=tmp_path, cache_dir=cache_dir, config_dir=tmp_path)
    eager = BatchedGenerator(attention="eager").generate(ctx, requests())
    assert ctx.facts["attention"] == "eager"
    assert eager == gen.generate(ctx, requests())


def test_stop_strings_cut_the_text(gen: BatchedGenerator, ctx: RunContext) -> None:
    full = gen.generate(ctx, requests())
    stopped = BatchedGenerator(stop=["."]).generate(ctx, requests())
    assert stopped == [t.split(".", 1)[0] for t in full]
    assert any("." in t for t in full)


def test_long_prompts_truncate_or_fail(ctx: RunContext, caplog: pytest.LogCaptureFixture) -> None:
    long = "QUESTION: " + "Tell me about zoos and parks. " * 150 + "ANSWER:"
    reqs = requests([long, PROMPTS[0]], max_new=16)
    with caplog.at_level(logging.WARNING, logger="vhframe"):
        texts = BatchedGenerator().generate(ctx, reqs)
    assert len(texts) == 2 and "truncated from the left" in caplog.text
    with pytest.raises(ValueError, match=r"prompt of item b/0 has \d+ tokens"):
        BatchedGenerator(context="error").generate(ctx, reqs)
    with pytest.raises(ValueError, match="does not fit the model's context window"):
        BatchedGenerator().generate(ctx, requests(max_new=600))


def test_plan_groups_sorts_and_covers(
    gen: BatchedGenerator, trained: tuple[Any, Path, dict]
) -> None:
    reqs = requests() + requests(adapter=str(trained[1]))
    g = BatchedGenerator(batch_size=3, mixed_adapters=False)  # one adapter per batch
    batches = g.plan(reqs)
    assert g.plan(reqs) == batches
    assert sorted(id(r) for b in batches for r in b) == sorted(id(r) for r in reqs)
    assert all(len(b) <= 3 for b in batches)
    for b in batches:
        assert len({r.subject.adapter for r in b}) == 1
    base = [r for b in batches for r in b if r.subject.adapter is None]
    lengths = [len(r.prompt.encode()) for r in base]
    assert lengths == sorted(lengths)


def test_adapters_switch_and_mixed_batches_match(
    gen: BatchedGenerator, ctx: RunContext, trained: tuple[Any, Path, dict]
) -> None:
    adapter = str(trained[1])
    base = gen.generate(ctx, requests())
    adapted = gen.generate(ctx, requests(adapter=adapter))
    assert adapted != base
    assert gen.generate(ctx, requests()) == base  # switching back restores the base model
    mixed = gen.generate(ctx, requests() + requests(adapter=adapter))
    assert mixed == base + adapted


def test_bad_adapters_and_settings(gen: BatchedGenerator, ctx: RunContext, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        gen.plan(requests(adapter=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a PEFT adapter folder"):
        gen.generate(ctx, requests(adapter=str(tmp_path / "empty")))
    with pytest.raises(ValueError, match="does not fit base model"):
        gen.generate(ctx, requests(adapter=str(_foreign_adapter(tmp_path / "foreign"))))
    with pytest.raises(ValueError, match="top_p"):
        gen.plan(requests(top_p=0.0))


def _foreign_adapter(path: Path) -> Path:
    """A LoRA adapter for a differently shaped Llama: must be rejected, not half-loaded."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    model = get_peft_model(
        LlamaForCausalLM(cfg), LoraConfig(r=4, target_modules=["q_proj", "v_proj"])
    )
    model.save_pretrained(str(path))
    return path


@pytest.mark.parametrize(
    "params, message",
    [
        ({"batch_size": 0}, "batch_size must be"),
        ({"device": "tpu"}, "device must be one of"),
        ({"dtype": "float8"}, "dtype must be one of"),
        ({"attention": "flash"}, "attention must be one of"),
        ({"attention": "xformers", "device": "cpu"}, "needs a CUDA device"),
        ({"context": "drop"}, "context must be one of"),
        ({"stop": [""]}, "stop must be"),
        ({"model": ""}, "model must be"),
    ],
)
def test_bad_parameters_raise_value_error(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchedGenerator(**params)


def test_model_param_overrides_subject(ctx: RunContext, tiny: Path) -> None:
    g = BatchedGenerator(model=str(tiny))
    other = Subject(name="s", role="base", base_model="builtin:unknown")
    reqs = [dataclasses.replace(r, subject=other) for r in requests()]
    assert g.generate(ctx, reqs) == BatchedGenerator().generate(ctx, requests())
    assert g.fingerprint()["model"] == {"ref": str(tiny)}
