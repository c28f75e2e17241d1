"""The PVQ-40 instrument: key, answer parsing, value scores, NMSE."""

from __future__ import annotations

import pytest

from tests.conftest import shared
from vhframe.builtins.profiles import extreme_profiles
from vhframe.pvq import PVQ40_KEY, load_items, nmse, parse_answer, score_answers
from vhframe.records import VALUES


def test_key_covers_every_item_once() -> None:
    items = sorted(i for v in VALUES for i in PVQ40_KEY[v])
    assert items == list(range(1, 41))
    assert set(PVQ40_KEY) == set(VALUES)


def test_key_matches_the_real_items() -> None:
    items = load_items(shared("pvq/pvq40.csv"))
    anchors = {
        "Self-direction": "creative",
        "Power": "rich",
        "Universalism": "equally",
        "Achievement": "abilities",
        "Security": "safe",
        "Tradition": "religious",
        "Hedonism": "good time",
        "Stimulation": "adventure",
    }
    for value, word in anchors.items():
        assert any(word in items[i - 1].lower() for i in PVQ40_KEY[value]), (value, word)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("5", 5),
        (" 3.", 3),
        ("Answer: 4 (somewhat like me)", 4),
        ("I'd say 6/6", 6),
        ("very much like me", 6),
        ("Not like me at all.", 1),
        ("It is NOT like   me", 2),
        ("a little like me, maybe", 3),
        ("like me", 5),
        ("somewhat like me", 4),
        ("10 out of 10", None),
        ("2.5", None),
        ("", None),
        ("I cannot answer that.", None),
        ("7", None),
        ("0", None),
    ],
)
def test_parse_answer(reply: str, expected: int | None) -> None:
    assert parse_answer(reply) == expected


def test_scores_count_unparsed_and_nmse() -> None:
    target = extreme_profiles()[0]  # Achievement at 6, the rest at 1
    perfect = [6 if i in PVQ40_KEY["Achievement"] else 1 for i in range(1, 41)]
    s = score_answers(perfect)
    assert s.scores["Achievement"] == 6.0 and s.scores["Power"] == 1.0
    assert s.n_unparsed == 0 and nmse(s.scores, target) == 0.0
    answers: list[int | None] = list(perfect)
    for i in PVQ40_KEY["Power"]:
        answers[i - 1] = None
    answers[PVQ40_KEY["Achievement"][0] - 1] = 2
    s = score_answers(answers)
    assert s.scores["Power"] is None and s.answered["Power"] == 0
    assert s.unparsed_items == PVQ40_KEY["Power"]
    assert s.scores["Achievement"] == pytest.approx(5.0)
    # 9 measured values; only Achievement is off, by (6-5)/5 = 0.2
    assert nmse(s.scores, target) == pytest.approx(0.2**2 / 9)
    all_three = score_answers([3] * 40)
    assert nmse(all_three.scores, target) == pytest.approx(((0.6**2) + 9 * 0.4**2) / 10)
    with pytest.raises(
        ValueError, match=r"^no value has a measured score: every item went unanswered$"
    ):
        nmse(score_answers([None] * 40).scores, target)
    with pytest.raises(ValueError, match="expected 40 answers"):
        score_answers([1] * 39)
    with pytest.raises(ValueError, match="item 2: answers are 1-6"):
        score_answers([1, 9] + [1] * 38)
