"""Metrics and value-vs-harm statistics over stored judgments.

Metrics are per-(subject, benchmark, category, judge, mitigation) harm rates. The analysis
regresses each category's rate on the 10 profile scores across the subjects of one role
(value-aligned models, role-play prompts) with OLS and two-sided t-tests, as the study does,
and records how every number was computed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vhframe import stats
from vhframe.records import VALUES, Judgment, Metric, Subject, content_hash

ALL = "ALL"


class HarmRates:
    """Counts harmful verdicts per group as judgments stream past, plus an ``ALL`` category
    per benchmark; :meth:`metrics` gives the shares."""

    def __init__(self) -> None:
        # group → [judgments, harmful ones]
        self._counts: dict[tuple[str, str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])

    def add_counts(
        self,
        subject: str,
        benchmark: str,
        category: str,
        judge: str,
        mitigation: str,
        n: int,
        harmful: int,
    ) -> None:
        """``n`` judgments of one group at once, ``harmful`` of them harmful."""
        for cat in (category, ALL):
            c = self._counts[(subject, benchmark, cat, judge, mitigation)]
            c[0] += n
            c[1] += harmful

    def add(
        self,
        subject: str,
        benchmark: str,
        category: str,
        judge: str,
        mitigation: str,
        harmful: bool,
    ) -> None:
        """One judgment."""
        self.add_counts(subject, benchmark, category, judge, mitigation, 1, int(bool(harmful)))

    def metrics(self) -> list[Metric]:
        out = []
        for (subject, bench, cat, judge, mit), (n, harmful) in sorted(self._counts.items()):
            key = content_hash(["metric", "harm_rate", subject, bench, cat, judge, mit])
            out.append(
                Metric(
                    key=key,
                    subject=subject,
                    benchmark=bench,
                    category=cat,
                    judge=judge,
                    mitigation=mit,
                    name="harm_rate",
                    value=harmful / n,
                    n=n,
                )
            )
        return out


def harm_rates(judgments: Iterable[Judgment]) -> list[Metric]:
    """Share of harmful verdicts per group, plus an ``ALL`` category per benchmark."""
    rates = HarmRates()
    for j in judgments:
        rates.add(j.subject, j.benchmark, j.category, j.judge, j.mitigation, j.harmful)
    return rates.metrics()


def analyse(
    subjects: Sequence[Subject],
    metrics: Sequence[Metric],
    *,
    alpha: float,
    min_subjects: int,
    bootstrap: int = 0,
    ci_method: str = "percentile",
    adjust: str = "bh",
    seed: int = 0,
) -> dict[str, Any]:
    """The analysis document: rates tables, OLS per category, mitigation comparison.

    ``bootstrap`` resamples (0: none) give row-bootstrap CIs of every coefficient by
    ``ci_method``; ``adjust`` (``bh``, ``holm`` or ``none``) adds adjusted p-values over the
    family of value coefficients of one regression table, beside the study's unadjusted ones.
    """
    opts = _Options(alpha, bootstrap, ci_method, adjust, seed)
    by_name = {s.name: s for s in subjects}
    cells: dict[tuple[str, str, str], dict[str, dict[str, float]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    counts: dict[tuple[str, str, str, str, str], int] = {}
    for m in metrics:
        cells[(m.benchmark, m.judge, m.mitigation)][m.subject][m.category] = m.value
        counts[(m.benchmark, m.judge, m.mitigation, m.subject, m.category)] = m.n

    analyses = []
    for (bench, judge, mit), rates in sorted(cells.items()):
        categories = [*sorted({c for per in rates.values() for c in per if c != ALL}), ALL]
        for role in ("aligned", "roleplay"):
            members = sorted(
                n
                for n in rates
                if n in by_name and by_name[n].role == role and by_name[n].scores is not None
            )
            if not members:
                continue
            entry: dict[str, Any] = {
                "benchmark": bench,
                "judge": judge,
                "mitigation": mit,
                "role": role,
                "metric": "harm_rate",
                "subjects": members,
                "categories": categories,
                "values": list(VALUES),
                "rates": {n: {c: rates[n].get(c) for c in categories} for n in members},
                "n_items": {c: counts.get((bench, judge, mit, members[0], c)) for c in categories},
            }
            if len(members) < min_subjects:
                entry["ols"] = {
                    "skipped": f"{len(members)} subjects; the regression needs at "
                    f"least {min_subjects} (analysis.min_subjects)"
                }
            else:
                X = np.array([by_name[n].scores for n in members], dtype=np.float64)
                entry["ols"] = _ols_by_category(X, rates, members, categories, opts)
            analyses.append(entry)

    return {
        "values": list(VALUES),
        "alpha": alpha,
        "analyses": analyses,
        "mitigations": _mitigation_table(cells, by_name),
        "subjects": [s.to_dict() for s in subjects],
    }


@dataclass(frozen=True)
class _Options:
    alpha: float
    bootstrap: int
    ci_method: str
    adjust: str
    seed: int


ADJUST_NAMES = {"bh": "Benjamini-Hochberg (false discovery rate)", "holm": "Holm (family-wise)"}


def _ols_by_category(
    X: np.ndarray,
    rates: dict[str, dict[str, float]],
    members: list[str],
    categories: list[str],
    opts: _Options,
) -> dict[str, Any]:
    alpha = opts.alpha
    n, p = X.shape[0], X.shape[1] + 1
    method: dict[str, Any] = {
        "model": "OLS of the category's harm rate on a constant and the 10 profile scores",
        "test": "two-sided t-test per coefficient; significance uses the unadjusted p, as the "
        "study does",
        "ci": f"t-based {1 - alpha:.0%} interval",
        "alpha": alpha,
        "n": n,
        "implementation": "vhframe._core (Rust)",
    }
    by_cat: dict[str, Any] = {}
    fit_cats = []
    for c in categories:
        y = np.array([rates[n].get(c, np.nan) for n in members], dtype=np.float64)
        if np.isnan(y).any():
            by_cat[c] = {"skipped": "some subjects have no judged answers in this category"}
        elif np.ptp(y) == 0.0:
            by_cat[c] = {"skipped": f"the rate is {y[0]:.3g} for every subject: nothing to explain"}
        else:
            fit_cats.append(c)
    if fit_cats:
        Y = np.column_stack([[rates[n][c] for n in members] for c in fit_cats])
        try:
            res = stats.ols(X, Y, names=list(VALUES))
        except ValueError as exc:
            return {
                "method": method,
                "skipped": f"regression not possible: {exc}",
                "by_category": by_cat,
            }
        lo, hi = res.ci(1 - alpha)
        boot = None
        if opts.bootstrap > 0 and n >= 2 * p:
            boot = stats.bootstrap_ols(
                X,
                Y,
                names=list(VALUES),
                method=opts.ci_method,  # type: ignore[arg-type]
                level=1 - alpha,
                n_resamples=opts.bootstrap,
                seed=opts.seed,
            )
            method["bootstrap"] = {
                "ci": f"{opts.ci_method} row bootstrap, {1 - alpha:.0%}",
                "n_resamples": opts.bootstrap,
                "seed": opts.seed,
                "redrawn_singular_resamples": boot.redrawn,
            }
        elif opts.bootstrap > 0:
            method["bootstrap"] = {
                "skipped": f"{n} subjects are too few to resample rows for "
                f"{p} coefficients (needs {2 * p})"
            }
        adjusted = None
        if opts.adjust != "none":
            family = res.p[:, 1:]
            adjusted = stats.adjust_pvalues(
                family.ravel(),
                opts.adjust,  # type: ignore[arg-type]
                alpha=alpha,
            ).pvalues.reshape(family.shape)
            method["adjustment"] = (
                f"{ADJUST_NAMES[opts.adjust]} over the {family.size} value "
                "coefficients of this table (constant excluded)"
            )
        for i, c in enumerate(fit_cats):
            by_cat[c] = {
                "terms": list(res.terms),
                "coef": res.coef[i].tolist(),
                "se": res.se[i].tolist(),
                "t": res.t[i].tolist(),
                "p": res.p[i].tolist(),
                "ci_low": lo[i].tolist(),
                "ci_high": hi[i].tolist(),
                "r2": float(res.r2[i]),
                "adj_r2": float(res.adj_r2[i]),
                "f": float(res.f[i]),
                "f_p": float(res.f_p[i]),
                "df_resid": int(res.df_resid),
            }
            if boot is not None:
                by_cat[c]["boot_low"] = boot.low[i].tolist()
                by_cat[c]["boot_high"] = boot.high[i].tolist()
            if adjusted is not None:
                by_cat[c]["p_adj"] = [None, *adjusted[i].tolist()]
    return {"method": method, "by_category": by_cat}


def _mitigation_table(
    cells: dict[tuple[str, str, str], dict[str, dict[str, float]]],
    by_name: dict[str, Subject],
) -> list[dict[str, Any]]:
    """Mean harm rate per (benchmark, judge, role, category) under each mitigation."""
    acc: dict[tuple[str, str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for (bench, judge, mit), rates in cells.items():
        for subject, per in rates.items():
            role = by_name[subject].role if subject in by_name else "unknown"
            for cat, v in per.items():
                acc[(bench, judge, role, cat)][mit].append(v)
    rows = []
    for (bench, judge, role, cat), per_mit in sorted(acc.items()):
        if len(per_mit) < 2:
            continue
        rows.append(
            {
                "benchmark": bench,
                "judge": judge,
                "role": role,
                "category": cat,
                "mean_rate": {m: float(np.mean(v)) for m, v in sorted(per_mit.items())},
                "n_subjects": {m: len(v) for m, v in sorted(per_mit.items())},
            }
        )
    return rows
