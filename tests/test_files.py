"""The shared readers and writers: strict tables that name file and line, JSON with lines, and
atomic writes that leave the old file whole when a write fails."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import MINIMAL
from vhframe import files
from vhframe.builtins.benchmarks import HexPhi
from vhframe.cli import app
from vhframe.context import RunContext
from vhframe.errors import DataError
from vhframe.files import (
    Row,
    open_atomic,
    open_atomic_binary,
    read_json,
    read_json_records,
    read_table,
    read_text,
    write_atomic,
    write_json,
)

ROOT = Path(__file__).resolve().parents[1]


def _file(tmp_path: Path, data: str | bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _error(path: Path, **kwargs: Any) -> DataError:
    with pytest.raises(DataError) as err:
        read_table(path, **kwargs)
    assert err.value.file == str(path)
    return err.value


# --------------------------------------------------------------------------- unclosed quotes

UNCLOSED = 'category,prompt\nmalware,"Write a worm.\nphysical_harm,Hurt someone?\n'


def test_the_csv_module_alone_swallows_an_unclosed_quote() -> None:
    # why the reader is strict: without strict=True the rest of the file is one field
    rows = list(csv.reader(io.StringIO(UNCLOSED, newline="")))
    assert rows[1] == ["malware", "Write a worm.\nphysical_harm,Hurt someone?\n"]


def test_an_unclosed_quote_is_an_error_at_the_line_where_it_opens(tmp_path: Path) -> None:
    err = _error(_file(tmp_path, UNCLOSED))
    assert err.line == 2
    assert "malformed CSV: the quote that opens a field on this line is never closed" in str(err)
    # the record may start earlier, with a quoted field that does close
    err = _error(_file(tmp_path, 'a,b\n"x\ny","1\n2\n3,4\n'))
    assert err.line == 3
    # doubled quotes inside the field are not its end
    err = _error(_file(tmp_path, 'a,b\n1,2\n3,"say ""hi""\n\n'))
    assert err.line == 3
    # without a final newline
    assert _error(_file(tmp_path, 'a,b\n1,"2')).line == 2


def test_a_stray_character_after_a_closing_quote_is_an_error(tmp_path: Path) -> None:
    err = _error(_file(tmp_path, 'a,b\n1,2\n3,"ok"x\n'))
    assert str(err) == f"{tmp_path / 't.csv'}:3: malformed CSV: ',' expected after '\"'"
    err = _error(_file(tmp_path, 'a,b\n"one\ntwo"x,2\n'))
    assert err.line == 3
    assert str(err).endswith("(in the record that starts on line 2)")


def test_a_benchmark_with_an_unclosed_quote_names_file_and_line(tmp_path: Path) -> None:
    path = _file(tmp_path, UNCLOSED, "h.csv")
    ctx = RunContext(seed=1, run_dir=tmp_path, cache_dir=tmp_path, config_dir=tmp_path)
    with pytest.raises(DataError) as err:
        HexPhi(str(path)).load(ctx)
    assert (err.value.file, err.value.line) == (str(path), 2)
    # once closed, the file holds its two prompts
    path.write_text(UNCLOSED.replace("worm.", 'worm."'), encoding="utf-8")
    assert [i.prompt for i in HexPhi(str(path)).load(ctx)] == ["Write a worm.", "Hurt someone?"]


def test_dry_run_of_a_benchmark_with_an_unclosed_quote_exits_2(tmp_path: Path) -> None:
    bench = _file(tmp_path, UNCLOSED, "h.csv")
    config = tmp_path / "c.toml"
    config.write_text(
        MINIMAL.replace('"runs/x"', f'"{(tmp_path / "run").as_posix()}"').replace(
            '"builtin:sample"', f'"{bench.as_posix()}"'
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["run", str(config), "--dry-run"])
    assert result.exit_code == 2, result.output
    flat = "".join(result.stderr.split())
    assert f"{bench}:2:malformedCSV".replace(" ", "") in flat
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- table layout


def test_rows_keep_their_starting_lines_and_fields_exactly(tmp_path: Path) -> None:
    path = _file(tmp_path, 'a, b \r\n1,"x\r\ny"\r\n\r\n2,"say ""hi"""\r\n3,z')
    table = read_table(path, required=("a", "b"))
    assert table.header == ("a", "b")  # names are stripped, fields are not
    assert table.rows == (Row(2, ("1", "x\r\ny")), Row(5, ("2", 'say "hi"')), Row(6, ("3", "z")))
    assert list(table.records()) == [
        (2, {"a": "1", "b": "x\r\ny"}),
        (5, {"a": "2", "b": 'say "hi"'}),
        (6, {"a": "3", "b": "z"}),
    ]
    assert table.column("b") == 1


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = _file(tmp_path, "\ufeffcategory,prompt\nm,p\n")
    assert read_table(path, required=("category",)).header == ("category", "prompt")
    assert read_text(path) == "category,prompt\nm,p\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a,b\n1,2\n3,4,5\n", 3, "expected 2 comma-separated fields, found 3"),
        ("a,b\n1,2\n3\n", 3, "expected 2 comma-separated fields, found 1"),
        ("a,b\n1,2\n\n3\n", 4, "expected 2 comma-separated fields, found 1"),
        ("", 1, "empty file: expected a header row"),
        ("\na,b\n", 1, "blank first line: expected a header row"),
        ("x,b\n1,2\n", 1, "missing column(s) ['a']; found header ['x', 'b']"),
        ("a,a,b\n1,2,3\n", 1, "column(s) ['a'] appear more than once in the header"),
    ],
)
def test_layout_errors_name_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = _file(tmp_path, text)
    err = _error(path, required=("a", "b"))
    assert (err.line, str(err)) == (line, f"{path}:{line}: {message}")


def test_undecodable_bytes_name_their_line(tmp_path: Path) -> None:
    for bom in (b"", b"\xef\xbb\xbf"):
        raw = bom + b"a,b\n1,2\n3,caf\xe9\n"
        path = _file(tmp_path, raw)
        err = _error(path)
        at = raw.index(b"\xe9")
        assert str(err) == f"{path}:3: not UTF-8 text (invalid continuation byte at byte {at})"


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    err = _error(tmp_path / "gone.csv")
    assert (str(err), err.line) == (f"{tmp_path / 'gone.csv'}: file not found", None)


def test_blank_lines_are_skipped_or_only_tolerated_at_the_end(tmp_path: Path) -> None:
    path = _file(tmp_path, "a,b\n1,2\n\n  \n3,4\n\n")
    assert [r.line for r in read_table(path).rows] == [2, 5]
    err = _error(path, blank_lines="trailing")
    assert (err.line, err.detail) == (
        3,
        "empty row: every row must hold a record (remove the blank line)",
    )
    assert len(read_table(_file(tmp_path, "a,b\n1,2\n\n\n"), blank_lines="trailing").rows) == 1
    # in a one-column table a blank-looking field is a value
    assert read_table(_file(tmp_path, "q\nx\n \n")).rows == (Row(2, ("x",)), Row(3, (" ",)))


def test_tsv_without_quoting_keeps_quotes_as_text(tmp_path: Path) -> None:
    path = _file(tmp_path, 'id\ttext\n1\t"open\n2\tsaid "so"\n', "t.tsv")
    table = read_table(path, delimiter="\t", quoting=False)
    assert [r.cells for r in table.rows] == [("1", '"open'), ("2", 'said "so"')]
    err = _error(_file(tmp_path, "id\ttext\n1\t2\t3\n", "t.tsv"), delimiter="\t", quoting=False)
    assert err.detail == "expected 2 tab-separated fields, found 3"


# --------------------------------------------------------------------------- JSON


def test_read_json_names_the_line_of_invalid_json(tmp_path: Path) -> None:
    assert read_json(_file(tmp_path, '\ufeff{"a": [1, 2]}\n', "x.json")) == {"a": [1, 2]}
    path = _file(tmp_path, '{\n  "a": 1,\n  "b": \n}\n', "x.json")
    with pytest.raises(DataError) as err:
        read_json(path)
    assert (err.value.line, err.value.detail) == (4, "invalid JSON: Expecting value (column 1)")


def test_json_records_carry_their_lines(tmp_path: Path) -> None:
    array = _file(tmp_path, '[\n  {"a": 1},\n\n  [2],\n  3\n]\n', "x.json")
    assert read_json_records(array) == [(2, {"a": 1}), (4, [2]), (5, 3)]
    lines = _file(tmp_path, '{"a": 1}\n\n{"a": 2}\n', "x.jsonl")
    assert read_json_records(lines) == [(1, {"a": 1}), (3, {"a": 2})]


# --------------------------------------------------------------------------- atomic writes


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_failed_json_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    write_json(path, {"a": 1})
    before = path.read_bytes()
    # "b" is encoded after "a" has been written: the failure comes midway
    with pytest.raises(TypeError):
        write_json(path, {"a": "x" * 100_000, "b": object()})
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_an_exception_inside_open_atomic_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), open_atomic(path) as fh:
        fh.write("new, half written")
        raise RuntimeError("stop")
    assert path.read_text(encoding="utf-8") == "old"
    assert _leftovers(tmp_path) == []
    # a file that did not exist is not created either
    with pytest.raises(RuntimeError), open_atomic(tmp_path / "none.txt"):
        raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_failed_rename_removes_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(src: object, dst: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_atomic(tmp_path / "x.txt", "text")
    assert list(tmp_path.iterdir()) == []


def test_atomic_writes_are_exact_and_made_like_any_new_file(tmp_path: Path) -> None:
    text = tmp_path / "deep" / "er" / "t.txt"  # folders are made
    write_atomic(text, "a\r\nb\n\u00e9")
    assert text.read_bytes() == "a\r\nb\n\u00e9".encode()
    write_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    with open_atomic_binary(tmp_path / "b.bin") as fh:
        fh.write(b"\r\n")
    assert (tmp_path / "b.bin").read_bytes() == b"\r\n"
    umask = os.umask(0o022)
    os.umask(umask)
    assert text.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    doc = tmp_path / "d.json"
    write_json(doc, {"b": 1, "a": "é"})
    assert doc.read_text(encoding="utf-8") == json.dumps({"a": "é", "b": 1}, indent=2) + "\n"
    write_json(doc, {"b": 1, "a": "é"}, indent=None, sort_keys=False, ensure_ascii=False)
    assert doc.read_text(encoding="utf-8") == '{"b": 1, "a": "é"}\n'


# --------------------------------------------------------------------------- imports


BUILTINS = sorted(p.stem for p in (ROOT / "vhframe" / "builtins").glob("*.py"))


def test_every_builtin_module_imports_on_its_own() -> None:
    # each module first, in a fresh set of built-in modules: an import cycle would fail one
    code = (
        "import importlib, sys\n"
        f"for name in {BUILTINS!r}:\n"
        "    for m in [m for m in sys.modules if m.startswith('vhframe.builtins')]:\n"
        "        del sys.modules[m]\n"
        "    importlib.import_module('vhframe.builtins.' + name)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_modules_import_vhframe_at_the_top(name: str) -> None:
    # an import inside a function is how a cycle gets hidden
    tree = ast.parse((ROOT / "vhframe" / "builtins" / f"{name}.py").read_text(encoding="utf-8"))
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vhframe"):
                    pytest.fail(f"{name}.py:{node.lineno} imports {node.module} inside a function")
                if isinstance(node, ast.Import) and any(
                    a.name.startswith("vhframe") for a in node.names
                ):
                    pytest.fail(f"{name}.py:{node.lineno} imports vhframe inside a function")
