"""Built-in value-profile sources: the 14 extreme profiles and profiles from a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.files import read_table, read_text
from vhframe.records import VALUE_GROUPS, VALUES, RecordError, ValueProfile

# The study's names: one value at the top (abbreviated), or one higher-order group.
_SHORT = {
    "Achievement": "Ach",
    "Benevolence": "Ben",
    "Conformity": "Con",
    "Hedonism": "Hed",
    "Power": "Pow",
    "Security": "Sec",
    "Self-direction": "SD",
    "Stimulation": "Sti",
    "Tradition": "Tra",
    "Universalism": "Uni",
}
_GROUP_SHORT = {
    "Openness to change": "Openness_to_Change",
    "Self-enhancement": "Self-Enhancement",
    "Conservation": "Conservation",
    "Self-transcendence": "Self-Transcendence",
}


def extreme_profiles(high: float = 6.0, low: float = 1.0) -> list[ValueProfile]:
    """One value (10 profiles) or one higher-order group (4) at ``high``, the rest at ``low``."""
    out = []
    for value in VALUES:
        scores = {v: (high if v == value else low) for v in VALUES}
        out.append(ValueProfile.from_mapping(_SHORT[value], scores, source="extreme"))
    for group, members in VALUE_GROUPS.items():
        scores = {v: (high if v in members else low) for v in VALUES}
        out.append(ValueProfile.from_mapping(_GROUP_SHORT[group], scores, source="extreme"))
    return out


class ExtremeProfiles:
    """Profile source ``vhframe:extreme``: the 14 extreme profiles of the study.

    ``only``: optional list of profile names to keep (e.g. ``["Ach", "Ben"]``)."""

    def __init__(self, only: list[str] | None = None) -> None:
        names = {p.name for p in extreme_profiles()}
        if only is not None:
            unknown = sorted(set(only) - names)
            if unknown:
                raise ParamError("only", f"unknown profile(s) {unknown}; known: {sorted(names)}")
        self.only = only

    def fingerprint(self) -> dict[str, Any]:
        return {"only": self.only}

    def load(self, ctx: RunContext) -> list[ValueProfile]:
        profiles = extreme_profiles()
        if self.only is not None:
            profiles = [p for p in profiles if p.name in self.only]
        return profiles


class TableProfiles:
    """Profile source ``vhframe:table``: a CSV/TSV with a name column and the 10 value columns.

    ``path``: the file; ``name_column``: defaults to the first column; ``names``: optional
    list of names to keep, in the file's order (e.g. the study's 154 profile names)."""

    def __init__(
        self, path: str, name_column: str | None = None, names: list[str] | None = None
    ) -> None:
        if not Path(path).is_file():
            raise ParamError("path", f"file not found: {path}")
        self.path = path
        self.name_column = name_column
        self.names = names

    def fingerprint(self) -> dict[str, Any]:
        return {"path": self.path, "name_column": self.name_column, "names": self.names}

    def load(self, ctx: RunContext) -> list[ValueProfile]:
        p = Path(self.path)
        sample = read_text(p)[:4096]
        delim = "\t" if sample.count("\t") > sample.count(",") else ","
        named = (self.name_column,) if self.name_column else ()
        table = read_table(p, delimiter=delim, required=(*named, *VALUES))
        # without a name column, the first one names the profiles
        name_col = self.name_column or table.header[0]
        out = []
        for line, row in table.records():
            try:
                scores = {v: float(row[v]) for v in VALUES}
                out.append(ValueProfile.from_mapping(row[name_col], scores, source=str(p)))
            except (ValueError, RecordError) as exc:
                raise DataError(str(exc), file=str(p), line=line) from None
        if self.names is not None:
            by_name = {prof.name: prof for prof in out}
            absent = [n for n in self.names if n not in by_name]
            if absent:
                raise DataError(f"profile(s) not in the table: {absent[:5]}", file=str(p))
            out = [by_name[n] for n in self.names]
        return out
