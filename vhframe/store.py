"""The run store: one SQLite database (WAL) of records keyed by content hash, the manifest,
and Parquet exports.

Writes happen in transactions of whole units (one training, one generation batch), so a
process killed at any moment leaves either all of a unit or none of it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vhframe import faults
from vhframe.files import open_atomic_binary

if TYPE_CHECKING:
    import pyarrow as pa

SCHEMA_VERSION = 1
#: SQLite page cache per open store, in KiB
CACHE_KIB = 128 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sequence (
    name TEXT NOT NULL,
    pos INTEGER NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (name, pos)
) WITHOUT ROWID;
"""


class Store:
    """Records by (kind, key). Payloads are JSON objects; insertion never overwrites."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL (with WAL): a committed unit survives the process being killed, which is what
        # resuming relies on; after a power loss the last units may be rolled back (never
        # half-kept) and are computed again. FULL would add an fsync to every unit, which is
        # most of the cost of a record at paper scale with a fast generator.
        self.db.execute("PRAGMA synchronous=NORMAL")
        # records land at random places of the key index: a page cache of a few MB (SQLite's
        # default) makes nearly every insert read pages back from disk at paper scale
        self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self.db.executescript(_SCHEMA)
        found = self.get_meta("schema_version")
        if found is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(found) != SCHEMA_VERSION:
            raise RuntimeError(
                f"{path}: store schema {found} is not supported (expected {SCHEMA_VERSION})"
            )

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ----------------------------------------------------------------- records
    def put_many(self, kind: str, items: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Insert records that are not there yet, atomically; returns how many were new."""
        now = time.time()
        rows = [(kind, key, json.dumps(payload, sort_keys=True), now) for key, payload in items]
        with self.transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO records(kind, key, payload, created) VALUES (?,?,?,?)",
                rows,
            )
            return db.total_changes - before

    def put(self, kind: str, key: str, payload: dict[str, Any]) -> bool:
        return self.put_many(kind, [(key, payload)]) == 1

    def replace(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        """Overwrite a derived record (metrics, analysis) that is recomputed every run."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO records(kind, key, payload, created) VALUES (?,?,?,?)",
                (kind, key, json.dumps(payload, sort_keys=True), time.time()),
            )

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT payload FROM records WHERE kind=? AND key=?", (kind, key)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def existing(self, kind: str, keys: Sequence[str]) -> set[str]:
        """The subset of ``keys`` already stored."""
        found: set[str] = set()
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT key FROM records WHERE kind=? AND key IN ({marks})", [kind, *chunk]
                )
            )
        return found

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored payloads of ``keys`` (absent keys are left out)."""
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            for key, payload in self.db.execute(
                f"SELECT key, payload FROM records WHERE kind=? AND key IN ({marks})",
                [kind, *chunk],
            ):
                out[key] = json.loads(payload)
        return out

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Every record of a kind, ordered by key (stable across runs)."""
        return [
            json.loads(r[0])
            for r in self.db.execute(
                "SELECT payload FROM records WHERE kind=? ORDER BY key", (kind,)
            )
        ]

    def count(self, kind: str) -> int:
        return int(
            self.db.execute("SELECT COUNT(*) FROM records WHERE kind=?", (kind,)).fetchone()[0]
        )

    def replace_kind(self, kind: str, items: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Replace every record of a kind (derived records, such as metrics), in one
        transaction: a reader sees the old set or the new one, never none."""
        now = time.time()
        rows = [(kind, key, json.dumps(payload, sort_keys=True), now) for key, payload in items]
        with self.transaction() as db:
            db.execute("DELETE FROM records WHERE kind=?", (kind,))
            db.executemany(
                "INSERT INTO records(kind, key, payload, created) VALUES (?,?,?,?)", rows
            )

    def delete_kind(self, kind: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM records WHERE kind=?", (kind,))

    def get_many_ordered(self, kind: str, keys: Sequence[str]) -> list[dict[str, Any]]:
        """Stored payloads of ``keys``, in their order; every key must be stored."""
        return [json.loads(p) for p in self.get_json_ordered(kind, keys)]

    def group_counts(
        self, kind: str, keys: Sequence[str], fields: Sequence[str], flag: str
    ) -> tuple[int, list[tuple[tuple[Any, ...], int, int]]]:
        """How many of ``keys`` are stored, and per distinct value of ``fields`` how many
        records there are and how many have ``flag`` true: counted inside SQLite, so that
        millions of payloads are never decoded in Python."""
        paths = [f"'$.{f}'" for f in (*fields, flag)]
        cols = ", ".join(f"json_extract(payload, {p})" for p in paths[:-1])
        groups: dict[tuple[Any, ...], list[int]] = {}
        found = 0
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            try:
                rows = self.db.execute(
                    f"SELECT {cols}, COUNT(*), SUM(json_extract(payload, {paths[-1]}) = 1) "
                    f"FROM records WHERE kind=? AND key IN ({marks}) GROUP BY {cols}",
                    [kind, *chunk],
                ).fetchall()
            except sqlite3.OperationalError:  # an SQLite built without JSON functions
                rows = _group_in_python(self.get_many(kind, chunk).values(), fields, flag)
            for *group, n, hits in rows:
                counts = groups.setdefault(tuple(group), [0, 0])
                counts[0] += n
                counts[1] += hits
                found += n
        return found, [(g, n, hits) for g, (n, hits) in groups.items()]

    def get_json_ordered(self, kind: str, keys: Sequence[str]) -> list[str]:
        """The stored JSON text of ``keys``, in their order; every key must be stored."""
        found: dict[str, str] = {}
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            found.update(
                self.db.execute(
                    f"SELECT key, payload FROM records WHERE kind=? AND key IN ({marks})",
                    [kind, *chunk],
                ).fetchall()
            )
        missing = [k for k in keys if k not in found]
        if missing:
            raise RuntimeError(f"{len(missing)} {kind} records are missing, e.g. {missing[0]}")
        return [found[k] for k in keys]

    # ----------------------------------------------------------------- sequences
    # A sequence is an ordered list of record keys that later stages walk in windows (this
    # config's generations, in request order), so that no stage holds millions of keys.
    def sequence_reset(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM sequence WHERE name=?", (name,))

    def sequence_extend(self, name: str, start: int, keys: Sequence[str]) -> None:
        """Write ``keys`` at positions ``start``, ``start + 1``, ..."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO sequence(name, pos, key) VALUES (?,?,?)",
                [(name, start + i, k) for i, k in enumerate(keys)],
            )

    def sequence_length(self, name: str) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM sequence WHERE name=?", (name,)).fetchone()
        return int(row[0])

    def sequence_windows(self, name: str, size: int) -> Iterator[list[str]]:
        """The keys of a sequence in order, ``size`` at a time."""
        pos = 0
        while True:
            rows = self.db.execute(
                "SELECT key FROM sequence WHERE name=? AND pos>=? ORDER BY pos LIMIT ?",
                (name, pos, size),
            ).fetchall()
            if not rows:
                return
            yield [r[0] for r in rows]
            pos += len(rows)

    # ----------------------------------------------------------------- meta
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?,?)", (key, value))

    # ----------------------------------------------------------------- export
    def export_parquet(self, out_dir: Path, kinds: Iterable[str]) -> list[Path]:
        """Write every stored record of each kind to ``<kind>.parquet``."""
        return write_parquet(out_dir, {kind: [self.all(kind)] for kind in kinds})


def write_parquet(
    out_dir: Path, tables: Mapping[str, Iterable[list[dict[str, Any]] | pa.Table]]
) -> list[Path]:
    """One Parquet file per non-empty table, each written from its batches of rows as row
    groups (so a table of millions of rows never sits in memory), then moved into place;
    nested fields stay nested (Arrow lists/structs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, batches in tables.items():
        target = out_dir / f"{kind}.parquet"
        rest = iter(batches)
        first = next((rows for rows in rest if len(rows)), None)
        if first is None:
            target.unlink(missing_ok=True)  # a table of an earlier config must not linger
            continue
        with open_atomic_binary(target) as fh:
            table = first if isinstance(first, pa.Table) else pa.Table.from_pylist(first)
            with pq.ParquetWriter(fh, table.schema) as writer:
                writer.write_table(table)
                for rows in rest:
                    if isinstance(rows, pa.Table):
                        writer.write_table(rows)
                    elif rows:
                        writer.write_table(pa.Table.from_pylist(rows, schema=writer.schema))
        written.append(target)
        faults.point("tables")
    return written


_ARROW_TYPES = {"str": "string", "int": "int64", "float": "float64", "bool": "bool_"}


def flat_schema(record: type) -> pa.Schema:
    """The Arrow schema of a flat record's stored JSON (scalar fields, in the stored key
    order, which is sorted)."""
    import pyarrow as pa

    fields = []
    for f in sorted(dataclasses.fields(record), key=lambda f: f.name):
        name = f.type if isinstance(f.type, str) else f.type.__name__
        fields.append(pa.field(f.name, getattr(pa, _ARROW_TYPES[name])()))
    return pa.schema(fields)


def json_table(payloads: Sequence[str], schema: pa.Schema) -> pa.Table:
    """Stored JSON payloads as an Arrow table, parsed by Arrow (not record by record in
    Python); the schema is given, so that no text is ever read as another type."""
    import pyarrow.json as pj

    data = "\n".join(payloads).encode("utf-8")
    opts = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    return pj.read_json(io.BytesIO(data), parse_options=opts).select(schema.names)


def _group_in_python(
    payloads: Iterable[dict[str, Any]], fields: Sequence[str], flag: str
) -> list[tuple[Any, ...]]:
    groups: dict[tuple[Any, ...], list[int]] = {}
    for p in payloads:
        counts = groups.setdefault(tuple(p[f] for f in fields), [0, 0])
        counts[0] += 1
        counts[1] += p[flag] is True
    return [(*g, n, hits) for g, (n, hits) in groups.items()]


def _chunks(keys: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    # SQLite limits the number of bound parameters per statement
    for i in range(0, len(keys), size):
        yield list(keys[i : i + size])
