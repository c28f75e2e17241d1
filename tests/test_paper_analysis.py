"""The study's own regression: our OLS reproduces the paper's printed standard errors and CIs.

The per-model harm tables behind the paper were never published, so its coefficients cannot
be recomputed. What is fixed by the published inputs is the design matrix (the 154 profiles)
and, through the printed log-likelihood, each regression's residual sum of squares. A response
built as ``[1|X] @ printed_coef + e`` with ``e`` orthogonal to the columns and ``|e|² = RSS``
therefore must give the printed standard errors and confidence intervals.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared
from vhframe import stats
from vhframe.builtins.profiles import TableProfiles
from vhframe.context import RunContext
from vhframe.records import VALUES


def _design(tmp_path: Path) -> np.ndarray:
    folder = shared("paper-analysis")
    names = (folder / "target_distribution_names_full.txt").read_text().split()
    ctx = RunContext(seed=0, run_dir=tmp_path, cache_dir=tmp_path, config_dir=tmp_path)
    profiles = TableProfiles(str(folder / "country_and_group.csv"), names=names).load(ctx)
    assert len(profiles) == 154
    return np.array([p.scores for p in profiles])


def test_condition_number_of_the_design(tmp_path: Path) -> None:
    X = _design(tmp_path)
    assert np.linalg.cond(np.column_stack([np.ones(len(X)), X])) == pytest.approx(30.11, abs=0.005)


@pytest.mark.parametrize("dataset", ["hexphi", "beavertails"])
def test_printed_standard_errors_and_cis(tmp_path: Path, dataset: str) -> None:
    X = _design(tmp_path)
    A = np.column_stack([np.ones(len(X)), X])
    folder = shared("paper-analysis")
    with open(folder / f"ols_saved_{dataset}_coefficients.csv", newline="") as fh:
        coefs = list(csv.DictReader(fh))
    with open(folder / f"ols_saved_{dataset}_fit.csv", newline="") as fh:
        fits = list(csv.DictReader(fh))
    rng = np.random.default_rng(0)
    for fit in fits:
        rows = [r for r in coefs if r["category"] == fit["category"]]
        assert [r["term"] for r in rows] == ["const", *VALUES]
        n, ll = int(fit["n_obs"]), float(fit["log_likelihood"])
        rss = n * np.exp(-2 * ll / n - np.log(2 * np.pi) - 1)
        e = rng.standard_normal(n)
        e -= A @ np.linalg.lstsq(A, e, rcond=None)[0]
        e *= np.sqrt(rss) / np.linalg.norm(e)
        y = A @ np.array([float(r["coef"]) for r in rows]) + e
        res = stats.ols(X, y, names=list(VALUES))
        assert res.df_resid == int(fit["df_resid"]) == 143
        printed_se = np.array([float(r["std_err"]) for r in rows])
        # printed to 3 decimals
        np.testing.assert_allclose(res.se[0], printed_se, atol=0.0005 + 1e-9)
        lo, hi = res.ci(0.95)
        # coefficients printed to 4 decimals, bounds to 3
        np.testing.assert_allclose(lo[0], [float(r["ci_low"]) for r in rows], atol=0.0006)
        np.testing.assert_allclose(hi[0], [float(r["ci_high"]) for r in rows], atol=0.0006)
