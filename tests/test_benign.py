"""Task datasets of the benign baselines: samples, templates, filters, real grammar files and
clear errors for malformed input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.conftest import shared
from vhframe.builtins.benign import (
    ALPACA_PROMPT_INPUT,
    ALPACA_PROMPT_NO_INPUT,
    TEMPLATE_VERSION,
    Alpaca,
    Dolly,
    Grammar,
    Samsum,
    alpaca_prompt,
    grammar_prompt,
    samsum_prompt,
)
from vhframe.builtins.samples import (
    ALPACA_TASKS,
    DOLLY_TASKS,
    GRAMMAR_PAIRS,
    SAMSUM_DIALOGUES,
    sample_dir,
)
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.hookspecs import TaskDataset
from vhframe.plugins import PluginManager


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(
        seed=1, run_dir=tmp_path / "run", cache_dir=tmp_path / "cache", config_dir=tmp_path
    )


def _json(path: Path, records: object) -> str:
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    return str(path)


def _jsonl(path: Path, records: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------ templates
def test_templates_have_the_standard_shape() -> None:
    with_input = alpaca_prompt("Do X.", "some text")
    assert with_input.startswith(
        "Below is an instruction that describes a task, paired with an "
        "input that provides further context."
    )
    assert with_input.endswith(
        "### Instruction:\nDo X.\n\n### Input:\nsome text\n\n### Response:\n"
    )
    without = alpaca_prompt("Do X.", "  ")
    assert without == ALPACA_PROMPT_NO_INPUT.format(instruction="Do X.")
    assert "### Input:" not in without and "paired with an input" not in without
    assert "{input}" in ALPACA_PROMPT_INPUT
    assert grammar_prompt("He go.") == "Correct this to standard English: He go.\n---\nCorrected: "
    assert samsum_prompt("A: hi\r\nB: hello") == (
        "Summarize this dialog:\nA: hi\r\nB: hello\n---\nSummary:\n"
    )
    # braces in the data are text, not template fields
    assert alpaca_prompt("Print {x}", "{input}").count("{input}") == 1


# ------------------------------------------------------------------ samples
def test_builtin_samples_load_in_their_real_formats(ctx: RunContext) -> None:
    loaded = {
        cls.source: cls("builtin:sample").load(ctx) for cls in (Alpaca, Dolly, Grammar, Samsum)
    }
    assert {k: len(v) for k, v in loaded.items()} == {
        "alpaca": len(ALPACA_TASKS),
        "dolly": len(DOLLY_TASKS),
        "grammar": len(GRAMMAR_PAIRS),
        "samsum": len(SAMSUM_DIALOGUES),
    }
    for source, examples in loaded.items():
        assert 20 <= len(examples) <= 40
        assert {e.source for e in examples} == {source}
        assert len({e.id for e in examples}) == len(examples)
        assert all(e.prompt and e.target.strip() for e in examples)
    d = sample_dir(ctx.cache_dir) / "benign"
    assert isinstance(json.loads((d / "alpaca-sample.json").read_text()), list)
    assert all(
        isinstance(json.loads(line), dict)
        for line in (d / "dolly-sample.jsonl").read_text().splitlines()
    )
    assert (d / "grammar-sample.csv").read_bytes().startswith(b"\xef\xbb\xbfinput,target\n")
    assert "\r\n" in json.loads((d / "samsum-sample.json").read_text())[0]["dialogue"]
    # both Alpaca forms occur, and Dolly uses its context as the input
    alpaca = loaded["alpaca"]
    assert any("### Input:" in e.prompt for e in alpaca)
    assert any("### Input:" not in e.prompt for e in alpaca)
    with_context = [e for e, t in zip(loaded["dolly"], DOLLY_TASKS, strict=True) if t[1]]
    assert with_context and all("### Input:\n" in e.prompt for e in with_context)
    first = loaded["grammar"][0]
    assert first.prompt == grammar_prompt(GRAMMAR_PAIRS[0][0]) and first.id == "000000"
    assert loaded["samsum"][0].id == SAMSUM_DIALOGUES[0][0]


def test_limit_keeps_file_order_and_fingerprint_names_settings(ctx: RunContext) -> None:
    full = Dolly("builtin:sample").load(ctx)
    assert Dolly("builtin:sample", limit=5).load(ctx) == full[:5]
    fp = Grammar("builtin:sample", limit=3).fingerprint()
    assert fp == {
        "format": "grammar",
        "path": "builtin:sample",
        "limit": 3,
        "empty": "error",
        "template": f"grammar-v{TEMPLATE_VERSION}",
    }
    json.dumps(Dolly("builtin:sample", categories=["open_qa"]).fingerprint())
    assert Alpaca("builtin:sample").fingerprint() != Alpaca("builtin:sample", limit=2).fingerprint()


# ------------------------------------------------------------------ alpaca
def test_alpaca_json_and_jsonl(ctx: RunContext, tmp_path: Path) -> None:
    recs = [
        {"instruction": "Add.", "input": "1 + 1", "output": "2"},
        {"instruction": "Say hi.", "output": "Hi!"},
    ]  # input may be absent
    for path in (_json(tmp_path / "a.json", recs), _jsonl(tmp_path / "a.jsonl", recs)):
        ex = Alpaca(path).load(ctx)
        assert [e.id for e in ex] == ["000000", "000001"]
        assert ex[0].prompt == alpaca_prompt("Add.", "1 + 1") and ex[0].target == "2"
        assert ex[1].prompt == alpaca_prompt("Say hi.")
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(recs).encode())
    assert len(Alpaca(str(bom)).load(ctx)) == 2
    empty_list = tmp_path / "none.json"
    empty_list.write_text("[ ]\n")
    assert Alpaca(str(empty_list)).load(ctx) == []


def test_alpaca_errors_name_file_line_and_record(ctx: RunContext, tmp_path: Path) -> None:
    path = _json(
        tmp_path / "missing.json",
        [{"instruction": "a", "output": "b"}, {"instruction": "c", "input": ""}],
    )
    with pytest.raises(
        DataError,
        match=r"missing\.json:6: record index 1: missing key "
        r"'output'; found keys \['input', 'instruction'\]",
    ):
        Alpaca(path).load(ctx)

    bad = tmp_path / "bad.json"
    bad.write_text(
        '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c" "output": "d"}\n]\n'
    )
    with pytest.raises(DataError, match=r"bad\.json:3: invalid JSON: Expecting ',' delimiter"):
        Alpaca(str(bad)).load(ctx)

    trailing = tmp_path / "trailing.json"
    trailing.write_text('[{"instruction": "a", "output": "b"},\n]\n')
    with pytest.raises(DataError, match=r"trailing\.json:2: invalid JSON: Expecting value"):
        Alpaca(str(trailing)).load(ctx)

    unclosed = tmp_path / "unclosed.json"
    unclosed.write_text('[{"instruction": "a", "output": "b"}\n\n')
    with pytest.raises(DataError, match=r"unclosed\.json:3: invalid JSON: expected ',' or ']'"):
        Alpaca(str(unclosed)).load(ctx)

    extra = tmp_path / "extra.json"
    extra.write_text("[]\n[]\n")
    with pytest.raises(DataError, match=r"extra\.json:2: invalid JSON: extra data"):
        Alpaca(str(extra)).load(ctx)

    not_obj = _json(tmp_path / "list.json", [["a", "b"]])
    with pytest.raises(
        DataError,
        match=r"list\.json:2: record index 0: expected a JSON object, "
        r"found an array",
    ):
        Alpaca(not_obj).load(ctx)

    not_str = _json(tmp_path / "num.json", [{"instruction": "a", "output": None}])
    with pytest.raises(
        DataError,
        match=r"num\.json:2: record index 0: 'output' must be a "
        r"string, found null",
    ):
        Alpaca(not_str).load(ctx)

    jsonl = tmp_path / "x.jsonl"
    jsonl.write_text('{"instruction": "a", "output": "b"}\n\n{"instruction": "c", "output":}\n')
    with pytest.raises(
        DataError,
        match=r"x\.jsonl:3: invalid JSON: Expecting value .*one JSON "
        r"object per line",
    ):
        Alpaca(str(jsonl)).load(ctx)

    blank = tmp_path / "blank.json"
    blank.write_text("  \n")
    with pytest.raises(DataError, match=r"blank\.json:1: empty file"):
        Alpaca(str(blank)).load(ctx)

    latin = tmp_path / "latin.json"
    latin.write_bytes(b'[\n{"instruction": "caf\xe9", "output": "b"}]')
    with pytest.raises(DataError, match=r"latin\.json:2: not UTF-8 text"):
        Alpaca(str(latin)).load(ctx)


# (file name, text, message after "<path>:") for the JSON reader's edge cases
JSON_ERRORS: list[tuple[str, str, str]] = [
    (
        "lead.json",
        '\n[\n{"instruction": "a"}\n]\n',
        "3: record index 0: missing key 'output'; found keys ['instruction']",
    ),
    ("after-empty.json", "[]}", "1: invalid JSON: extra data after the closing ']' of the array"),
    (
        "after-one.json",
        '[{"instruction": "a", "output": "b"}]}',
        "1: invalid JSON: extra data after the closing ']' of the array",
    ),
    (
        "after-lead.json",
        "\n[]\nx\n",
        "3: invalid JSON: extra data after the closing ']' of the array",
    ),
    (
        "no-comma.json",
        '[{"instruction": "a", "output": "b"} {"instruction": "c"}]\n\n\n',
        "1: invalid JSON: expected ',' or ']' after a record of the array",
    ),
    ("open.json", "[", "1: invalid JSON: Expecting value (column 2)"),
    (
        "text.json",
        "X\n",
        "1: invalid JSON: Expecting value (column 1); expected one JSON object per line",
    ),
    ("blank.json", " \t\r\n", "1: empty file: expected a JSON array or JSON Lines records"),
    (
        "lines.jsonl",
        '{"instruction": "a", "output": "b"}\n\n[1]\n',
        "3: record index 1: expected a JSON object, found an array",
    ),
    ("strings.json", '["a"]', "1: record index 0: expected a JSON object, found a string"),
]


@pytest.mark.parametrize(("name", "text", "message"), JSON_ERRORS, ids=[c[0] for c in JSON_ERRORS])
def test_json_reader_errors_are_exact(
    ctx: RunContext, tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as e:
        Alpaca(str(path)).load(ctx)
    assert str(e.value) == f"{path}:{message}"


def test_read_errors_are_exact(ctx: RunContext, tmp_path: Path) -> None:
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'\n[\n{"instruction": "caf\xe9", "output": "b"}]\n\n')
    with pytest.raises(DataError) as e:
        Alpaca(str(latin)).load(ctx)
    assert str(e.value) == f"{latin}:3: not UTF-8 text (invalid continuation byte at byte 23)"
    gone = tmp_path / "gone.json"
    gone.write_text("[]", encoding="utf-8")
    alpaca = Alpaca(str(gone))
    gone.unlink()  # removed between configuration and loading
    with pytest.raises(DataError) as e:
        alpaca.load(ctx)
    assert str(e.value) == f"{gone}: file not found"


def test_json_array_without_whitespace(ctx: RunContext, tmp_path: Path) -> None:
    recs = [
        {"instruction": "a", "output": "b"},
        {"instruction": "c", "input": "d", "output": "e"},
        {"instruction": "f", "output": "g"},
    ]
    path = tmp_path / "compact.json"
    path.write_text(json.dumps(recs, separators=(",", ":")), encoding="utf-8")
    ex = Alpaca(str(path)).load(ctx)
    assert [(e.id, e.prompt, e.target) for e in ex] == [
        ("000000", alpaca_prompt("a"), "b"),
        ("000001", alpaca_prompt("c", "d"), "e"),
        ("000002", alpaca_prompt("f"), "g"),
    ]


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (True, "a boolean"),
        (1, "a number"),
        (1.5, "a number"),
        (["x"], "an array"),
        ({"x": 1}, "an object"),
        (None, "null"),
    ],
)
def test_non_string_fields_are_named_by_json_type(
    ctx: RunContext, tmp_path: Path, value: object, described: str
) -> None:
    path = _json(tmp_path / "t.json", [{"instruction": "a", "output": value}])
    with pytest.raises(DataError) as e:
        Alpaca(path).load(ctx)
    assert str(e.value) == f"{path}:2: record index 0: 'output' must be a string, found {described}"


def test_empty_fields_error_skip_or_keep(ctx: RunContext, tmp_path: Path) -> None:
    recs = [
        {"instruction": "a", "input": "", "output": "b"},
        {"instruction": "c", "input": "", "output": "  "},
        {"instruction": "", "input": "", "output": "d"},
    ]
    path = _jsonl(tmp_path / "e.jsonl", recs)
    with pytest.raises(
        DataError,
        match=r"e\.jsonl:2: record index 1: empty 'output'; set the "
        r"parameter empty = \"skip\"",
    ):
        Alpaca(path).load(ctx)
    assert [e.id for e in Alpaca(path, empty="skip").load(ctx)] == ["000000"]
    kept = Alpaca(path, empty="keep").load(ctx)
    assert [e.target for e in kept] == ["b", "  ", "d"]


def test_phrase_filter_looks_at_the_response_only(ctx: RunContext, tmp_path: Path) -> None:
    recs = [
        {"instruction": "Is it illegal?", "input": "", "output": "No, it is fine."},
        {"instruction": "Tell me", "input": "", "output": "That would be ILLEGAL here."},
        {"instruction": "Ask", "input": "", "output": "As an AI, I cannot say."},
    ]
    path = _json(tmp_path / "p.json", recs)
    kept = Alpaca(path, exclude_phrases=["illegal", "as an ai"]).load(ctx)
    assert [e.id for e in kept] == ["000000"]
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("Illegal\n\nas an AI\n", encoding="utf-8")
    by_file = Alpaca(path, exclude_phrases_file=str(phrases))
    assert by_file.load(ctx) == kept
    assert by_file.fingerprint()["exclude_phrases"] == ["illegal", "as an ai"]
    both = Alpaca(path, exclude_phrases=["fine", "ILLEGAL"], exclude_phrases_file=str(phrases))
    assert both.exclude_phrases == ["fine", "illegal", "as an ai"]
    assert both.exclude_phrases_file == str(phrases)
    assert both.load(ctx) == []
    assert "exclude_phrases" not in Alpaca(path).fingerprint()

    dolly = _jsonl(
        tmp_path / "d.jsonl",
        [
            {"instruction": "Is this harmful?", "context": "", "response": "No.", "category": "x"},
            {"instruction": "Why?", "context": "", "response": "It is harmful.", "category": "x"},
        ],
    )
    assert [e.id for e in Dolly(dolly, exclude_phrases=["harmful"]).load(ctx)] == ["000000"]


def test_instruction_params_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ParamError, match="file not found") as e:
        Alpaca(str(tmp_path / "nope.json"))
    assert e.value.param == "path"
    with pytest.raises(ParamError, match="not a file") as e:
        Alpaca(str(tmp_path))
    assert (e.value.param, str(e.value)) == ("path", f"not a file: {tmp_path}")
    for bad in (0, -1, True, "3"):
        with pytest.raises(ParamError, match="positive integer") as e:
            Alpaca("builtin:sample", limit=bad)  # type: ignore[arg-type]
        assert e.value.param == "limit"
    with pytest.raises(ParamError, match=r"expected one of \['error', 'skip', 'keep'\]"):
        Grammar("builtin:sample", empty="drop")
    with pytest.raises(ParamError, match="list of non-empty strings") as e:
        Alpaca("builtin:sample", exclude_phrases="illegal")  # type: ignore[arg-type]
    assert e.value.param == "exclude_phrases"
    with pytest.raises(ParamError, match="file not found") as e:
        Dolly("builtin:sample", exclude_phrases_file=str(tmp_path / "none.txt"))
    assert e.value.param == "exclude_phrases_file"
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ParamError, match="no phrases"):
        Dolly("builtin:sample", exclude_phrases_file=str(empty))


def test_phrase_filter_logs_the_count_of_each_pass(
    ctx: RunContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _jsonl(
        tmp_path / "d.jsonl",
        [
            {"instruction": "a", "response": "Harmful.", "category": "x"},
            {"instruction": "b", "response": "Fine.", "category": "x"},
            {"instruction": "c", "response": "Not harmful at all.", "category": "x"},
        ],
    )
    dolly = Dolly(path, exclude_phrases=["HARMFUL"])
    caplog.set_level(logging.INFO, logger="vhframe")
    for _ in range(2):  # the count starts again on every pass
        assert [e.id for e in dolly.load(ctx)] == ["000001"]
    expected = f"{path}: excluded 2 record(s) whose response contains an excluded phrase"
    assert [r.getMessage() for r in caplog.records] == [expected, expected]


def test_phrase_file_is_read_as_utf8_without_bom(ctx: RunContext, tmp_path: Path) -> None:
    path = _json(
        tmp_path / "p.json",
        [{"instruction": "a", "output": "Illegal."}, {"instruction": "b", "output": "Fine."}],
    )
    phrases = tmp_path / "phrases.txt"
    phrases.write_bytes(b"\xef\xbb\xbfillegal\n")  # the BOM is not part of the first phrase
    kept = Alpaca(path, exclude_phrases_file=str(phrases))
    assert kept.exclude_phrases == ["illegal"]
    assert [e.id for e in kept.load(ctx)] == ["000001"]


def test_phrase_file_param_errors_are_exact(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9\n")
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\n", encoding="utf-8")
    cases: list[tuple[object, str]] = [
        ("", "expected a file path, found ''"),
        (5, "expected a file path, found 5"),
        (str(tmp_path / "none.txt"), f"file not found: {tmp_path / 'none.txt'}"),
        (str(latin), f"{latin}: not UTF-8 text (invalid continuation byte)"),
        (str(blank), f"{blank}: no phrases (one per line)"),
    ]
    for file, message in cases:
        with pytest.raises(ParamError) as e:
            Alpaca("builtin:sample", exclude_phrases_file=file)  # type: ignore[arg-type]
        assert (e.value.param, str(e.value)) == ("exclude_phrases_file", message)


def test_path_and_limit_bounds(ctx: RunContext) -> None:
    assert [e.id for e in Grammar("builtin:sample", limit=1).load(ctx)] == ["000000"]
    for bad in ("", 5, None):
        with pytest.raises(ParamError) as e:
            Grammar(bad)  # type: ignore[arg-type]
        assert (e.value.param, str(e.value)) == (
            "path",
            f"expected a file path or 'builtin:sample', found {bad!r}",
        )


# ------------------------------------------------------------------ dolly
def test_dolly_categories(ctx: RunContext) -> None:
    full = Dolly("builtin:sample").load(ctx)
    cats = [t[3] for t in DOLLY_TASKS]
    open_qa = Dolly("builtin:sample", categories=["open_qa", "closed_qa"]).load(ctx)
    assert [e.id for e in open_qa] == [
        e.id for e, c in zip(full, cats, strict=True) if c in ("open_qa", "closed_qa")
    ]
    rest = Dolly("builtin:sample", exclude_categories=["creative_writing"]).load(ctx)
    assert len(rest) == len(full) - cats.count("creative_writing")
    with pytest.raises(
        DataError,
        match=r"categories: \['poetry'\] not found; the file's "
        r"categories are \['brainstorming'",
    ):
        Dolly("builtin:sample", categories=["poetry"]).load(ctx)
    with pytest.raises(DataError, match=r"exclude_categories: \['open-qa'\] not found"):
        Dolly("builtin:sample", exclude_categories=["open-qa"]).load(ctx)
    with pytest.raises(ParamError, match=r"\['open_qa'\] also listed in categories"):
        Dolly("builtin:sample", categories=["open_qa"], exclude_categories=["open_qa"])


def test_dolly_errors(ctx: RunContext, tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "d.jsonl",
        [
            {"instruction": "a", "context": "", "response": "b", "category": "open_qa"},
            {"instruction": "a", "context": "", "category": "open_qa"},
        ],
    )
    with pytest.raises(DataError, match=r"d\.jsonl:2: record index 1: missing key 'response'"):
        Dolly(path).load(ctx)
    empty = _jsonl(
        tmp_path / "e.jsonl",
        [{"instruction": "a", "context": "c", "response": "", "category": "open_qa"}],
    )
    with pytest.raises(DataError, match=r"e\.jsonl:1: record index 0: empty 'response'"):
        Dolly(empty).load(ctx)


def test_dolly_param_errors_and_fingerprint() -> None:
    for param in ("categories", "exclude_categories"):
        with pytest.raises(ParamError) as e:
            Dolly("builtin:sample", **{param: "open_qa"})
        assert (e.value.param, str(e.value)) == (
            param,
            "expected a list of non-empty strings, found 'open_qa'",
        )
    for bad in ([""], ["a", " "], ["a", 3], 5):
        with pytest.raises(ParamError) as e:
            Dolly("builtin:sample", categories=bad)  # type: ignore[arg-type]
        assert str(e.value) == f"expected a list of non-empty strings, found {bad!r}"
    with pytest.raises(ParamError) as e:
        Dolly("builtin:sample", categories=["a", "b"], exclude_categories=["b", "a"])
    assert (e.value.param, str(e.value)) == (
        "exclude_categories",
        "['a', 'b'] also listed in categories",
    )
    fp = Dolly("builtin:sample", categories=["open_qa"]).fingerprint()
    assert fp == {
        "format": "dolly",
        "path": "builtin:sample",
        "limit": None,
        "empty": "error",
        "template": f"dolly-v{TEMPLATE_VERSION}",
        "categories": ["open_qa"],
        "exclude_categories": None,
    }
    fp = Dolly("builtin:sample", exclude_categories=["x"], exclude_phrases=["A"]).fingerprint()
    assert (fp["categories"], fp["exclude_categories"], fp["exclude_phrases"]) == (
        None,
        ["x"],
        ["a"],
    )


def test_dolly_unknown_category_names_the_file(
    ctx: RunContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _jsonl(
        tmp_path / "d.jsonl",
        [
            {"instruction": "a", "response": "Bad.", "category": "open_qa"},
            {"instruction": "b", "response": "Fine.", "category": " brainstorming "},
        ],
    )
    caplog.set_level(logging.INFO, logger="vhframe")
    with pytest.raises(DataError) as e:
        Dolly(path, categories=["open_qa", "poetry"], exclude_phrases=["bad"]).load(ctx)
    assert str(e.value) == (
        f"{path}: categories: ['poetry'] not found; the file's categories "
        "are ['brainstorming', 'open_qa']"
    )
    # the phrase filter reports before the category check fails
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: excluded 1 record(s) whose response contains an excluded phrase"
    ]


# ------------------------------------------------------------------ grammar
def test_grammar_csv_with_bom_and_quoted_lines(ctx: RunContext, tmp_path: Path) -> None:
    f = tmp_path / "g.csv"
    f.write_bytes(
        '\ufeffinput,target\nhe go,He goes.\n"two\nlines, here","Two lines, '
        'here."\n"say ""hi""","Say ""hi""."\n\n'.encode()
    )
    ex = Grammar(str(f)).load(ctx)
    assert [e.target for e in ex] == ["He goes.", "Two lines, here.", 'Say "hi".']
    assert ex[1].prompt == grammar_prompt("two\nlines, here")
    # extra columns are ignored
    f.write_text("id,input,target\n1,a b,A b.\n")
    assert Grammar(str(f)).load(ctx)[0].target == "A b."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input,target\na,A.\n\nb,B.\n", r"g\.csv:3: empty row"),
        ("input,target\na,A.\n \nb,B.\n", r"g\.csv:3: empty row"),
        ("text,fixed\na,A.\n", r"g\.csv:1: missing column\(s\) \['input', 'target'\]"),
        ("input\na\n", r"g\.csv:1: missing column\(s\) \['target'\]"),
        ("input,target\na,A.\nb\n", r"g\.csv:3: expected 2 comma-separated fields, found 1"),
        (
            'input,target\na,A.\n"b\nc",C.,x\n',
            r"g\.csv:3: expected 2 comma-separated fields, "
            r"found 3",
        ),
        ('input,target\na,A.\n"b"x,B.\n', r"g\.csv:3: malformed CSV"),
        ('input,target\na,A.\nb,"B.\n', r"g\.csv:3: malformed CSV"),
        ("input,target\na,A.\nb, \n", r"g\.csv:3: record index 1: empty 'target'"),
        ("input,target\n,A.\n", r"g\.csv:2: record index 0: empty 'input'"),
        ("", r"g\.csv:1: empty file"),
    ],
)
def test_grammar_errors(ctx: RunContext, tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "g.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        Grammar(str(f)).load(ctx)


def test_grammar_line_numbers_count_multiline_records(ctx: RunContext, tmp_path: Path) -> None:
    f = tmp_path / "g.csv"
    f.write_text('input,target\n"a\nb\nc",ABC.\nd,\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"g\.csv:5: record index 1: empty 'target'"):
        Grammar(str(f)).load(ctx)


@pytest.mark.data
@pytest.mark.parametrize(
    ("name", "rows"), [("gtrain_10k.csv", 13016), ("grammar_validation.csv", 2988)]
)
def test_grammar_real_files(ctx: RunContext, name: str, rows: int) -> None:
    path = shared(f"benign/{name}")  # skips, with the reason, where the data are absent
    ex = Grammar(str(path)).load(ctx)
    assert len(ex) == rows  # the README's row counts
    assert all(e.prompt.startswith("Correct this to standard English: ") for e in ex)
    assert all(e.prompt.endswith("\n---\nCorrected: ") and e.target.strip() for e in ex)
    assert not ex[0].prompt.startswith("Correct this to standard English: \ufeff")
    assert [e.id for e in Grammar(str(path), limit=3).load(ctx)] == ["000000", "000001", "000002"]


# ------------------------------------------------------------------ samsum
def test_samsum_json_jsonl_and_csv(ctx: RunContext, tmp_path: Path) -> None:
    recs = [
        {"id": "13818513", "summary": "A and B meet.", "dialogue": "A: hi\r\nB: see you"},
        {"id": 42, "summary": "C agrees.", "dialogue": "C: ok"},
    ]
    as_json = Samsum(_json(tmp_path / "s.json", recs)).load(ctx)
    as_jsonl = Samsum(_jsonl(tmp_path / "s.jsonl", recs)).load(ctx)
    assert as_json == as_jsonl
    assert [e.id for e in as_json] == ["13818513", "42"]
    assert as_json[0].prompt == samsum_prompt("A: hi\r\nB: see you")
    csv_file = tmp_path / "s.csv"
    csv_file.write_bytes(
        b'id,dialogue,summary\n13818513,"A: hi\r\nB: see you",A and B meet.\n42,C: ok,C agrees.\n'
    )
    assert Samsum(str(csv_file)).load(ctx) == as_json
    no_ids = tmp_path / "n.csv"
    no_ids.write_text("dialogue,summary\nA: hi,A greets.\n")
    assert Samsum(str(no_ids)).load(ctx)[0].id == "000000"


def test_samsum_errors(ctx: RunContext, tmp_path: Path) -> None:
    dup = _jsonl(
        tmp_path / "dup.jsonl",
        [
            {"id": "1", "summary": "a", "dialogue": "x"},
            {"id": "1", "summary": "b", "dialogue": "y"},
        ],
    )
    with pytest.raises(
        DataError,
        match=r"dup\.jsonl:2: record index 1: id '1' is also on line "
        r"1; ids must be unique",
    ):
        Samsum(dup).load(ctx)
    missing = _json(tmp_path / "m.json", [{"id": "1", "dialogue": "x"}])
    with pytest.raises(DataError, match=r"m\.json:2: record index 0: missing key 'summary'"):
        Samsum(missing).load(ctx)
    empty = _json(tmp_path / "e.json", [{"id": "1", "dialogue": "x", "summary": ""}])
    with pytest.raises(DataError, match=r"e\.json:2: record index 0: empty 'summary'"):
        Samsum(empty).load(ctx)
    no_col = tmp_path / "c.csv"
    no_col.write_text("id,dialog,summary\n1,x,y\n")
    with pytest.raises(DataError, match=r"c\.csv:1: missing column\(s\) \['dialogue'\]"):
        Samsum(str(no_col)).load(ctx)


def test_samsum_blank_ids_become_positions_and_ids_must_be_text(
    ctx: RunContext, tmp_path: Path
) -> None:
    path = _json(
        tmp_path / "s.json",
        [
            {"id": " ", "dialogue": "A: hi", "summary": "A greets."},
            {"id": "", "dialogue": "B: yo", "summary": "B greets."},
            {"id": 7, "dialogue": "C: ok", "summary": "C agrees."},
        ],
    )
    assert [e.id for e in Samsum(path).load(ctx)] == ["000000", "000001", "7"]
    flag = _json(tmp_path / "b.json", [{"id": True, "dialogue": "A: hi", "summary": "A greets."}])
    with pytest.raises(DataError) as e:
        Samsum(flag).load(ctx)
    assert str(e.value) == f"{flag}:2: record index 0: 'id' must be a string, found a boolean"


# ------------------------------------------------------------------ registration
def test_task_datasets_are_registered() -> None:
    pm = PluginManager().load(entry_points=False)
    names = {f"vhframe:{n}" for n in ("alpaca", "dolly", "grammar", "samsum")}
    assert names <= set(pm.registry["task_datasets"])
    assert all(pm.get("task_datasets", n).description for n in names)
    dolly = pm.create(
        "task_datasets",
        "vhframe:dolly",
        {"path": "builtin:sample", "categories": ["summarization"]},
    )
    assert isinstance(dolly, Dolly) and isinstance(dolly, TaskDataset)
    assert "vhframe:grammar" in pm.plugins["vhframe"].components["task_datasets"]
