"""Value profiles of real people: European Social Survey respondents nearest to each extreme
profile by Jensen–Shannon distance over the 10 value means of their PVQ-21 answers.

ESS codes answers 1 ("very much like me") to 6 ("not like me at all"). The study used the raw
codes as if 6 meant "very important" (``reading = "faithful"``, the default, which reproduces
its 140 profiles exactly); ``reading = "corrected"`` reverses the scale (7 - code) first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vhframe.builtins.profiles import extreme_profiles
from vhframe.context import RunContext
from vhframe.errors import DataError, ParamError
from vhframe.files import read_table
from vhframe.records import VALUES, ValueProfile

#: PVQ-21 item columns of the ESS (round-suffixed "a") for each basic value.
PVQ21_ITEMS: dict[str, tuple[str, ...]] = {
    "Achievement": ("ipshabta", "ipsucesa"),
    "Benevolence": ("iphlppla", "iplylfra"),
    "Conformity": ("ipfrulea", "ipbhprpa"),
    "Hedonism": ("ipgdtima", "impfuna"),
    "Power": ("impricha", "iprspota"),
    "Security": ("impsafea", "ipstrgva"),
    "Self-direction": ("ipcrtiva", "impfreea"),
    "Stimulation": ("impdiffa", "ipadvnta"),
    "Tradition": ("ipmodsta", "imptrada"),
    "Universalism": ("ipeqopta", "ipudrsta", "impenva"),
}
MISSING_CODES = frozenset({66, 77, 88, 99})
READINGS = ("faithful", "corrected")


def value_means(path: Path, reading: str = "faithful") -> tuple[list[str], np.ndarray]:
    """Respondent ids and their 10 value means: respondents with a missing code dropped, and
    each distinct vector of means kept once (at its first appearance in the file)."""
    columns = [c for v in VALUES for c in PVQ21_ITEMS[v]]
    ids: list[str] = []
    answers: list[list[int]] = []
    for line, row in read_table(path, required=("idno", *columns)).records():
        try:
            codes = {c: int(row[c]) for c in columns}
        except ValueError:
            raise DataError("expected integer answer codes", file=str(path), line=line) from None
        if any(code in MISSING_CODES for code in codes.values()):
            continue
        bad = {c: v for c, v in codes.items() if not 1 <= v <= 6}
        if bad:
            raise DataError(
                f"answer codes must be 1-6 or a missing code {sorted(MISSING_CODES)}, found {bad}",
                file=str(path),
                line=line,
            )
        ids.append(row["idno"])
        answers.append([codes[c] for c in columns])
    if not answers:
        raise DataError("no respondent without missing answers", file=str(path))
    codes_arr = np.array(answers, dtype=np.float64)
    if reading == "corrected":
        codes_arr = 7.0 - codes_arr
    arr = np.empty((len(answers), len(VALUES)))
    start = 0
    for j, v in enumerate(VALUES):
        width = len(PVQ21_ITEMS[v])
        arr[:, j] = codes_arr[:, start : start + width].mean(axis=1)
        start += width
    # respondents with identical value means would be the same profile twice; the study's
    # table of respondents holds each distinct one once (20,466 of 20,587)
    _, first = np.unique(arr, axis=0, return_index=True)
    keep = np.sort(first)
    return [ids[i] for i in keep], arr[keep]


def js_distance(p: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon distance (natural log) between ``p`` and each row of ``Q``, both
    normalised to sum 1 (as scipy's ``jensenshannon``)."""
    p = p / p.sum()
    Q = Q / Q.sum(axis=1, keepdims=True)
    m = 0.5 * (p + Q)

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log(a / b), 0.0)
        return np.asarray(terms.sum(axis=-1))

    return np.asarray(np.sqrt(np.maximum(0.5 * (kl(p[None, :], m) + kl(Q, m)), 0.0)))


class EssNearest:
    """``vhframe:ess-nearest``: the 14 extreme profiles and, for each, the ``k`` ESS
    respondents nearest to it (equal distances broken by first appearance in the file; the
    study's own order differs within one three-way tie, for Power), named as in the study
    (``close_Ach``, ``close_Ach_2``, …). ``include_extreme`` keeps the 14 themselves."""

    def __init__(
        self, path: str, k: int = 10, reading: str = "faithful", include_extreme: bool = True
    ) -> None:
        if not Path(path).is_file():
            raise ParamError("path", f"file not found: {path}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ParamError("k", f"expected a positive integer, found {k!r}")
        if reading not in READINGS:
            raise ParamError("reading", f"expected one of {READINGS}, found {reading!r}")
        self.path, self.k, self.reading = path, k, reading
        self.include_extreme = bool(include_extreme)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "k": self.k,
            "reading": self.reading,
            "include_extreme": self.include_extreme,
        }

    def load(self, ctx: RunContext) -> list[ValueProfile]:
        ids, means = value_means(Path(self.path), self.reading)
        if self.k > len(ids):
            raise DataError(
                f"k = {self.k} but only {len(ids)} complete respondents", file=self.path
            )
        out: list[ValueProfile] = []
        extremes = extreme_profiles()
        if self.include_extreme:
            out.extend(extremes)
        for target in extremes:
            d = js_distance(np.array(target.scores), means)
            for rank, i in enumerate(np.argsort(d, kind="stable")[: self.k], start=1):
                name = f"close_{target.name}" + (f"_{rank}" if rank > 1 else "")
                out.append(
                    ValueProfile(
                        name=name,
                        scores=tuple(means[i]),
                        source=f"ESS idno {ids[i]} ({self.reading}), JS "
                        f"distance {d[i]:.6f} to {target.name}",
                    )
                )
        return out
