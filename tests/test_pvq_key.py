"""The PVQ-40 scoring key, pinned item by item, and the real items read in key order."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import shared
from vhframe import pvq
from vhframe.builtins.surveys import Pvq40
from vhframe.context import RunContext
from vhframe.records import VALUES

# The published PVQ-40 key (Schwartz et al. 2001), written out item by item rather than
# derived from vhframe.pvq, so that a moved item shows as one wrong row.
KEY: dict[int, str] = {
    1: "Self-direction",
    2: "Power",
    3: "Universalism",
    4: "Achievement",
    5: "Security",
    6: "Stimulation",
    7: "Conformity",
    8: "Universalism",
    9: "Tradition",
    10: "Hedonism",
    11: "Self-direction",
    12: "Benevolence",
    13: "Achievement",
    14: "Security",
    15: "Stimulation",
    16: "Conformity",
    17: "Power",
    18: "Benevolence",
    19: "Universalism",
    20: "Tradition",
    21: "Security",
    22: "Self-direction",
    23: "Universalism",
    24: "Achievement",
    25: "Tradition",
    26: "Hedonism",
    27: "Benevolence",
    28: "Conformity",
    29: "Universalism",
    30: "Stimulation",
    31: "Security",
    32: "Achievement",
    33: "Benevolence",
    34: "Self-direction",
    35: "Security",
    36: "Conformity",
    37: "Hedonism",
    38: "Tradition",
    39: "Power",
    40: "Universalism",
}

# Per item of the real questionnaire, words found in that portrait and in no other one: they
# tie each row of the file to its item number.
REAL_ITEM_WORDS: dict[int, str] = {
    1: "creative",
    2: "rich",
    3: "treated equally",
    4: "abilities",
    5: "secure surroundings",
    6: "different things",
    7: "follow rules",
    8: "listen to people",
    9: "satisfied with what they have",
    10: "have fun",
    11: "own decisions",
    12: "help the people around him",
    13: "very successful",
    14: "country be safe",
    15: "adventures",
    16: "behave properly",
    17: "in charge",
    18: "loyal to his friends",
    19: "care for nature",
    20: "religious belief",
    21: "organized and clean",
    22: "curious",
    23: "harmony",
    24: "ambitious",
    25: "traditional ways",
    26: "spoil",
    27: "needs of others",
    28: "obedient",
    29: "treated justly",
    30: "surprises",
    31: "healthy",
    32: "getting ahead",
    33: "forgiving",
    34: "independent",
    35: "stable government",
    36: "polite",
    37: "enjoy life",
    38: "humble and modest",
    39: "leader",
    40: "adapt to nature",
}


def _ctx(tmp_path: Path) -> RunContext:
    return RunContext(seed=0, run_dir=tmp_path, cache_dir=tmp_path, config_dir=tmp_path)


def test_the_table_is_the_whole_key() -> None:
    assert sorted(KEY) == list(range(1, 41))
    assert set(KEY.values()) == set(VALUES)


def test_every_item_is_keyed_to_its_published_value() -> None:
    got = {i: v for v, nums in pvq.PVQ40_KEY.items() for i in nums}
    assert got == KEY
    for value, nums in pvq.PVQ40_KEY.items():
        assert list(nums) == sorted(nums), value  # listed in item order
    # and survey items built from any 40 texts carry the same values, item by item
    items = pvq.pvq40_items([f"portrait {i}" for i in range(1, 41)])
    assert [(it.number, it.value, it.text) for it in items] == [
        (i, KEY[i], f"portrait {i}") for i in range(1, 41)
    ]


def test_scores_average_the_keyed_items() -> None:
    # answer each item with a number that identifies it, so a misplaced item moves a mean
    answers: list[int | None] = [1 + (i * 7) % 6 for i in range(1, 41)]
    scores = pvq.score_answers(answers).scores
    for value in VALUES:
        mine = [answers[i - 1] for i in KEY if KEY[i] == value]
        assert scores[value] == sum(mine) / len(mine), value  # type: ignore[arg-type]


def test_the_real_items_are_read_in_key_order(tmp_path: Path) -> None:
    path = shared("pvq/pvq40.csv")
    texts = pvq.load_items(path)
    assert len(texts) == 40
    lowered = [t.lower() for t in texts]
    for i, words in REAL_ITEM_WORDS.items():
        holders = [n for n, t in enumerate(lowered, start=1) if words in t]
        assert holders == [i], (i, words, holders)
    items = Pvq40(path=str(path)).load(_ctx(tmp_path))
    assert [(it.number, it.value) for it in items] == sorted(KEY.items())
    for it in items:
        assert REAL_ITEM_WORDS[it.number] in it.text.lower()
        assert it.text == texts[it.number - 1]
