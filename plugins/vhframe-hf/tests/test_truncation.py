"""``hf:batched`` left truncation, checked on token ids.

A prompt longer than the context window leaves room for ``max_new_tokens`` keeps its BOS and
its last tokens (the question it ends with), and the text generated from it is what a plain
greedy loop produces on exactly those ids.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from vhframe_hf.generator import BatchedGenerator

from vhframe.context import RunContext
from vhframe.records import Decoding, GenerationRequest, Item, Subject

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

HEAD = "Give an argument against the following claim.\nClaim: We should ban homework.\n"
TAIL = "QUESTION: What do you think about zoos? ANSWER:"
LONG = HEAD + "Tell me about parks and old trees. " * 50 + TAIL
SHORT = "QUESTION: Is it right that governments should fund city parks? ANSWER:"
MAX_NEW = 16


def request(prompt: str, max_new: int = MAX_NEW, i: int = 0) -> GenerationRequest:
    subject = Subject(name="s", role="base", base_model="builtin:tiny-llama")
    return GenerationRequest(
        subject=subject,
        item=Item(benchmark="b", id=str(i), category="c", prompt=prompt),
        prompt=prompt,
        decoding=Decoding(temperature=0.0, top_p=1.0, max_new_tokens=max_new),
        sample=0,
        seed=i,
    )


def reference_greedy(model: Any, tok: Any, ids: list[int], max_new: int) -> str:
    """A plain greedy loop: the whole sequence through the model at every step, no cache."""
    import torch

    eos = model.generation_config.eos_token_id
    eos_ids = set(eos) if isinstance(eos, list) else {eos}
    seq, new = list(ids), []
    with torch.no_grad():
        for _ in range(max_new):
            token = int(model(input_ids=torch.tensor([seq])).logits[0, -1].argmax())
            if token in eos_ids:
                break
            seq.append(token)
            new.append(token)
    return str(tok.decode(new, skip_special_tokens=True))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, tiny: Path) -> Any:
    base = tmp_path_factory.mktemp("trunc")
    ctx = RunContext(seed=0, run_dir=base, cache_dir=cache_dir, config_dir=base)
    gen = BatchedGenerator()
    return gen, gen._load(ctx, "builtin:tiny-llama")


def test_long_prompt_keeps_bos_and_its_last_tokens(ctx: RunContext, loaded: Any) -> None:
    gen, state = loaded
    tok, model = state.tokenizer, state.model
    window = model.config.max_position_embeddings
    ids = tok(LONG)["input_ids"]
    bos = tok.bos_token_id
    room = window - MAX_NEW
    assert ids[0] == bos and len(ids) > window  # the premise: BOS first, far too long
    got = gen._prompt_ids(ctx, state, model, request(LONG))
    assert len(got) == room
    assert got[0] == bos
    assert got[1:] == ids[len(ids) - room + 1 :]  # the end of the prompt, up to its last id
    assert tok.decode(got[-12:]).endswith("ANSWER:")


def test_truncation_starts_one_token_past_the_window(ctx: RunContext, loaded: Any) -> None:
    """At the boundary: a prompt that just fits is kept whole; one token more drops exactly
    the first token after BOS."""
    gen, state = loaded
    tok, model = state.tokenizer, state.model
    window = model.config.max_position_embeddings
    ids = tok(SHORT)["input_ids"]
    fits = request(SHORT, max_new=window - len(ids))
    assert gen._prompt_ids(ctx, state, model, fits) == ids
    over = request(SHORT, max_new=window - len(ids) + 1)
    assert gen._prompt_ids(ctx, state, model, over) == ids[:1] + ids[2:]


def test_truncated_generation_equals_a_plain_loop_on_the_kept_ids(
    ctx: RunContext, loaded: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, state = loaded
    tok, model = state.tokenizer, state.model
    window = model.config.max_position_embeddings
    ids = tok(LONG)["input_ids"]
    room = window - MAX_NEW
    kept = ids[:1] + ids[len(ids) - room + 1 :]
    expected = reference_greedy(model, tok, kept, MAX_NEW)
    # the check has power: keeping the head instead would give another text
    assert reference_greedy(model, tok, ids[:room], MAX_NEW) != expected
    short = reference_greedy(model, tok, tok(SHORT)["input_ids"], MAX_NEW)
    # in one batch with a short prompt (left padding) and through a fresh generator
    with caplog.at_level(logging.WARNING, logger="vhframe"):
        texts = BatchedGenerator().generate(ctx, [request(LONG), request(SHORT, i=1)])
    assert texts == [expected, short]
    assert expected.strip()
    assert "truncated from the left" in caplog.text
