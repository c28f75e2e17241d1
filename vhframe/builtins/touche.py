"""Touché23-ValueEval: raw ``arguments-<split>.tsv`` + ``labels-<split>.tsv`` → 10-value examples.

The 20 level-2 labels map to the 10 basic values by OR; Face and Humility have no basic value
and are dropped, and arguments left with no value are dropped (the study's 7,374 arguments
from training + validation + validation-zhihu).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vhframe.builtins.samples import SAMPLE_REF, sample_dir
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.files import Table, read_table
from vhframe.records import LEVEL2_LABELS as LEVEL2_LABELS
from vhframe.records import VALUES, Example

#: level-2 label → basic value; labels absent here (Face, Humility) are dropped.
LEVEL2_TO_VALUE: dict[str, str] = {
    label: label.split(":")[0] for label in LEVEL2_LABELS if label not in ("Face", "Humility")
}

ARGUMENT_COLUMNS = ("Argument ID", "Conclusion", "Stance", "Premise")
STANCES = {"in favor of": "in favor of", "in favour of": "in favor of", "against": "against"}


def _read_tsv(path: Path, required: Sequence[str]) -> Table:
    # quote characters are plain text in these files: premises quote freely, unbalanced
    return read_table(path, delimiter="\t", quoting=False, required=required)


def load_split(arguments: Path, labels: Path) -> list[Example]:
    """Read one split; arguments and labels must list the same IDs in the same order."""
    a_table = _read_tsv(arguments, ARGUMENT_COLUMNS)
    l_table = _read_tsv(labels, ("Argument ID", *LEVEL2_LABELS))
    if len(a_table.rows) != len(l_table.rows):
        raise DataError(
            f"{len(l_table.rows)} label rows for {len(a_table.rows)} arguments in {arguments}",
            file=str(labels),
        )
    ai = {c: a_table.column(c) for c in ARGUMENT_COLUMNS}
    li = {c: l_table.column(c) for c in ("Argument ID", *LEVEL2_LABELS)}
    out: list[Example] = []
    for (a_line, arow), (l_line, lrow) in zip(a_table.rows, l_table.rows, strict=True):
        arg_id = arow[ai["Argument ID"]]
        if lrow[li["Argument ID"]] != arg_id:
            raise DataError(
                f"label row is for argument {lrow[li['Argument ID']]!r}, but line {a_line} of "
                f"{arguments.name} is {arg_id!r}: the label file does not match the arguments",
                file=str(labels),
                line=l_line,
            )
        stance = STANCES.get(arow[ai["Stance"]].strip())
        if stance is None:
            raise DataError(
                f"unknown stance {arow[ai['Stance']]!r}; expected one of {sorted(STANCES)}",
                file=str(arguments),
                line=a_line,
            )
        values: set[str] = set()
        for label in LEVEL2_LABELS:
            cell = lrow[li[label]].strip()
            if cell not in ("0", "1"):
                raise DataError(
                    f"column {label!r}: expected 0 or 1, found {cell!r}",
                    file=str(labels),
                    line=l_line,
                )
            if cell == "1" and label in LEVEL2_TO_VALUE:
                values.add(LEVEL2_TO_VALUE[label])
        if not values:
            continue
        out.append(
            Example(
                id=arg_id,
                conclusion=arow[ai["Conclusion"]],
                stance=stance,
                premise=arow[ai["Premise"]],
                values=tuple(values),
            )
        )
    return out


class Touche23:
    """Value dataset ``vhframe:touche23``.

    Parameters: ``path`` (folder with the TSVs, or ``builtin:sample``) and ``splits`` (split
    names, read as ``arguments-<split>.tsv`` + ``labels-<split>.tsv`` and concatenated).
    """

    def __init__(self, path: str = "builtin:sample", splits: Sequence[str] | None = None) -> None:
        self.path = path
        self.splits = list(splits) if splits is not None else ["training"]
        if not self.splits or not all(isinstance(s, str) and s for s in self.splits):
            raise ParamError("splits", "expected a non-empty list of split names")
        if path != SAMPLE_REF:
            folder = Path(path)
            if not folder.is_dir():
                raise ParamError("path", f"folder not found: {folder}")
            for split in self.splits:
                for stem in ("arguments", "labels"):
                    f = folder / f"{stem}-{split}.tsv"
                    if not f.is_file():
                        raise ParamError("path", f"missing {f.name} in {folder}")

    def fingerprint(self) -> dict[str, Any]:
        return {"path": self.path, "splits": self.splits}

    def folder(self, ctx: RunContext) -> Path:
        if self.path == SAMPLE_REF:
            return sample_dir(ctx.cache_dir) / "touche23"
        return Path(self.path)

    def load(self, ctx: RunContext) -> list[Example]:
        folder = self.folder(ctx)
        examples: list[Example] = []
        seen: set[str] = set()
        for split in self.splits:
            for ex in load_split(folder / f"arguments-{split}.tsv", folder / f"labels-{split}.tsv"):
                if ex.id in seen:
                    raise DataError(
                        f"argument {ex.id!r} appears in more than one split",
                        file=str(folder / f"arguments-{split}.tsv"),
                    )
                seen.add(ex.id)
                examples.append(ex)
        return examples


class ValueTable:
    """Value dataset ``vhframe:value-table``: an already mapped table of arguments with the 10
    value columns (the study's ``valueEval_10.csv`` and its fixed ``split/*.csv``).

    The file is tab-separated whatever its extension; the first column holds the row id (its
    header may be empty or ``Unnamed: 0``), then ``Conclusion``, ``Stance``, ``Premise`` and
    the 10 values as 0/1. Rows without a value are dropped, as in the Touché23 mapping.

    ``split_dir`` (optional) is a folder with ``train.csv``, ``valid.csv`` and ``test.csv`` in
    the same layout, whose first column names rows of this table by their id (the study's
    ``split/`` folder beside ``valueEval_10.csv``): each example then carries the split it is
    listed in (:attr:`vhframe.records.Example.split`). An id that is not a row of the table,
    a row whose text differs from the table's, or an id listed twice is an error naming the
    file and line. Rows listed in no split file keep ``split = ""``; trainers that follow the
    split neither train nor validate on them.
    """

    SPLIT_FILES: tuple[str, ...] = ("train", "valid", "test")

    def __init__(self, path: str, split_dir: str | None = None) -> None:
        if not Path(path).is_file():
            raise ParamError("path", f"file not found: {path}")
        self.path = path
        if split_dir is not None:
            if not isinstance(split_dir, str) or not split_dir:
                raise ParamError("split_dir", f"expected a folder path, found {split_dir!r}")
            folder = Path(split_dir)
            if not folder.is_dir():
                raise ParamError("split_dir", f"folder not found: {split_dir}")
            missing = [f"{n}.csv" for n in self.SPLIT_FILES if not (folder / f"{n}.csv").is_file()]
            if missing:
                raise ParamError("split_dir", f"missing {', '.join(missing)} in {split_dir}")
        self.split_dir = split_dir

    def fingerprint(self) -> dict[str, Any]:
        # split_dir only when given, so that tables without splits keep their old fingerprint
        fp: dict[str, Any] = {"path": self.path}
        if self.split_dir is not None:
            fp["split_dir"] = self.split_dir
        return fp

    def load(self, ctx: RunContext) -> list[Example]:
        p = Path(self.path)
        table = _read_tsv(p, ("Conclusion", "Stance", "Premise", *VALUES))
        col = {c: table.column(c) for c in ("Conclusion", "Stance", "Premise", *VALUES)}
        splits = self._splits(table) if self.split_dir is not None else {}
        out = []
        for line, row in table.rows:
            stance = STANCES.get(row[col["Stance"]].strip())
            if stance is None:
                raise DataError(
                    f"unknown stance {row[col['Stance']]!r}; expected one of {sorted(STANCES)}",
                    file=str(p),
                    line=line,
                )
            values = []
            for v in VALUES:
                cell = row[col[v]].strip()
                if cell not in ("0", "1"):
                    raise DataError(
                        f"column {v!r}: expected 0 or 1, found {cell!r}", file=str(p), line=line
                    )
                if cell == "1":
                    values.append(v)
            if values:
                out.append(
                    Example(
                        id=row[0],
                        conclusion=row[col["Conclusion"]],
                        stance=stance,
                        premise=row[col["Premise"]],
                        values=tuple(values),
                        split=splits.get(row[0], ""),
                    )
                )
        return out

    def _splits(self, table: Table) -> dict[str, str]:
        """Row id → split name, checked against the table: ids must name its rows (the first
        column, e.g. ``3519`` is line 3521 of valueEval_10.csv) with the same text."""
        assert self.split_dir is not None
        text_cols = [table.column(c) for c in ("Conclusion", "Premise")]
        by_id: dict[str, tuple[int, list[str]]] = {}
        for line, row in table.rows:
            if row[0] in by_id:
                raise DataError(
                    f"row id {row[0]!r} also on line {by_id[row[0]][0]}: ids must "
                    "be unique to assign splits",
                    file=str(table.path),
                    line=line,
                )
            by_id[row[0]] = (line, [row[i] for i in text_cols])
        out: dict[str, str] = {}
        for name in self.SPLIT_FILES:
            f = Path(self.split_dir) / f"{name}.csv"
            split = _read_tsv(f, ("Conclusion", "Premise"))
            s_cols = [split.column(c) for c in ("Conclusion", "Premise")]
            for line, row in split.rows:
                rid = row[0]
                if rid not in by_id:
                    raise DataError(
                        f"row id {rid!r} is not a row of {table.path.name} (the first column must "
                        f"hold ids from the table's first column)",
                        file=str(f),
                        line=line,
                    )
                t_line, text = by_id[rid]
                if [row[i] for i in s_cols] != text:
                    raise DataError(
                        f"row id {rid!r} has a different conclusion or premise than line "
                        f"{t_line} of {table.path.name}: this split does not belong to the table",
                        file=str(f),
                        line=line,
                    )
                if rid in out:
                    raise DataError(
                        f"row id {rid!r} is already in {out[rid]}.csv: a row may "
                        "belong to one split only",
                        file=str(f),
                        line=line,
                    )
                out[rid] = name
        return out
