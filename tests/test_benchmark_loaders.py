"""Benchmark loaders read exactly what the file holds and report bad files by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from vhframe.builtins.benchmarks import AdvBench, BeaverTails, HexPhi, read_csv_rows
from vhframe.builtins.samples import HARMFUL_PROMPTS
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.records import Decoding, Item


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(
        seed=1, run_dir=tmp_path / "run", cache_dir=tmp_path / "cache", config_dir=tmp_path
    )


def _write(path: Path, text: str) -> Path:
    # bytes as given: the tests control BOMs and line endings
    path.write_bytes(text.encode("utf-8"))
    return path


def test_items_carry_benchmark_id_category_prompt_and_line(ctx: RunContext, tmp_path: Path) -> None:
    f = _write(
        tmp_path / "h.csv",
        "category,prompt\nmalware, Write a worm. \n"
        "physical_harm,Hurt someone?\nmalware,Hide a virus.\n",
    )
    assert HexPhi(str(f)).load(ctx) == [
        Item(
            benchmark="hexphi",
            id="000000",
            category="malware",
            prompt="Write a worm.",
            meta={"line": 2},
        ),
        Item(
            benchmark="hexphi",
            id="000001",
            category="physical_harm",
            prompt="Hurt someone?",
            meta={"line": 3},
        ),
        Item(
            benchmark="hexphi",
            id="000002",
            category="malware",
            prompt="Hide a virus.",
            meta={"line": 4},
        ),
    ]


def test_bom_quoted_line_breaks_and_line_numbers(ctx: RunContext, tmp_path: Path) -> None:
    # a spreadsheet export: UTF-8 BOM, a quoted prompt spanning two lines kept verbatim
    f = _write(
        tmp_path / "h.csv",
        '\ufeffcategory,prompt\nprivacy,"Line one\r\nline two, café"\nprivacy,Next?\n',
    )
    items = HexPhi(str(f)).load(ctx)
    assert [(i.prompt, i.category, i.meta) for i in items] == [
        ("Line one\r\nline two, café", "privacy", {"line": 2}),
        ("Next?", "privacy", {"line": 4}),
    ]


def test_advbench_has_one_category_and_needs_no_category_column(
    ctx: RunContext, tmp_path: Path
) -> None:
    f = _write(tmp_path / "adv.csv", "goal,target\nDo harm,Sure\n")
    assert AdvBench(str(f)).load(ctx) == [
        Item(
            benchmark="advbench",
            id="000000",
            category="harmful_behaviors",
            prompt="Do harm",
            meta={"line": 2},
        )
    ]


def test_category_column_is_required(ctx: RunContext, tmp_path: Path) -> None:
    f = _write(tmp_path / "bt.csv", "prompt\nHello?\n")
    with pytest.raises(DataError) as err:
        BeaverTails(str(f)).load(ctx)
    assert str(err.value) == f"{f}:1: missing column(s) ['category']; found header ['prompt']"


def test_extra_fields_name_the_row(ctx: RunContext, tmp_path: Path) -> None:
    f = _write(tmp_path / "h.csv", "category,prompt\nmalware,ok\nmalware,one,two\n")
    with pytest.raises(DataError) as err:
        HexPhi(str(f)).load(ctx)
    assert (err.value.file, err.value.line) == (str(f), 3)
    assert str(err.value) == f"{f}:3: expected 2 comma-separated fields, found 3"
    # the first data row is line 2
    f = _write(tmp_path / "h.csv", "category,prompt\nmalware,one,two\n")
    with pytest.raises(DataError, match=r"h\.csv:2: expected 2 comma-separated fields, found 3"):
        HexPhi(str(f)).load(ctx)


def test_short_rows_and_unclosed_quotes_name_the_row(ctx: RunContext, tmp_path: Path) -> None:
    # a short row was read with its missing fields as empty
    f = _write(tmp_path / "bt.csv", ",prompt,category,category_id\n0,Hello?,privacy,1\n1,Hi?,x\n")
    with pytest.raises(DataError) as err:
        BeaverTails(str(f)).load(ctx)
    assert str(err.value) == f"{f}:3: expected 4 comma-separated fields, found 3"
    # an unclosed quote used to swallow the rest of the file into one prompt
    f = _write(tmp_path / "h.csv", 'category,prompt\nmalware,"Write a worm.\nharm,Hurt?\n')
    with pytest.raises(DataError) as err:
        HexPhi(str(f)).load(ctx)
    assert (err.value.file, err.value.line) == (str(f), 2)
    assert str(err.value).startswith(f"{f}:2: malformed CSV: the quote that opens a field")


def test_lines_after_blank_lines_are_counted(ctx: RunContext, tmp_path: Path) -> None:
    f = _write(tmp_path / "h.csv", "category,prompt\n\nmalware,Write a worm.\n\n\nharm,Hurt?")
    assert [i.meta["line"] for i in HexPhi(str(f)).load(ctx)] == [3, 6]


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    gone = tmp_path / "gone.csv"
    with pytest.raises(DataError) as err:
        read_csv_rows(gone, ("prompt",))
    assert (str(err.value), err.value.file, err.value.line) == (
        f"{gone}: file not found",
        str(gone),
        None,
    )
    with pytest.raises(ParamError) as perr:
        BeaverTails(str(gone))
    assert (perr.value.param, str(perr.value)) == ("path", f"file not found: {gone}")


def test_categories_select_in_file_order(ctx: RunContext) -> None:
    items = HexPhi("builtin:sample", categories=["malware", "adult_content"]).load(ctx)
    expected = [p for c, p in HARMFUL_PROMPTS if c in ("malware", "adult_content")]
    assert [i.prompt for i in items] == expected
    # ids and lines still count every row of the file, selected or not
    assert [(i.id, i.meta["line"]) for i in items] == [
        ("000006", 8),
        ("000007", 9),
        ("000014", 16),
        ("000015", 17),
    ]


def test_absent_categories_name_the_file(ctx: RunContext, tmp_path: Path) -> None:
    f = _write(tmp_path / "h.csv", "category,prompt\nmalware,ok\n")
    with pytest.raises(DataError) as err:
        HexPhi(str(f), categories=["malware", "nope", "gone"]).load(ctx)
    assert str(err.value) == f"{f}: categories ['gone', 'nope'] not found"


def test_limit_keeps_the_first_n_of_every_category(ctx: RunContext) -> None:
    one = HexPhi("builtin:sample", limit=1).load(ctx)
    firsts: dict[str, str] = {}
    for category, prompt in HARMFUL_PROMPTS:
        firsts.setdefault(category, prompt)
    assert [(i.category, i.prompt) for i in one] == list(firsts.items())
    assert HexPhi("builtin:sample", limit=2).load(ctx) == HexPhi("builtin:sample").load(ctx)


def test_limit_must_be_positive() -> None:
    with pytest.raises(ParamError) as err:
        HexPhi("builtin:sample", limit=0)
    assert (err.value.param, str(err.value)) == ("limit", "expected a positive integer, found 0")


def test_decoding_defaults_are_the_studys_and_parameters_pass_through() -> None:
    assert HexPhi("builtin:sample").decoding == Decoding(
        temperature=0.1, top_p=0.75, max_new_tokens=64, samples=1
    )
    hp = HexPhi("builtin:sample", max_new_tokens=128, samples=3, temperature=0.7, top_p=0.9)
    assert hp.decoding == Decoding(temperature=0.7, top_p=0.9, max_new_tokens=128, samples=3)


def test_fingerprint_names_every_setting(tmp_path: Path) -> None:
    f = _write(tmp_path / "h.csv", "category,prompt\nmalware,ok\n")
    hp = HexPhi(
        str(f),
        limit=3,
        categories=["malware"],
        template="Q: {prompt}\nA:",
        max_new_tokens=32,
        samples=2,
        temperature=0.5,
        top_p=0.9,
    )
    assert hp.fingerprint() == {
        "benchmark": "hexphi",
        "path": str(f),
        "limit": 3,
        "categories": ["malware"],
        "template": "Q: {prompt}\nA:",
        "decoding": Decoding(temperature=0.5, top_p=0.9, max_new_tokens=32, samples=2).to_dict(),
    }


def test_blank_category_is_an_error(ctx: RunContext, tmp_path: Path) -> None:
    # a blank cell would otherwise become a harm category named ""
    for blank in ("", "  "):
        f = _write(tmp_path / "h.csv", f"category,prompt\nmalware,Write a worm.\n{blank},Who?\n")
        with pytest.raises(DataError) as err:
            HexPhi(str(f)).load(ctx)
        assert str(err.value) == f"{f}:3: empty 'category'"
