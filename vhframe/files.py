"""Reading data files strictly and writing files atomically.

Every table vhframe reads goes through :func:`read_table` and every JSON data file through
:func:`read_json` or :func:`read_json_records`: a malformed file is a
:class:`~vhframe.errors.DataError` that names the file and line, never a traceback and never a
silently different reading (an unclosed quote that swallows the rest of a CSV into one field
is an error at the line where the quote opens). Every file written for others to read goes
through :func:`open_atomic`, so that a reader sees the old file or the new one, never half of
one, and a failed write leaves the old file as it was and no temporary file behind.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, NamedTuple, TextIO

from vhframe.errors import DataError

__all__ = [
    "Row",
    "Table",
    "open_atomic",
    "open_atomic_binary",
    "read_json",
    "read_json_records",
    "read_table",
    "read_text",
    "write_atomic",
    "write_json",
]

# --------------------------------------------------------------------------- text


def read_text(path: Path) -> str:
    """The file's text: UTF-8, a leading byte order mark dropped. A missing file and bytes that
    are not UTF-8 are errors naming the file (and the line of the bad byte)."""
    if not path.is_file():
        raise DataError("file not found", file=str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    # the BOM is cut off here rather than by "utf-8-sig", whose error offsets skip it
    skip = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = skip + exc.start
        raise DataError(
            f"not UTF-8 text ({exc.reason} at byte {at})",
            file=str(path),
            line=raw.count(b"\n", 0, at) + 1,
        ) from None


# --------------------------------------------------------------------------- tables


class Row(NamedTuple):
    """One record of a table: the line it starts on (1-based) and its fields in header order."""

    line: int
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A table read by :func:`read_table`: the header's column names (surrounding whitespace
    stripped) and the records, each with exactly one field per column."""

    path: Path
    header: tuple[str, ...]
    rows: tuple[Row, ...]

    def column(self, name: str) -> int:
        """The position of a column (the first, if the name is repeated)."""
        return self.header.index(name)

    def records(self) -> Iterator[tuple[int, dict[str, str]]]:
        """Each record's line and its fields by column name (a repeated name keeps the last)."""
        for row in self.rows:
            yield row.line, dict(zip(self.header, row.cells, strict=True))


_SEPARATOR_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


class _RecordLines:
    """The text's lines, in the way :func:`csv.reader` splits them, remembering the lines of
    the record being read so that an error can point into it."""

    def __init__(self, text: str) -> None:
        # newline="" splits at \n, \r\n and \r as a file opened for csv would, untranslated
        self._lines = iter(io.StringIO(text, newline=""))
        self.record: list[str] = []
        self.ended = False

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        try:
            line = next(self._lines)
        except StopIteration:
            self.ended = True
            raise
        self.record.append(line)
        return line


def _quote_opening_line(lines: Sequence[str], start: int, delimiter: str) -> int:
    """The line where the quoted field left open at the end of ``lines`` (a record starting on
    line ``start``) began: the record may hold closed multi-line fields before it."""
    opened = start
    in_quotes = False
    at_field_start = True
    for offset, line in enumerate(lines):
        i = 0
        while i < len(line):
            ch = line[i]
            if in_quotes:
                if ch == '"':
                    if line.startswith('"', i + 1):
                        i += 1  # a doubled quote stands for one quote inside the field
                    else:
                        in_quotes = False
            elif ch == '"' and at_field_start:
                in_quotes, opened = True, start + offset
            at_field_start = not in_quotes and ch == delimiter
            i += 1
    return opened


def _is_blank(row: list[str], columns: int) -> bool:
    # a whitespace-only line is blank, unless a one-column table may hold it as a value
    return not row or (columns != 1 and len(row) == 1 and not row[0].strip())


def read_table(
    path: Path,
    *,
    delimiter: str = ",",
    quoting: bool = True,
    required: Sequence[str] = (),
    blank_lines: Literal["skip", "trailing"] = "skip",
) -> Table:
    """Read a headered CSV (or TSV, with ``delimiter="\\t"``) strictly.

    The file is UTF-8 (a byte order mark is dropped); quoted fields may span lines unless
    ``quoting`` is off, in which case quote characters are ordinary text (the Touché23 TSVs).
    ``required`` columns must be in the header, once each. Blank lines are skipped; with
    ``blank_lines="trailing"`` only those at the end of the file are, and one between records
    is an error.

    Errors, each a :class:`DataError` naming the file and line: a missing file, bytes that
    are not UTF-8, an empty file, a missing or repeated required column, a record with more or
    fewer fields than the header, a quote that is never closed (named at the line where it
    opens) and any other broken quoting.
    """
    where = str(path)
    lines = _RecordLines(read_text(path))
    reader = csv.reader(
        lines,
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
        # strict: a stray character after a closing quote, or the end of the file inside a
        # quoted field, raises instead of being read as text
        strict=True,
    )
    kind = {",": "CSV", "\t": "TSV"}.get(delimiter, "table")

    def next_row(start: int) -> list[str] | None:
        lines.record.clear()
        try:
            return next(reader, None)
        except csv.Error as exc:
            if lines.ended:  # the text ran out inside a quoted field
                opened = _quote_opening_line(lines.record, start, delimiter)
                raise DataError(
                    f"malformed {kind}: the quote that opens a field on this line is never "
                    "closed, so the rest of the file would be read into that one field",
                    file=where,
                    line=opened,
                ) from None
            more = (
                f" (in the record that starts on line {start})" if reader.line_num > start else ""
            )
            raise DataError(
                f"malformed {kind}: {exc}{more}", file=where, line=reader.line_num
            ) from None

    first = next_row(1)
    if first is None:
        raise DataError("empty file: expected a header row", file=where, line=1)
    if _is_blank(first, 0):
        raise DataError("blank first line: expected a header row", file=where, line=1)
    header = tuple(name.strip() for name in first)
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; found header {list(header)}", file=where, line=1
        )
    repeated = [c for c in dict.fromkeys(required) if header.count(c) > 1]
    if repeated:
        raise DataError(
            f"column(s) {repeated} appear more than once in the header", file=where, line=1
        )
    rows: list[Row] = []
    blank: int | None = None
    while True:
        start = reader.line_num + 1
        row = next_row(start)
        if row is None:
            break
        if _is_blank(row, len(header)):
            blank = blank or start
            continue
        if blank is not None and blank_lines == "trailing":
            raise DataError(
                "empty row: every row must hold a record (remove the blank line)",
                file=where,
                line=blank,
            )
        blank = None
        if len(row) != len(header):
            sep = _SEPARATOR_NAMES.get(delimiter, repr(delimiter))
            raise DataError(
                f"expected {len(header)} {sep}-separated fields, found {len(row)}",
                file=where,
                line=start,
            )
        rows.append(Row(start, tuple(row)))
    return Table(path, header, tuple(rows))


# --------------------------------------------------------------------------- JSON


def _json_error(path: Path, exc: json.JSONDecodeError) -> DataError:
    return DataError(
        f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path), line=exc.lineno
    )


def read_json(path: Path) -> Any:
    """One JSON document (UTF-8, BOM dropped); invalid JSON names the file and line."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise _json_error(path, exc) from None


class _LineCounter:
    """Line numbers of increasing positions in one text, counting each newline once (a plain
    count from the start for every record would be quadratic on a 50,000-record array)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def at(self, pos: int) -> int:
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _array_elements(path: Path, text: str) -> list[tuple[int, Any]]:
    """Decode a top-level JSON array element by element, so that each knows its line."""
    decoder = json.JSONDecoder()
    lines = _LineCounter(text)
    out: list[tuple[int, Any]] = []
    pos = _skip_ws(text, _skip_ws(text, 0) + 1)  # past '['
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise _json_error(path, exc) from None
            out.append((lines.at(pos), value))
            pos = _skip_ws(text, end)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            raise DataError(
                "invalid JSON: expected ',' or ']' after a record of the array",
                file=str(path),
                line=lines.at(pos),
            )
    pos = _skip_ws(text, pos)
    if pos < len(text):
        raise DataError(
            "invalid JSON: extra data after the closing ']' of the array",
            file=str(path),
            line=lines.at(pos),
        )
    return out


def _json_lines(path: Path, text: str) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataError(
                f"invalid JSON: {exc.msg} (column {exc.colno}); expected one JSON object per line",
                file=str(path),
                line=number,
            ) from None
    return out


def read_json_records(path: Path) -> list[tuple[int, Any]]:
    """The records of a JSON array or of a JSON Lines file (told apart by the first character),
    each with the line it starts on; blank lines between JSON Lines records are skipped."""
    text = read_text(path)
    start = _skip_ws(text, 0)
    if start == len(text):
        raise DataError(
            "empty file: expected a JSON array or JSON Lines records", file=str(path), line=1
        )
    if text[start] == "[":
        return _array_elements(path, text)
    return _json_lines(path, text)


# --------------------------------------------------------------------------- atomic writes


def _temp_beside(path: Path) -> tuple[int, Path]:
    """A new hidden file in the target's folder (so that the final rename stays on one file
    system and is atomic), named after the target so that a leftover is recognisable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            # 0o666 less the umask, as for any new file (mkstemp would make it private)
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


@contextmanager
def _replacing(path: Path, binary: bool) -> Iterator[Any]:
    fd, tmp = _temp_beside(path)
    try:
        fh: IO[Any] = (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        )
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def open_atomic(path: Path) -> Iterator[TextIO]:
    """A UTF-8 text file to write in place of ``path``, written exactly as given (no newline
    translation). It replaces ``path`` only when the block ends without an exception; an
    exception leaves the old file (or none) and removes the temporary file. The folder is
    created if needed."""
    with _replacing(path, binary=False) as fh:
        yield fh


@contextmanager
def open_atomic_binary(path: Path) -> Iterator[BinaryIO]:
    """:func:`open_atomic` for bytes (e.g. a Parquet file written by a library)."""
    with _replacing(path, binary=True) as fh:
        yield fh


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8), atomically."""
    with _replacing(path, binary=isinstance(data, bytes)) as fh:
        fh.write(data)


def write_json(
    path: Path,
    value: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = True,
    ensure_ascii: bool = True,
    default: Callable[[Any], Any] | None = None,
) -> None:
    """Replace ``path`` with ``value`` as JSON and a final newline, atomically: a value that
    cannot be encoded leaves the old file as it was."""
    with open_atomic(path) as fh:
        json.dump(
            value,
            fh,
            indent=indent,
            sort_keys=sort_keys,
            ensure_ascii=ensure_ascii,
            default=default,
        )
        fh.write("\n")
