"""Prompt/target formats for value-alignment training (the VIM method).

Stage 1, *argument generation*: for each value-labelled argument, the model is asked for an
argument on the claim; it learns to state the argument's premise when the profile "would say"
it and to decline otherwise. Stage 2, *survey answering*, slots in as another entry of
:data:`STAGES` (a function from a profile and examples to training pairs).

Changing any text here changes trained adapters: bump :data:`FORMAT_VERSION` with it so that
cached trainings are recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vhframe.records import Example, ValueProfile

FORMAT_VERSION = 1
#: An argument is "would say" when the profile's lowest score over its values reaches this.
WOULD_SAY_MIN_SCORE = 3.0
DECLINE = "I would not say that."

_STANCES = {
    "in favor of": "in favor of",
    "in favour of": "in favor of",
    "pro": "in favor of",
    "for": "in favor of",
    "against": "against",
    "con": "against",
}


@dataclass(frozen=True)
class TrainingPair:
    """One supervised example: the loss is taken on ``target`` only."""

    stage: str
    source_id: str
    prompt: str
    target: str
    label: str


def would_say(profile: ValueProfile, example: Example) -> bool:
    """The stage-1 rule: ``min(profile score over the example's values) >= 3``.

    An example without values has no rule to apply and raises ``ValueError``.
    """
    if not example.values:
        raise ValueError(f"example {example.id!r} has no value labels")
    scores = profile.as_mapping()
    return min(scores[v] for v in example.values) >= WOULD_SAY_MIN_SCORE


def argument_prompt(example: Example) -> str:
    """The stage-1 prompt for an argument (the claim and the stance, not the premise)."""
    stance = _STANCES.get(example.stance.strip().lower(), example.stance.strip())
    claim = example.conclusion.strip()
    if claim and claim[-1] not in ".!?":
        claim += "."
    return f"Give an argument {stance} the following claim.\nClaim: {claim}\nArgument:"


def argument_pairs(profile: ValueProfile, examples: Sequence[Example]) -> list[TrainingPair]:
    """Stage-1 pairs for ``profile``; examples without value labels are skipped."""
    out = []
    for ex in examples:
        if not ex.values:
            continue
        say = would_say(profile, ex)
        out.append(TrainingPair(
            stage="argument",
            source_id=ex.id,
            prompt=argument_prompt(ex),
            target=" " + (ex.premise.strip() if say else DECLINE),
            label="would_say" if say else "would_not_say",
        ))
    return out


PairBuilder = Callable[[ValueProfile, Sequence[Example]], list[TrainingPair]]

#: Training stages by name, in the order they are trained.
STAGES: dict[str, PairBuilder] = {"argument": argument_pairs}
