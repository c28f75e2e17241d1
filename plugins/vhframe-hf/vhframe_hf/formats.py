"""Prompt/target formats for value-alignment training (the VIM method).

Stage 1, *argument generation*: for each value-labelled argument, the model is asked for an
argument on the claim; it learns to state the argument's premise when the profile "would say"
it and to decline otherwise. Stage 2, *survey answering*: for each (argument, value) pair the
model answers a PVQ-style 1-6 question with the profile's score for that value,
stochastically rounded. Both stages train the same LoRA, in :data:`STAGES` order.

Changing any text here changes trained adapters: bump :data:`FORMAT_VERSION` with it so that
cached trainings are recomputed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vhframe.pvq import question
from vhframe.records import VALUES, Example, TaskExample, ValueProfile

FORMAT_VERSION = 3
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
        out.append(
            TrainingPair(
                stage="argument",
                source_id=ex.id,
                prompt=argument_prompt(ex),
                target=" " + (ex.premise.strip() if say else DECLINE),
                label="would_say" if say else "would_not_say",
            )
        )
    return out


def survey_prompt(example: Example, value: str) -> str:
    """The stage-2 prompt: the survey question of the alignment check
    (:func:`vhframe.pvq.question`) about a speaker who makes the argument and holds the
    value, answered on the 1-6 scale."""
    premise = example.premise.strip()
    if premise and premise[-1] not in ".!?":
        premise += "."
    return question(f"Someone argues: {premise} {value} is important to this person.")


def stochastic_round(score: float, key: str) -> int:
    """Round ``score`` down or up with probabilities given by its fraction (2.3 → 3 with
    probability 0.3), the draw fixed by ``key`` so that a training is reproducible and does
    not depend on the order of examples."""
    low = math.floor(score)
    u = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:13], 16) / float(16**13)
    return int(low + (1 if u < score - low else 0))


def survey_pairs(
    profile: ValueProfile, examples: Sequence[Example], *, faithful_label_shift: bool = False
) -> list[TrainingPair]:
    """Stage-2 pairs: one question per (argument, labelled value), answered with the
    profile's score for that value, stochastically rounded.

    ``faithful_label_shift`` reproduces the study's released code, which attributes each
    label to the next value in :data:`~vhframe.records.VALUES` order: the question names (and
    the answer scores) the following value, and labels of the last value, Universalism, are
    lost (13,046 pairs instead of 16,594 on the study's training split).
    """
    scores = profile.as_mapping()
    out = []
    for ex in examples:
        for value in ex.values:
            i = VALUES.index(value)
            if faithful_label_shift:
                if i + 1 == len(VALUES):
                    continue
                value = VALUES[i + 1]
            answer = stochastic_round(scores[value], f"{profile.name}|{ex.id}|{value}")
            out.append(
                TrainingPair(
                    stage="survey",
                    source_id=f"{ex.id}|{value}",
                    prompt=survey_prompt(ex, value),
                    target=f" {answer}",
                    label=str(answer),
                )
            )
    return out


def task_pairs(examples: Sequence[TaskExample]) -> list[TrainingPair]:
    """Pairs of a benign fine-tune: the task example's prompt and target as they are (the
    task dataset has already applied its format's template); ``label`` is its source."""
    return [
        TrainingPair(stage="task", source_id=e.id, prompt=e.prompt, target=e.target, label=e.source)
        for e in examples
    ]


PairBuilder = Callable[[ValueProfile, Sequence[Example]], list[TrainingPair]]

#: Training stages by name, in the order they are trained.
STAGES: dict[str, PairBuilder] = {"argument": argument_pairs, "survey": survey_pairs}
