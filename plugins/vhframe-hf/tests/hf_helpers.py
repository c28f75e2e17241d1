"""Test data helpers shared by the vhframe-hf tests (a uniquely named module, so that other
test folders with a conftest of their own cannot shadow it)."""

from __future__ import annotations

import random

from vhframe_hf.corpus import CLAIMS, PREMISES, TOPICS

from vhframe.records import VALUES, Example, ValueProfile

# Fast settings that still show learning on the tiny model (the paper's lr 2e-5 would need
# far more steps than a unit test can afford).
FAST = {"lr": 5e-3, "epochs": 3, "max_examples": 40, "batch_size": 8}


def make_examples(n: int = 60, seed: int = 1) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        claim = rng.choice(CLAIMS).format(t=rng.choice(TOPICS))
        out.append(
            Example(
                id=f"A{i:04d}",
                conclusion=claim[0].upper() + claim[1:],
                stance=rng.choice(("in favor of", "against")),
                premise=rng.choice(PREMISES).capitalize() + ".",
                values=tuple(rng.sample(VALUES, rng.randint(1, 3))),
            )
        )
    return out


MIXED = {
    "Achievement": 5,
    "Benevolence": 3,
    "Conformity": 1,
    "Hedonism": 4,
    "Power": 6,
    "Security": 3,
    "Self-direction": 2,
    "Stimulation": 4,
    "Tradition": 1,
    "Universalism": 2,
}


def mixed() -> ValueProfile:
    """A profile that says some arguments and declines others."""
    return ValueProfile.from_mapping("mixed", MIXED)


def extreme(value: str) -> ValueProfile:
    return ValueProfile.from_mapping(value, {v: 6.0 if v == value else 1.0 for v in VALUES})
