"""Built-in loaders on vhframe's samples, on the real files, and on broken files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import shared
from vhframe.builtins.benchmarks import AdvBench, BeaverTails, HexPhi
from vhframe.builtins.profiles import ExtremeProfiles, TableProfiles, extreme_profiles
from vhframe.builtins.samples import write_touche_sample
from vhframe.builtins.touche import LEVEL2_LABELS, Touche23, load_split
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.records import VALUES, RecordError, ValueProfile


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(
        seed=1, run_dir=tmp_path / "run", cache_dir=tmp_path / "cache", config_dir=tmp_path
    )


# ------------------------------------------------------------------ profiles
def test_fourteen_extreme_profiles_match_the_study_table() -> None:
    profiles = extreme_profiles()
    assert len(profiles) == 14
    table = shared("profiles/extreme_distributions.csv")
    rows = [line.split("\t") for line in table.read_text().splitlines()]
    header = rows[0]
    assert header[1:] == list(VALUES)
    expected = {r[0]: tuple(float(x) for x in r[1:]) for r in rows[1:15]}
    assert {p.name: p.scores for p in profiles} == expected


def test_extreme_profiles_shape() -> None:
    for p in extreme_profiles():
        assert set(p.scores) == {1.0, 6.0}
    singles = [p for p in extreme_profiles() if p.scores.count(6.0) == 1]
    assert len(singles) == 10


def test_profile_checks() -> None:
    with pytest.raises(RecordError, match="missing score"):
        ValueProfile.from_mapping("x", {v: 3.0 for v in VALUES[:-1]})
    with pytest.raises(RecordError, match="unknown value name"):
        ValueProfile.from_mapping("x", {**{v: 3.0 for v in VALUES}, "Kindness": 2.0})
    with pytest.raises(RecordError, match=r"Power score must be within 1\.\.6, found 7"):
        ValueProfile.from_mapping("x", {v: (7.0 if v == "Power" else 3.0) for v in VALUES})
    with pytest.raises(ParamError, match="unknown profile"):
        ExtremeProfiles(only=["Zzz"])


def test_table_profiles_real_file(ctx: RunContext) -> None:
    path = shared("profiles/country_and_group.csv")
    names = shared("profiles/target_distribution_names_full.txt").read_text().split()
    profiles = TableProfiles(str(path), names=names).load(ctx)
    assert len(profiles) == 154
    assert [p.name for p in profiles] == names
    assert profiles[0].name == "Ach" and profiles[0].scores[0] == 6.0


def test_table_profiles_bad_score_names_line(ctx: RunContext, tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text(
        "name,"
        + ",".join(VALUES)
        + "\na,"
        + ",".join(["2"] * 10)
        + "\nb,"
        + ",".join(["9"] + ["2"] * 9)
        + "\n"
    )
    with pytest.raises(DataError, match=r"p.csv:3: .*Achievement score must be within"):
        TableProfiles(str(f)).load(ctx)


# ------------------------------------------------------------------ Touché23
def test_touche_real_files_give_the_studys_7374_arguments(ctx: RunContext) -> None:
    folder = shared("touche23")
    ds = Touche23(str(folder), splits=["training_old", "validation", "validation-zhihu"])
    examples = ds.load(ctx)
    assert len(examples) == 7374
    counts = Counter(v for e in examples for v in e.values)
    # the study's derived table has the same per-value label counts
    table = shared("value-alignment/valueEval_10.csv").read_text(encoding="utf-8")
    rows = [r.split("\t") for r in table.splitlines()]
    head = rows[0]
    expected = {v: sum(int(r[head.index(v)]) for r in rows[1:]) for v in VALUES}
    assert counts == Counter(expected)
    assert {e.stance for e in examples} == {"in favor of", "against"}


def test_touche_sample_round_trip(ctx: RunContext) -> None:
    examples = Touche23().load(ctx)
    assert len(examples) == 40
    assert {v for e in examples for v in e.values} == set(VALUES)


def _split(tmp_path: Path) -> tuple[Path, Path]:
    write_touche_sample(tmp_path)
    return tmp_path / "arguments-training.tsv", tmp_path / "labels-training.tsv"


def test_touche_label_ids_must_match(tmp_path: Path) -> None:
    args, labels = _split(tmp_path)
    lines = labels.read_text().splitlines()
    lines[3] = "X99999" + lines[3][6:]
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError,
        match=r"labels-training.tsv:4: label row is for argument "
        r"'X99999'.*does not match",
    ):
        load_split(args, labels)


def test_touche_missing_column(tmp_path: Path) -> None:
    args, labels = _split(tmp_path)
    text = labels.read_text().replace("Universalism: nature", "Universalism: natur")
    labels.write_text(text)
    with pytest.raises(
        DataError,
        match=r"labels-training.tsv:1: missing column\(s\) "
        r"\['Universalism: nature'\]",
    ):
        load_split(args, labels)


def test_touche_non_binary_label(tmp_path: Path) -> None:
    args, labels = _split(tmp_path)
    lines = labels.read_text().splitlines()
    cells = lines[2].split("\t")
    cells[5] = "2"
    lines[2] = "\t".join(cells)
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataError,
        match=rf"labels-training.tsv:3: column "
        rf"'{LEVEL2_LABELS[4]}': expected 0 or 1, found '2'",
    ):
        load_split(args, labels)


def test_touche_missing_split_is_a_param_error(tmp_path: Path) -> None:
    _split(tmp_path)
    with pytest.raises(ParamError, match=r"missing arguments-validation\.tsv"):
        Touche23(str(tmp_path), splits=["training", "validation"])


# ------------------------------------------------------------------ benchmarks
def test_hexphi_real_file(ctx: RunContext) -> None:
    items = HexPhi(str(shared("benchmarks/hex-phi/hex-phi.csv"))).load(ctx)
    assert len(items) == 330
    assert Counter(i.category for i in items) == Counter(
        {c: 30 for c in {i.category for i in items}}
    )
    assert len({i.category for i in items}) == 11
    limited = HexPhi(str(shared("benchmarks/hex-phi/hex-phi.csv")), limit=2).load(ctx)
    assert len(limited) == 22


def test_beavertails_and_advbench_real_files(ctx: RunContext) -> None:
    bt = BeaverTails(str(shared("benchmarks/beavertails-eval/BeaverTails-Evaluation.csv")))
    items = bt.load(ctx)
    assert len(items) == 700 and len({i.category for i in items}) == 14
    adv = AdvBench(str(shared("benchmarks/advbench/harmful_behaviors.csv"))).load(ctx)
    assert len(adv) == 520 and {i.category for i in adv} == {"harmful_behaviors"}


def test_benchmark_template_and_errors(ctx: RunContext, tmp_path: Path) -> None:
    hp = HexPhi("builtin:sample")
    assert hp.template("Do X?") == "QUESTION: Do X? ANSWER:"
    bad = tmp_path / "bad.csv"
    bad.write_text("category,prompt\nmalware,ok\nmalware,\n")
    with pytest.raises(DataError, match=r"bad.csv:3: empty 'prompt'"):
        HexPhi(str(bad)).load(ctx)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("kind,text\na,b\n")
    with pytest.raises(DataError, match=r"nohead.csv:1: missing column"):
        HexPhi(str(nohead)).load(ctx)
    with pytest.raises(DataError, match=r"categories \['nope'\] not found"):
        HexPhi("builtin:sample", categories=["nope"]).load(ctx)


def test_value_table_reads_the_studys_table_and_splits(ctx: RunContext) -> None:
    from vhframe.builtins.touche import ValueTable

    full = ValueTable(str(shared("value-alignment/valueEval_10.csv"))).load(ctx)
    assert len(full) == 7374
    parts = {
        name: ValueTable(str(shared(f"value-alignment/split/{name}.csv"))).load(ctx)
        for name in ("train", "valid", "test")
    }
    assert {k: len(v) for k, v in parts.items()} == {"train": 5899, "valid": 738, "test": 737}
    # the three splits partition the table exactly
    assert sorted(e.id for v in parts.values() for e in v) == sorted(e.id for e in full)
    assert sum(len(e.values) for e in parts["train"]) == 16594


def test_value_table_errors(ctx: RunContext, tmp_path: Path) -> None:
    from vhframe.builtins.touche import ValueTable

    f = tmp_path / "t.csv"
    head = "\tConclusion\tStance\tPremise\t" + "\t".join(VALUES)
    f.write_text(
        head
        + "\n0\tc\tagainst\tp\t"
        + "\t".join(["0"] * 9 + ["1"])
        + "\n"
        + "1\tc\tagainst\tp\t"
        + "\t".join(["2"] + ["0"] * 9)
        + "\n"
    )
    with pytest.raises(DataError, match=r"t\.csv:3: column 'Achievement': expected 0 or 1"):
        ValueTable(str(f)).load(ctx)
    with pytest.raises(ParamError, match="file not found"):
        ValueTable(str(tmp_path / "none.csv"))


def test_value_table_marks_the_studys_fixed_split(ctx: RunContext) -> None:
    from vhframe.builtins.touche import ValueTable

    table = ValueTable(
        str(shared("value-alignment/valueEval_10.csv")),
        split_dir=str(shared("value-alignment/split")),
    )
    full = table.load(ctx)
    assert Counter(e.split for e in full) == {"train": 5899, "valid": 738, "test": 737}
    assert table.fingerprint()["split_dir"].endswith("split")
    train = {e.id for e in ValueTable(str(shared("value-alignment/split/train.csv"))).load(ctx)}
    assert {e.id for e in full if e.split == "train"} == train
    # without split_dir nothing is marked and the fingerprint is unchanged
    plain = ValueTable(str(shared("value-alignment/valueEval_10.csv")))
    assert plain.fingerprint() == {"path": plain.path}
    assert {e.split for e in plain.load(ctx)} == {""}


def _table(path: Path, rows: list[tuple[str, str]], first: str = "") -> Path:
    head = f"{first}\tConclusion\tStance\tPremise\t" + "\t".join(VALUES)
    body = "".join(
        f"{rid}\tWe should act\tagainst\t{premise}\t" + "\t".join(["1"] + ["0"] * 9) + "\n"
        for rid, premise in rows
    )
    path.write_text(head + "\n" + body)
    return path


def test_value_table_split_errors_and_unlisted_rows(ctx: RunContext, tmp_path: Path) -> None:
    from vhframe.builtins.touche import ValueTable

    table = _table(tmp_path / "t.csv", [("0", "p0"), ("1", "p1"), ("2", "p2"), ("3", "p3")])
    d = tmp_path / "split"
    d.mkdir()
    _table(d / "train.csv", [("0", "p0"), ("2", "p2")], "Unnamed: 0")
    _table(d / "valid.csv", [("1", "p1")], "Unnamed: 0")
    _table(d / "test.csv", [], "Unnamed: 0")
    got = {e.id: e.split for e in ValueTable(str(table), split_dir=str(d)).load(ctx)}
    assert got == {"0": "train", "1": "valid", "2": "train", "3": ""}  # 3 is in no split file

    _table(d / "test.csv", [("7", "p7")], "Unnamed: 0")
    with pytest.raises(DataError, match=r"test\.csv:2: row id '7' is not a row of t\.csv"):
        ValueTable(str(table), split_dir=str(d)).load(ctx)
    _table(d / "test.csv", [("3", "other text")], "Unnamed: 0")
    with pytest.raises(DataError, match=r"test\.csv:2: row id '3' has a different .* line 5"):
        ValueTable(str(table), split_dir=str(d)).load(ctx)
    _table(d / "test.csv", [("1", "p1")], "Unnamed: 0")
    with pytest.raises(DataError, match=r"test\.csv:2: row id '1' is already in valid\.csv"):
        ValueTable(str(table), split_dir=str(d)).load(ctx)
    (d / "test.csv").unlink()
    with pytest.raises(ParamError, match=r"missing test\.csv"):
        ValueTable(str(table), split_dir=str(d))
    with pytest.raises(ParamError, match="folder not found"):
        ValueTable(str(table), split_dir=str(tmp_path / "nope"))
    dup = _table(tmp_path / "dup.csv", [("0", "p0"), ("0", "p1")])
    _table(d / "test.csv", [], "Unnamed: 0")
    with pytest.raises(DataError, match=r"dup\.csv:3: row id '0' also on line 2"):
        ValueTable(str(dup), split_dir=str(d)).load(ctx)


def test_example_split_is_checked_and_round_trips() -> None:
    from vhframe.records import Example

    ex = Example(
        id="a", conclusion="c", stance="against", premise="p", values=("Power",), split="valid"
    )
    assert Example.from_dict(ex.to_dict()) == ex
    assert Example.from_dict({k: v for k, v in ex.to_dict().items() if k != "split"}).split == ""
    with pytest.raises(RecordError, match="split must be one of"):
        Example(id="a", conclusion="c", stance="against", premise="p", values=(), split="dev")


def test_touche_fingerprint_names_path_and_splits(tmp_path: Path) -> None:
    assert Touche23().fingerprint() == {"path": "builtin:sample", "splits": ["training"]}
    _split(tmp_path)
    ds = Touche23(str(tmp_path), splits=("training",))
    assert ds.fingerprint() == {"path": str(tmp_path), "splits": ["training"]}
