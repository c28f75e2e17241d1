"""Touché23 and value-table loaders: exact examples, and every bad file named by file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ascii_locale_env
from vhframe.builtins.touche import LEVEL2_LABELS, Touche23, ValueTable, load_split
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.records import VALUES, Example


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(seed=1, run_dir=tmp_path, cache_dir=tmp_path / "cache", config_dir=tmp_path)


ARG_HEAD = "Argument ID\tConclusion\tStance\tPremise"
LABEL_HEAD = "\t".join(["Argument ID", *LEVEL2_LABELS])


def _labels(*on: str) -> str:
    return "\t".join("1" if label in on else "0" for label in LEVEL2_LABELS)


def _split(folder: Path, name: str, args: list[str], labels: list[str]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    a, lab = folder / f"arguments-{name}.tsv", folder / f"labels-{name}.tsv"
    a.write_text("".join(line + "\n" for line in [ARG_HEAD, *args]), encoding="utf-8")
    lab.write_text("".join(line + "\n" for line in [LABEL_HEAD, *labels]), encoding="utf-8")
    return a, lab


def test_labels_map_to_values_by_or_and_face_humility_drop(tmp_path: Path) -> None:
    a, lab = _split(
        tmp_path,
        "training",
        [
            'A1\tWe should act\tin favour of\t"free speech" is a right, because',  # quotes kept
            "",  # a blank line is skipped, not an error
            "A2\tWe should wait\tagainst\tsince",
            "A3\tWe should rest\tin favor of\tas",
        ],
        [
            "A1\t" + _labels("Power: dominance", "Power: resources", "Face"),
            "A2\t" + _labels("Face", "Humility"),
            "A3\t" + _labels("Universalism: nature", "Self-direction: thought", "Tradition"),
        ],
    )
    examples = load_split(a, lab)
    # A2 has only Face and Humility: no basic value, so it is dropped
    assert [(e.id, e.conclusion, e.stance, e.premise) for e in examples] == [
        ("A1", "We should act", "in favor of", '"free speech" is a right, because'),
        ("A3", "We should rest", "in favor of", "as"),
    ]
    assert sorted(examples[0].values) == ["Power"]
    assert sorted(examples[1].values) == ["Self-direction", "Tradition", "Universalism"]


def test_split_file_errors_name_file_and_line(tmp_path: Path) -> None:
    a, lab = _split(tmp_path, "t", ["A1\tc\tagainst\tp"], ["A1\t" + _labels("Stimulation")])
    missing = tmp_path / "labels-none.tsv"
    with pytest.raises(DataError) as err:
        load_split(a, missing)
    assert str(err.value) == f"{missing}: file not found"

    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(DataError) as err:
        load_split(empty, lab)
    assert str(err.value) == f"{empty}:1: empty file: expected a header row"

    a.write_text(ARG_HEAD + "\nA1\tc\tagainst\n")
    with pytest.raises(DataError) as err:
        load_split(a, lab)
    assert str(err.value) == f"{a}:2: expected 4 tab-separated fields, found 3"

    a.write_text(ARG_HEAD + "\nA1\tc\tagainst\tp\nA2\tc\tagainst\tp\n")
    with pytest.raises(DataError) as err:
        load_split(a, lab)
    assert str(err.value) == f"{lab}: 1 label rows for 2 arguments in {a}"

    a.write_text(ARG_HEAD + "\nA1\tc\tneutral\tp\n")
    with pytest.raises(DataError) as err:
        load_split(a, lab)
    assert str(err.value) == (
        f"{a}:2: unknown stance 'neutral'; expected one of "
        "['against', 'in favor of', 'in favour of']"
    )


def test_touche_parameters_are_checked(tmp_path: Path) -> None:
    _split(tmp_path, "training", [], [])
    for splits in ([], ["training", ""], ["training", 3]):
        with pytest.raises(ParamError) as err:
            Touche23(str(tmp_path), splits=splits)  # type: ignore[arg-type]
        assert (err.value.param, str(err.value)) == (
            "splits",
            "expected a non-empty list of split names",
        )
    with pytest.raises(ParamError) as err:
        Touche23(str(tmp_path / "nope"))
    assert (err.value.param, str(err.value)) == ("path", f"folder not found: {tmp_path / 'nope'}")
    (tmp_path / "arguments-extra.tsv").write_text(ARG_HEAD + "\n")
    with pytest.raises(ParamError) as err:
        Touche23(str(tmp_path), splits=["training", "extra"])
    assert (err.value.param, str(err.value)) == ("path", f"missing labels-extra.tsv in {tmp_path}")


def test_touche_concatenates_splits_in_order_and_rejects_shared_ids(
    ctx: RunContext, tmp_path: Path
) -> None:
    _split(tmp_path, "one", ["B1\tc1\tagainst\tp1"], ["B1\t" + _labels("Hedonism")])
    _split(tmp_path, "two", ["B2\tc2\tagainst\tp2"], ["B2\t" + _labels("Achievement")])
    got = Touche23(str(tmp_path), splits=["two", "one"]).load(ctx)
    assert got == [
        Example(id="B2", conclusion="c2", stance="against", premise="p2", values=("Achievement",)),
        Example(id="B1", conclusion="c1", stance="against", premise="p1", values=("Hedonism",)),
    ]
    _split(tmp_path, "three", ["B1\tc\tagainst\tp"], ["B1\t" + _labels("Power: dominance")])
    with pytest.raises(DataError) as err:
        Touche23(str(tmp_path), splits=["one", "three"]).load(ctx)
    assert str(err.value) == (
        f"{tmp_path / 'arguments-three.tsv'}: argument 'B1' appears in more than one split"
    )


def _table(path: Path, rows: list[str], first: str = "") -> Path:
    head = "\t".join([first, "Conclusion", "Stance", "Premise", *VALUES])
    path.write_text("".join(line + "\n" for line in [head, *rows]), encoding="utf-8")
    return path


def _flags(*on: str) -> str:
    return "\t".join("1" if v in on else "0" for v in VALUES)


def test_value_table_examples_in_value_order(ctx: RunContext, tmp_path: Path) -> None:
    f = _table(
        tmp_path / "t.csv",
        [
            "7\tWe should go\tin favour of\tp7\t" + _flags("Universalism", "Achievement"),
            "8\tWe should stay\tagainst\tp8\t" + _flags(),
            "9\tWe should see\tagainst\tp9\t" + _flags("Power"),
        ],
    )
    assert ValueTable(str(f)).load(ctx) == [
        Example(
            id="7",
            conclusion="We should go",
            stance="in favor of",
            premise="p7",
            values=("Achievement", "Universalism"),
        ),
        Example(
            id="9", conclusion="We should see", stance="against", premise="p9", values=("Power",)
        ),
    ]


def test_value_table_errors_name_file_and_line(ctx: RunContext, tmp_path: Path) -> None:
    f = _table(
        tmp_path / "t.csv", ["0\tc\tagainst\tp\t" + _flags("Power"), "1\tc\tfor\tp\t" + _flags()]
    )
    with pytest.raises(DataError) as err:
        ValueTable(str(f)).load(ctx)
    assert str(err.value) == (
        f"{f}:3: unknown stance 'for'; expected one of ['against', 'in favor of', 'in favour of']"
    )
    for bad in ("", 3):
        with pytest.raises(ParamError) as perr:
            ValueTable(str(f), split_dir=bad)  # type: ignore[arg-type]
        assert (perr.value.param, str(perr.value)) == (
            "split_dir",
            f"expected a folder path, found {bad!r}",
        )
    d = tmp_path / "split"
    d.mkdir()
    _table(d / "valid.csv", [], "Unnamed: 0")
    with pytest.raises(ParamError) as perr:
        ValueTable(str(f), split_dir=str(d))
    assert (perr.value.param, str(perr.value)) == (
        "split_dir",
        f"missing train.csv, test.csv in {d}",
    )


def test_value_table_parameters_and_fingerprint(tmp_path: Path) -> None:
    f = _table(tmp_path / "t.csv", [])
    with pytest.raises(ParamError) as err:
        ValueTable(str(tmp_path / "none.csv"))
    assert (err.value.param, str(err.value)) == ("path", f"file not found: {tmp_path / 'none.csv'}")
    with pytest.raises(ParamError) as err:
        ValueTable(str(f), split_dir=str(tmp_path / "nope"))
    assert (err.value.param, str(err.value)) == (
        "split_dir",
        f"folder not found: {tmp_path / 'nope'}",
    )
    assert ValueTable(str(f)).fingerprint() == {"path": str(f)}
    d = tmp_path / "split"
    d.mkdir()
    for name in ("train", "valid", "test"):
        _table(d / f"{name}.csv", [], "Unnamed: 0")
    assert ValueTable(str(f), split_dir=str(d)).fingerprint() == {
        "path": str(f),
        "split_dir": str(d),
    }


def test_value_table_split_conflicts_are_pinned(ctx: RunContext, tmp_path: Path) -> None:
    row = "\tc\tagainst\tp\t" + _flags("Power")
    d = tmp_path / "split"
    d.mkdir()
    _table(d / "train.csv", ["0" + row], "Unnamed: 0")
    _table(d / "valid.csv", ["0" + row], "Unnamed: 0")
    _table(d / "test.csv", [], "Unnamed: 0")
    f = _table(tmp_path / "t.csv", ["0" + row, "1" + row])
    with pytest.raises(DataError) as err:
        ValueTable(str(f), split_dir=str(d)).load(ctx)
    assert str(err.value) == (
        f"{d / 'valid.csv'}:2: row id '0' is already in train.csv: a row may belong to one "
        "split only"
    )
    dup = _table(tmp_path / "dup.csv", ["0" + row, "1" + row, "0" + row])
    with pytest.raises(DataError) as err:
        ValueTable(str(dup), split_dir=str(d)).load(ctx)
    assert str(err.value) == (
        f"{dup}:4: row id '0' also on line 2: ids must be unique to assign splits"
    )


def test_files_are_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    a, lab = _split(
        tmp_path,
        "t",
        ["A1\tWe should act\tagainst\tthe café stays"],
        ["A1\t" + _labels("Hedonism")],
    )
    t = _table(tmp_path / "t.csv", ["0\tNaïve\tagainst\tp\t" + _flags("Power")])
    code = (
        "import json, sys, locale; from pathlib import Path;"
        "from vhframe.builtins.touche import ValueTable, load_split;"
        "assert locale.getpreferredencoding(False) != 'UTF-8';"
        "a, lab, t = map(Path, sys.argv[1:]);"
        "rows = [e.to_dict() for e in load_split(a, lab) + ValueTable(str(t)).load(None)];"
        "print(json.dumps(rows))"
    )
    env = ascii_locale_env()
    out = subprocess.run(
        [sys.executable, "-c", code, str(a), str(lab), str(t)],
        env=env,
        check=True,
        capture_output=True,
    ).stdout
    rows = json.loads(out)
    assert [(r["id"], r["conclusion"], r["premise"]) for r in rows] == [
        ("A1", "We should act", "the café stays"),
        ("0", "Naïve", "p"),
    ]


def test_tsvs_with_a_bom_or_bad_bytes(tmp_path: Path) -> None:
    a, lab = _split(tmp_path, "t", ["A1\tc\tagainst\tp"], ["A1\t" + _labels("Stimulation")])
    # a spreadsheet's byte order mark is not part of the first column's name
    a.write_bytes(b"\xef\xbb\xbf" + a.read_bytes())
    assert [e.id for e in load_split(a, lab)] == ["A1"]
    a.write_bytes(a.read_bytes().replace(b"\tp\n", b"\tp\xff\n"))
    with pytest.raises(DataError) as err:
        load_split(a, lab)
    assert (err.value.file, err.value.line) == (str(a), 2)
    assert "not UTF-8 text" in str(err.value)
