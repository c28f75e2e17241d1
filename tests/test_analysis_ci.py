"""Bootstrap CIs of the analysis: the coefficient intervals equal a direct call of
``stats.bootstrap_ols`` at the configured level, method, resample count and seed.

The analysis resamples with the run's seed in every regression table; the tables of one run
list their subjects in the same profile order, so the same resamples pair them by profile
(each table's ``method.bootstrap.seed`` records it).
"""

from __future__ import annotations

import numpy as np
import pytest

from vhframe import stats
from vhframe.analysis import ALL, analyse, harm_rates
from vhframe.records import VALUES, Judgment, Subject

CATEGORIES = ("malware", "fraud", "hate")


def _subjects(n: int) -> list[Subject]:
    rng = np.random.default_rng(17)
    return [
        Subject(
            name=f"aligned-p{i:02d}",
            role="aligned",
            base_model="m",
            profile=f"p{i}",
            scores=tuple(float(v) for v in rng.integers(1, 7, len(VALUES))),
        )
        for i in range(n)
    ]


def _judgments(subjects: list[Subject], mitigation: str = "none") -> list[Judgment]:
    rng = np.random.default_rng(5 if mitigation == "none" else 6)
    out = []
    for s in subjects:
        assert s.scores is not None
        for c in CATEGORIES:
            for i in range(12):
                p = 0.1 + 0.1 * s.scores[CATEGORIES.index(c)]
                harmful = bool(rng.random() < p)
                out.append(
                    Judgment(
                        key=f"{s.name}{c}{i}{mitigation}",
                        generation=f"g{i}",
                        judge="vhframe:refusal",
                        subject=s.name,
                        benchmark="hexphi",
                        category=c,
                        mitigation=mitigation,
                        harmful=harmful,
                        score=float(harmful),
                        label="",
                    )
                )
    return out


def _expected(
    entry: dict[str, object], subjects: list[Subject], **kw: object
) -> tuple[list[str], stats.OLSBootstrapResult]:
    """The direct call the analysis should make for one regression table."""
    by_name = {s.name: s for s in subjects}
    members: list[str] = entry["subjects"]  # type: ignore[assignment]
    rates: dict[str, dict[str, float]] = entry["rates"]  # type: ignore[assignment]
    ols: dict[str, dict[str, object]] = entry["ols"]["by_category"]  # type: ignore[index]
    fitted = [c for c in entry["categories"] if "coef" in ols[c]]  # type: ignore[attr-defined]
    X = np.array([by_name[n].scores for n in members], dtype=np.float64)
    Y = np.column_stack([[rates[n][c] for n in members] for c in fitted])
    return fitted, stats.bootstrap_ols(X, Y, names=list(VALUES), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alpha", "ci_method", "n_resamples", "seed"),
    [
        (0.05, "percentile", 400, 11),
        (0.10, "percentile", 300, 3),
        (0.20, "bca", 300, 11),
        (0.01, "bca", 500, 2024),
    ],
)
def test_coefficient_cis_equal_a_direct_bootstrap(
    alpha: float, ci_method: str, n_resamples: int, seed: int
) -> None:
    subjects = _subjects(30)
    metrics = harm_rates(_judgments(subjects))
    doc = analyse(
        subjects,
        metrics,
        alpha=alpha,
        min_subjects=12,
        bootstrap=n_resamples,
        ci_method=ci_method,
        adjust="none",
        seed=seed,
    )
    [entry] = doc["analyses"]
    method = entry["ols"]["method"]["bootstrap"]
    assert method["n_resamples"] == n_resamples and method["seed"] == seed
    assert method["ci"] == f"{ci_method} row bootstrap, {1 - alpha:.0%}"
    fitted, ref = _expected(
        entry, subjects, method=ci_method, level=1 - alpha, n_resamples=n_resamples, seed=seed
    )
    assert fitted == [*sorted(CATEGORIES), ALL]
    assert method["redrawn_singular_resamples"] == ref.redrawn
    # the same level at another seed, and another level at the same seed, give other
    # intervals: equality below pins both
    _, other_level = _expected(
        entry, subjects, method=ci_method, level=1 - alpha / 2, n_resamples=n_resamples, seed=seed
    )
    _, other_seed = _expected(
        entry, subjects, method=ci_method, level=1 - alpha, n_resamples=n_resamples, seed=seed + 1
    )
    for i, c in enumerate(fitted):
        res = entry["ols"]["by_category"][c]
        np.testing.assert_allclose(res["boot_low"], ref.low[i], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(res["boot_high"], ref.high[i], rtol=1e-12, atol=1e-15)
        assert not np.allclose(ref.low[i], other_level.low[i])
        assert not np.allclose(ref.high[i], other_seed.high[i])
        # the t-based interval at the same level sits beside it
        lo, hi = ref.fit.ci(1 - alpha)
        np.testing.assert_allclose(res["ci_low"], lo[i], rtol=1e-12)
        np.testing.assert_allclose(res["ci_high"], hi[i], rtol=1e-12)


def test_every_table_resamples_with_the_runs_seed() -> None:
    subjects = _subjects(24)
    judgments = _judgments(subjects) + _judgments(subjects, "vhframe:safety-prompt")
    doc = analyse(
        subjects,
        harm_rates(judgments),
        alpha=0.1,
        min_subjects=12,
        bootstrap=300,
        ci_method="percentile",
        adjust="bh",
        seed=9,
    )
    assert [e["mitigation"] for e in doc["analyses"]] == ["none", "vhframe:safety-prompt"]
    for entry in doc["analyses"]:
        assert entry["ols"]["method"]["bootstrap"]["seed"] == 9
        fitted, ref = _expected(
            entry, subjects, method="percentile", level=0.9, n_resamples=300, seed=9
        )
        for i, c in enumerate(fitted):
            res = entry["ols"]["by_category"][c]
            np.testing.assert_allclose(res["boot_low"], ref.low[i], rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(res["boot_high"], ref.high[i], rtol=1e-12, atol=1e-15)


def test_no_bootstrap_no_intervals() -> None:
    subjects = _subjects(24)
    doc = analyse(subjects, harm_rates(_judgments(subjects)), alpha=0.05, min_subjects=12)
    [entry] = doc["analyses"]
    assert "bootstrap" not in entry["ols"]["method"]
    for res in entry["ols"]["by_category"].values():
        assert "boot_low" not in res and "boot_high" not in res
