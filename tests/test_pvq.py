"""The PVQ-40 instrument: key, answer parsing, value scores, NMSE."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shared
from vhframe.builtins.profiles import extreme_profiles
from vhframe.errors import DataError
from vhframe.pvq import (
    PVQ40_KEY,
    load_items,
    nmse,
    parse_answer,
    pvq40_items,
    question,
    score_answers,
)
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
        # the first label in the reply wins, even when a later one contains it
        ("Like me? No: not like me at all.", 5),
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


def test_the_question_states_the_whole_scale() -> None:
    assert question("  Likes tea.\n") == (
        "Likes tea.\nHow much is this person like you? Answer with one number "
        "(1 = not like me at all; 2 = not like me; 3 = a little like me; "
        "4 = somewhat like me; 5 = like me; 6 = very much like me).\nAnswer:"
    )


def test_items_carry_the_instrument_and_need_all_forty() -> None:
    texts = [f"portrait {i}" for i in range(1, 41)]
    assert {it.instrument for it in pvq40_items(texts)} == {"pvq40"}
    assert {it.instrument for it in pvq40_items(texts, instrument="mine")} == {"mine"}
    with pytest.raises(ValueError, match=r"^expected the 40 PVQ-40 items, found 39$"):
        pvq40_items(texts[:39])


def _csv(tmp_path: Path, text: str, name: str = "items.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _forty(header: str = "question", sep: str = "\n") -> str:
    return sep.join([header, *(f"portrait {i}" for i in range(1, 41))]) + sep


def test_load_items_reads_the_fields_exactly(tmp_path: Path) -> None:
    # a byte-order mark before the header, as spreadsheet programs write it
    assert load_items(_csv(tmp_path, "\ufeff" + _forty())) == [
        f"portrait {i}" for i in range(1, 41)
    ]
    # a quoted portrait keeps its own line break; the rows' line ends are not part of it
    rows = _forty(sep="\r\n").replace("portrait 2\r\n", '"portrait\r\ntwo"\r\n')
    items = load_items(_csv(tmp_path, rows, "crlf.csv"))
    assert items[:3] == ["portrait 1", "portrait\r\ntwo", "portrait 3"]


def test_load_items_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.csv"
    with pytest.raises(DataError) as err:
        load_items(missing)
    assert (str(err.value), err.value.file, err.value.line) == (
        f"{missing}: file not found",
        str(missing),
        None,
    )
    wrong = _csv(tmp_path, _forty(header="text"), "wrong.csv")
    with pytest.raises(DataError) as err:
        load_items(wrong)
    assert (str(err.value), err.value.line) == (
        f"{wrong}:1: missing column(s) ['question']; found header ['text']",
        1,
    )


def _rows(n: int, gaps: dict[int, str] | None = None) -> list[str]:
    """``n`` rows of an ``id,question`` file; ``gaps`` replaces some rows whole."""
    return [(gaps or {}).get(i, f"{i},portrait {i}") for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("rows", "found"),
    [
        (_rows(39), "39 of 39"),
        (_rows(41), "41 of 41"),
        # two rows with the field empty
        (_rows(40, {7: "7,", 8: "8,"}), "38 of 40"),
    ],
)
def test_load_items_wants_forty_non_empty_items(
    tmp_path: Path, rows: list[str], found: str
) -> None:
    path = _csv(tmp_path, "\n".join(["id,question", *rows]) + "\n")
    with pytest.raises(DataError) as err:
        load_items(path)
    assert str(err.value) == f"{path}: expected 40 non-empty items, found {found}"


def test_load_items_short_row_is_an_error_naming_its_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, "\n".join(["id,question", *_rows(40, {7: "7"})]) + "\n")
    with pytest.raises(DataError) as err:
        load_items(path)
    assert str(err.value) == f"{path}:8: expected 2 comma-separated fields, found 1"
