"""``hf:batched`` sampling against known distributions.

On fixed logits, ``_choose`` must draw from exactly the nucleus (the smallest prefix of the
tokens by probability whose mass reaches ``top_p``: the token that crosses ``top_p`` is kept,
the top token always is) with the probabilities of ``softmax(logits / T)`` renormalised over
it; a chi-square goodness-of-fit test checks the draws at several temperatures. End to end,
the generator's first tokens on the tiny model follow the distribution computed from a plain
forward pass of the same model, for each row's own temperature and ``top_p``.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from scipy import stats
from vhframe_hf.generator import BatchedGenerator, _choose

from vhframe.context import RunContext
from vhframe.records import Decoding, GenerationRequest, Item, Subject

# Token probabilities at T = 1, placed out of rank order so that a sampler that forgets to map
# sorted positions back to token ids draws the wrong tokens. By rank: 1, 3, 5, 2, 4, 0 with
# cumulative masses 0.40, 0.65, 0.80, 0.90, 0.96, 1.
PROBS = [0.04, 0.40, 0.10, 0.25, 0.06, 0.15]
N_DRAWS = 4000
# The p-value below which a fit is rejected. The draws are seeded, so a correct sampler passes
# deterministically; the planted bugs (temperature ignored, nucleus off by one) give p-values
# far below it.
ALPHA = 1e-3


def logits_for(probs: list[float]) -> Any:
    import torch

    return torch.tensor([math.log(p) for p in probs], dtype=torch.float32)


def nucleus_probs(logits: list[float], temperature: float, top_p: float) -> dict[int, float]:
    """The reference: softmax(logits / T) in float64, the smallest prefix by probability whose
    mass reaches ``top_p`` (at least one token), renormalised. Token id -> probability."""
    z = [x / temperature for x in logits]
    top = max(z)
    w = [math.exp(x - top) for x in z]
    total = sum(w)
    probs = [x / total for x in w]
    ranked = sorted(range(len(probs)), key=lambda i: -probs[i])
    kept, mass = [], 0.0
    for i in ranked:
        kept.append(i)
        mass += probs[i]
        if mass >= top_p:
            break
    norm = sum(probs[i] for i in kept)
    return {i: probs[i] / norm for i in kept}


def boundary_margin(logits: list[float], temperature: float, top_p: float) -> float:
    """How far ``top_p`` lies from every cumulative mass: the nucleus is only well defined in
    floating point when this is not tiny."""
    z = [x / temperature for x in logits]
    top = max(z)
    w = sorted((math.exp(x - top) for x in z), reverse=True)
    total = sum(w)
    cum = [sum(w[: k + 1]) / total for k in range(len(w))]
    return min(abs(c - top_p) for c in cum)


def draws(
    logits: Any, temperature: float, top_p: float, n: int = N_DRAWS, seed: int = 1234
) -> Counter[int]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    return Counter(_choose(logits, temperature, top_p, gen) for _ in range(n))


@pytest.mark.parametrize(
    "top_p, nucleus",
    [
        (0.10, {1}),  # the top token alone already exceeds top_p: it is kept
        (0.399, {1}),
        (0.401, {1, 3}),  # token 3 crosses top_p: kept
        (0.70, {1, 3, 5}),
        (0.85, {1, 3, 5, 2}),
        (0.95, {1, 3, 5, 2, 4}),
        (0.97, {0, 1, 2, 3, 4, 5}),
        (1.0, {0, 1, 2, 3, 4, 5}),
    ],
)
def test_nucleus_is_exactly_the_tokens_up_to_the_crossing_one(
    top_p: float, nucleus: set[int]
) -> None:
    logits = logits_for(PROBS)
    assert set(nucleus_probs(logits.tolist(), 1.0, top_p)) == nucleus  # the reference agrees
    # every kept token has probability >= 0.04 here, so 2000 draws show each of them
    assert set(draws(logits, 1.0, top_p, n=2000)) == nucleus


@pytest.mark.parametrize("top_p, size", [(0.25, 1), (0.5, 2), (0.75, 3)])
def test_mass_landing_exactly_on_top_p_closes_the_nucleus(top_p: float, size: int) -> None:
    """Four tied tokens of probability exactly 1/4 in float32 (the others underflow next to
    them): when the kept tokens' mass equals ``top_p`` exactly, the next token is not kept.
    Ties keep their index order (a stable sort), so the kept tokens are the first ones."""
    import torch

    logits = torch.tensor([-40.0, 0.0, 0.0, -40.0, 0.0, 0.0])
    probs = torch.softmax(logits, dim=-1)
    assert probs[[1, 2, 4, 5]].tolist() == [0.25] * 4  # the premise: exact quarters
    tied = [1, 2, 4, 5]
    assert set(draws(logits, 1.0, top_p, n=2000)) == set(tied[:size])


@pytest.mark.parametrize(
    "temperature, top_p",
    [
        (0.5, 0.88),
        (1.0, 0.88),
        (2.0, 0.88),
        (0.7, 1.0),
        (1.6, 0.5),
    ],
)
def test_draws_fit_the_tempered_nucleus_distribution(temperature: float, top_p: float) -> None:
    logits = logits_for(PROBS)
    raw = logits.tolist()
    assert top_p == 1.0 or boundary_margin(raw, temperature, top_p) > 0.01
    expected = nucleus_probs(raw, temperature, top_p)
    counts = draws(logits, temperature, top_p)
    assert set(counts) <= set(expected)  # nothing outside the nucleus
    tokens = sorted(expected)
    observed = [counts[t] for t in tokens]
    fit = stats.chisquare(observed, [N_DRAWS * expected[t] for t in tokens])
    assert fit.pvalue > ALPHA, (temperature, top_p, observed, expected)


def test_temperature_changes_the_distribution() -> None:
    """The power check behind the fits above: draws at T = 0.5 do not fit T = 2's law."""
    logits = logits_for(PROBS)
    counts = draws(logits, 0.5, 1.0)
    expected = nucleus_probs(logits.tolist(), 2.0, 1.0)
    tokens = sorted(expected)
    fit = stats.chisquare([counts[t] for t in tokens], [N_DRAWS * expected[t] for t in tokens])
    assert fit.pvalue < 1e-12


def test_temperature_zero_is_greedy() -> None:
    import torch

    logits = logits_for(PROBS)
    gen = torch.Generator().manual_seed(0)
    assert {_choose(logits, 0.0, 0.5, gen) for _ in range(50)} == {1}


# ------------------------------------------------------------------------------ end to end
PROMPT = "QUESTION: What do you think about zoos? ANSWER:"
#: (temperature, top_p) pairs drawn in one batch: the rows must each use their own.
SETTINGS = [(0.7, 0.8), (1.5, 0.5)]
N_ROWS = 3000


def _requests(temperature: float, top_p: float, seed0: int, n: int) -> list[GenerationRequest]:
    subject = Subject(name="s", role="base", base_model="builtin:tiny-llama")
    dec = Decoding(temperature=temperature, top_p=top_p, max_new_tokens=1)
    item = Item(benchmark="b", id="0", category="c", prompt=PROMPT)
    return [
        GenerationRequest(
            subject=subject, item=item, prompt=PROMPT, decoding=dec, sample=k, seed=seed0 + k
        )
        for k in range(n)
    ]


def _reference_logits(tiny: Path) -> tuple[list[float], Any]:
    """Next-token logits of PROMPT from one plain forward pass, and the tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor([tok(PROMPT)["input_ids"]]))
    return out.logits[0, -1].double().tolist(), tok


@pytest.mark.slow
def test_generated_first_tokens_follow_the_models_distribution(ctx: RunContext, tiny: Path) -> None:
    logits, tok = _reference_logits(tiny)
    reqs: list[GenerationRequest] = []
    for k, (t, p) in enumerate(SETTINGS):
        reqs += _requests(t, p, seed0=100_000 * k, n=N_ROWS)
    # greedy rows in the same batch take the argmax
    reqs += _requests(0.0, 0.8, seed0=900_000, n=5)
    # interleave the settings: a batch whose rows all took one row's decoding would fail
    reqs = reqs[::2] + reqs[1::2]
    texts = BatchedGenerator(batch_size=len(reqs)).generate(ctx, reqs)

    argmax = max(range(len(logits)), key=lambda i: logits[i])
    greedy = {t for r, t in zip(reqs, texts, strict=True) if r.decoding.temperature == 0.0}
    assert greedy == {tok.decode([argmax], skip_special_tokens=True)}

    for temperature, top_p in SETTINGS:
        assert boundary_margin(logits, temperature, top_p) > 1e-3
        got = Counter(
            t
            for r, t in zip(reqs, texts, strict=True)
            if (r.decoding.temperature, r.decoding.top_p) == (temperature, top_p)
        )
        # one-token texts: tokens that decode alike are one outcome
        expected: Counter[str] = Counter()
        for i, q in nucleus_probs(logits, temperature, top_p).items():
            expected[tok.decode([i], skip_special_tokens=True)] += q
        assert len(expected) >= 3  # a real distribution, not a near-certain token
        assert set(got) <= set(expected), (temperature, top_p, set(got) - set(expected))
        outcomes = sorted(expected)
        fit = stats.chisquare([got[o] for o in outcomes], [N_ROWS * expected[o] for o in outcomes])
        assert fit.pvalue > ALPHA, (temperature, top_p, got, expected)
