"""Profile sources: the extreme profiles a config selects, and profiles read from a table."""

from __future__ import annotations

from pathlib import Path

import pytest

from vhframe.builtins.profiles import ExtremeProfiles, TableProfiles, extreme_profiles
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.records import VALUES, ValueProfile


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(seed=1, run_dir=tmp_path, cache_dir=tmp_path, config_dir=tmp_path)


def _table(path: Path, header: list[str], rows: list[list[str]], delim: str = ",") -> Path:
    text = "".join(delim.join(r) + "\n" for r in [header, *rows])
    path.write_bytes(text.encode("utf-8"))
    return path


def _scores(first: float) -> list[str]:
    return [str(first)] + ["2"] * (len(VALUES) - 1)


def test_extreme_only_keeps_the_named_profiles_in_the_studys_order(ctx: RunContext) -> None:
    src = ExtremeProfiles(only=["Conservation", "Ben", "Ach"])
    by_name = {p.name: p for p in extreme_profiles()}
    assert src.load(ctx) == [by_name["Ach"], by_name["Ben"], by_name["Conservation"]]
    assert src.fingerprint() == {"only": ["Conservation", "Ben", "Ach"]}
    everything = ExtremeProfiles()
    assert everything.load(ctx) == extreme_profiles()
    assert everything.fingerprint() == {"only": None}


def test_table_missing_file_is_a_path_error(tmp_path: Path) -> None:
    with pytest.raises(ParamError) as err:
        TableProfiles(str(tmp_path / "none.csv"))
    assert (err.value.param, str(err.value)) == ("path", f"file not found: {tmp_path / 'none.csv'}")


def test_table_named_name_column_source_and_fingerprint(ctx: RunContext, tmp_path: Path) -> None:
    f = _table(
        tmp_path / "p.csv",
        ["id", "name", *VALUES],
        [["1", "Zoë", *_scores(5.5)], ["2", "Ann", *_scores(1)]],
    )
    src = TableProfiles(str(f), name_column="name")
    assert src.load(ctx) == [
        ValueProfile(name="Zoë", scores=(5.5,) + (2.0,) * 9, source=str(f)),
        ValueProfile(name="Ann", scores=(1.0,) + (2.0,) * 9, source=str(f)),
    ]
    assert src.fingerprint() == {"path": str(f), "name_column": "name", "names": None}
    # by default the first column names the profiles
    assert [p.name for p in TableProfiles(str(f)).load(ctx)] == ["1", "2"]


def test_table_with_a_bom_and_an_explicit_first_name_column(
    ctx: RunContext, tmp_path: Path
) -> None:
    f = tmp_path / "p.csv"
    f.write_bytes(
        ("\ufeffname," + ",".join(VALUES) + "\nA," + ",".join(_scores(3)) + "\n").encode()
    )
    assert [p.name for p in TableProfiles(str(f), name_column="name").load(ctx)] == ["A"]


def test_table_delimiter_follows_the_majority_of_tabs_and_commas(
    ctx: RunContext, tmp_path: Path
) -> None:
    tsv = _table(tmp_path / "p.tsv", ["name", *VALUES], [["A, B", *_scores(4)]], "\t")
    assert [p.name for p in TableProfiles(str(tsv)).load(ctx)] == ["A, B"]
    # a comma file stays one even when a quoted name holds a tab
    csv_ = _table(tmp_path / "p.csv", ["name", *VALUES], [['"A\tB"', *_scores(4)]])
    assert [p.name for p in TableProfiles(str(csv_)).load(ctx)] == ["A\tB"]


def test_table_missing_columns_name_file_and_line(ctx: RunContext, tmp_path: Path) -> None:
    header = ["name", *[v for v in VALUES if v != "Power"]]
    f = _table(tmp_path / "p.csv", header, [["A", *["2"] * 9]])
    with pytest.raises(DataError) as err:
        TableProfiles(str(f)).load(ctx)
    assert (err.value.file, err.value.line) == (str(f), 1)
    assert str(err.value) == f"{f}:1: missing column(s) ['Power']; found header {header}"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError) as err:
        TableProfiles(str(empty)).load(ctx)
    assert str(err.value) == f"{empty}:1: empty file: expected a header row"


def test_table_names_absent_from_the_table_are_listed_first_five(
    ctx: RunContext, tmp_path: Path
) -> None:
    f = _table(tmp_path / "p.csv", ["name", *VALUES], [["A", *_scores(3)], ["B", *_scores(4)]])
    assert [p.name for p in TableProfiles(str(f), names=["B", "A"]).load(ctx)] == ["B", "A"]
    names = ["A", "n1", "n2", "n3", "n4", "n5", "n6"]
    with pytest.raises(DataError) as err:
        TableProfiles(str(f), names=names).load(ctx)
    assert (err.value.file, err.value.line) == (str(f), None)
    assert str(err.value) == f"{f}: profile(s) not in the table: ['n1', 'n2', 'n3', 'n4', 'n5']"


def test_extreme_profiles_say_where_they_come_from() -> None:
    profiles = extreme_profiles(high=5.0, low=2.0)
    assert [p.source for p in profiles] == ["extreme"] * 14
    assert profiles[0].scores == (5.0,) + (2.0,) * 9
    assert profiles[-1].name == "Self-Transcendence"
    assert profiles[-1].as_mapping() == {
        v: 5.0 if v in ("Benevolence", "Universalism") else 2.0 for v in VALUES
    }


def test_table_short_row_names_file_and_line(ctx: RunContext, tmp_path: Path) -> None:
    f = _table(tmp_path / "p.csv", ["name", *VALUES], [["A", *_scores(3)], ["B", "4"]])
    with pytest.raises(DataError) as err:
        TableProfiles(str(f)).load(ctx)
    assert str(err.value) == f"{f}:3: expected 11 comma-separated fields, found 2"
