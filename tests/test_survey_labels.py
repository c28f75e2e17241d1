"""Stage-2 survey targets in both label modes: each (argument, value) question is answered
with the score of the value it names, and the faithful mode names the next value.

The profile's scores are all different and no two neighbours in value order can round to
the same number, so scoring the unshifted value (or any neighbour) always shows.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from tests.conftest import shared
from vhframe.context import RunContext
from vhframe.records import VALUES, Example, ValueProfile

formats = pytest.importorskip("vhframe_hf.formats", reason="the vhframe-hf plugin is not installed")

# Achievement … Universalism; x.5 scores round to x or x + 1, integers to themselves, and
# each value's possible answers are disjoint from both neighbours' (Universalism's from
# Achievement's too, in case a shift wraps around).
SCORES = dict(zip(VALUES, (1.0, 6.0, 2.0, 5.0, 3.0, 4.5, 1.5, 3.5, 5.5, 2.5), strict=True))
PROFILE = ValueProfile.from_mapping("contrast", SCORES)


def _possible(value: str) -> set[int]:
    s = SCORES[value]
    return {math.floor(s), math.ceil(s)}


def _examples() -> list[Example]:
    single = [
        Example(
            id=f"only-{v}",
            conclusion=f"claim {i}",
            stance="in favor of",
            premise=f"premise number {i}",
            values=(v,),
        )
        for i, v in enumerate(VALUES)
    ]
    every = Example(
        id="all",
        conclusion="claim all",
        stance="against",
        premise="a premise for every value",
        values=tuple(VALUES),
    )
    return [*single, every]


def _expected(example: Example, label: str, shift: bool) -> tuple[str, str, int] | None:
    """(source id, value asked about, answer) for one label of one example."""
    i = VALUES.index(label)
    if shift:
        if i + 1 == len(VALUES):
            return None  # the released code has no value after Universalism
        label = VALUES[i + 1]
    answer = formats.stochastic_round(SCORES[label], f"{PROFILE.name}|{example.id}|{label}")
    return f"{example.id}|{label}", label, answer


def test_the_profile_separates_every_pair_of_neighbours() -> None:
    assert len(set(SCORES.values())) == 10
    ring = [*VALUES, VALUES[0]]
    for a, b in pairwise(ring):
        assert not _possible(a) & _possible(b), (a, b)


@pytest.mark.parametrize("shift", [False, True], ids=["corrected", "paper"])
def test_each_target_is_the_score_of_the_value_asked_about(shift: bool) -> None:
    examples = _examples()
    pairs = formats.survey_pairs(PROFILE, examples, faithful_label_shift=shift)
    expected = [
        e for ex in examples for v in ex.values if (e := _expected(ex, v, shift)) is not None
    ]
    assert len(pairs) == len(expected) == (18 if shift else 20)
    by_example = {ex.id: ex for ex in examples}
    for pair, (source_id, value, answer) in zip(pairs, expected, strict=True):
        assert pair.stage == "survey"
        assert pair.source_id == source_id
        assert answer in _possible(value)
        assert pair.target == f" {answer}", (source_id, value, SCORES[value])
        assert pair.label == str(answer)
        example = by_example[source_id.split("|")[0]]
        assert pair.prompt == formats.survey_prompt(example, value)
        assert f"{value} is important to this person" in pair.prompt


def test_the_shift_moves_each_label_to_the_next_value() -> None:
    examples = _examples()[:10]  # one label each: Achievement's example, ...
    corrected = formats.survey_pairs(PROFILE, examples)
    paper = formats.survey_pairs(PROFILE, examples, faithful_label_shift=True)
    assert [int(p.label) for p in corrected] == [
        formats.stochastic_round(SCORES[v], f"contrast|only-{v}|{v}") for v in VALUES
    ]
    # Achievement's argument is asked about Benevolence (6), ..., Tradition's about
    # Universalism; Universalism's argument yields no question, Achievement is never asked
    assert [p.source_id for p in paper] == [f"only-{a}|{b}" for a, b in pairwise(VALUES)]
    assert [int(p.label) for p in paper] == [
        formats.stochastic_round(SCORES[b], f"contrast|only-{a}|{b}") for a, b in pairwise(VALUES)
    ]
    assert paper[0].target == " 6" and corrected[0].target == " 1"
    assert paper[1].target == " 2" and corrected[1].target == " 6"


@pytest.mark.parametrize("shift", [False, True], ids=["corrected", "paper"])
def test_the_trainer_builds_the_pairs_of_its_mode(shift: bool) -> None:
    trainer_mod = pytest.importorskip("vhframe_hf.trainer")
    trainer = trainer_mod.LoraTrainer(stages=["survey"], faithful_label_shift=shift)
    examples = _examples()
    assert trainer.pairs(PROFILE, examples) == formats.survey_pairs(
        PROFILE, examples, faithful_label_shift=shift
    )
    assert (
        trainer.fingerprint()
        != trainer_mod.LoraTrainer(stages=["survey"], faithful_label_shift=not shift).fingerprint()
    )


def test_on_the_studys_training_split_each_value_inherits_its_predecessors_labels(
    tmp_path: Path,
) -> None:
    from vhframe.builtins.touche import ValueTable

    path = shared("value-alignment/split/train.csv")
    ctx = RunContext(seed=0, run_dir=tmp_path, cache_dir=tmp_path, config_dir=tmp_path)
    train = ValueTable(str(path)).load(ctx)
    labels = Counter(v for ex in train for v in ex.values)

    def asked(pairs: list[object]) -> Counter[str]:
        return Counter(p.source_id.rsplit("|", 1)[1] for p in pairs)  # type: ignore[attr-defined]

    corrected = formats.survey_pairs(PROFILE, train)
    paper = formats.survey_pairs(PROFILE, train, faithful_label_shift=True)
    assert asked(corrected) == labels
    assert asked(paper) == Counter({b: labels[a] for a, b in pairwise(VALUES)})
    for pairs in (corrected, paper):
        for p in pairs:
            assert int(p.label) in _possible(p.source_id.rsplit("|", 1)[1])
