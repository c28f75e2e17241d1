"""OLS against statsmodels on random inputs, and its error messages."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import mpmath as mp
import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from vhframe import stats


def _reference(X: np.ndarray, y: np.ndarray):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.OLS(y, sm.add_constant(X, has_constant="add")).fit()


def _exact_reference(X: np.ndarray, y: np.ndarray) -> SimpleNamespace:
    """Normal equations in 50-digit arithmetic: the reference where statsmodels' pinv on the
    uncentred design itself loses digits (predictors with large means and small spread)."""
    mp.mp.dps = 50
    n, p = X.shape
    A = mp.matrix([[1, *(mp.mpf(float(v)) for v in row)] for row in X])
    Y = mp.matrix([mp.mpf(float(v)) for v in y])
    M = mp.inverse(A.T * A)
    b = M * (A.T * Y)
    resid = Y - A * b
    df = n - p - 1
    ssr = sum(r**2 for r in resid)
    ybar = sum(Y) / n
    tss = sum((v - ybar) ** 2 for v in Y)
    params = np.array([float(v) for v in b])
    bse = np.array([float(mp.sqrt(ssr / df * M[j, j])) for j in range(p + 1)])
    tvalues = np.array([float(b[j] / mp.sqrt(ssr / df * M[j, j])) for j in range(p + 1)])
    r2 = float(1 - ssr / tss)
    fvalue = float((tss - ssr) / p / (ssr / df))
    q = float(sps.t.ppf(0.95, df))
    return SimpleNamespace(
        params=params,
        bse=bse,
        tvalues=tvalues,
        pvalues=2 * sps.t.sf(np.abs(tvalues), df),
        rsquared=r2,
        rsquared_adj=float(1 - (n - 1) / df * (ssr / tss)),
        fvalue=fvalue,
        f_pvalue=sps.f.sf(fvalue, p, df),
        conf_int=lambda alpha: np.column_stack([params - q * bse, params + q * bse]),
    )


def _close(got: np.ndarray, want: np.ndarray, scale: float = 1.0) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * scale)


def _check_against_statsmodels(X: np.ndarray, Y: np.ndarray, exact: bool = False) -> None:
    res = stats.ols(X, Y)
    Y2 = Y.reshape(len(Y), -1)
    assert res.coef.shape == (Y2.shape[1], X.shape[1] + 1)
    lo, hi = res.ci(0.9)
    for k in range(Y2.shape[1]):
        ref = _exact_reference(X, Y2[:, k]) if exact else _reference(X, Y2[:, k])
        scale = float(np.abs(ref.params).max())
        _close(res.coef[k], ref.params, scale)
        _close(res.se[k], ref.bse, scale)
        # a t statistic near 0 (a coefficient tiny beside the intercept) carries the
        # coefficient's absolute rounding error divided by its SE: compare it absolutely
        np.testing.assert_allclose(res.t[k], ref.tvalues, rtol=1e-9, atol=1e-9)
        _close(res.p[k], ref.pvalues)
        _close(res.r2[k : k + 1], np.array([ref.rsquared]))
        _close(res.adj_r2[k : k + 1], np.array([ref.rsquared_adj]))
        _close(res.f[k : k + 1], np.array([ref.fvalue]))
        _close(res.f_p[k : k + 1], np.array([ref.f_pvalue]))
        ci = ref.conf_int(0.1)
        _close(lo[k], ci[:, 0], scale)
        _close(hi[k], ci[:, 1], scale)
    assert res.n == len(X)
    assert res.df_resid == len(X) - X.shape[1] - 1
    assert res.df_model == X.shape[1]


@st.composite
def designs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, bool]:
    kind = draw(st.sampled_from(["normal", "scores", "offset"]))
    p = draw(st.integers(1, 8))
    # The 50-digit reference for "offset" is slow, so those designs stay small.
    n = draw(st.integers(p + 2, 40 if kind == "offset" else 300))
    m = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "scores":
        # Profile-like predictors: integer scores 1..6, with many ties.
        X = rng.integers(1, 7, size=(n, p)).astype(float)
    elif kind == "offset":
        X = rng.normal(1e3, 3.0, size=(n, p))
    else:
        X = rng.normal(size=(n, p)) * rng.uniform(0.01, 100, size=p)
    Xc = X - X.mean(axis=0)
    sv = np.linalg.svd(Xc / np.linalg.norm(Xc, axis=0).clip(1e-300), compute_uv=False)
    # Nearly singular designs are not comparable at 1e-9 between any two solvers.
    assume(sv[-1] > 1e-3 * sv[0])
    beta = rng.normal(size=(p, m)) * draw(st.sampled_from([0.0, 0.1, 3.0]))
    Y = 2.0 + Xc @ beta + rng.normal(size=(n, m)) * draw(st.sampled_from([0.01, 1.0, 50.0]))
    # A near-perfect fit leaves a residual sum of squares that double precision cannot resolve
    # to 1e-9 (its relative error grows like eps·TSS/SSR), whichever algorithm computes it.
    design = np.column_stack([np.ones(n), X])
    resid = Y - design @ np.linalg.lstsq(design, Y, rcond=None)[0]
    tss = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    assume(((resid**2).sum(axis=0) > 1e-6 * tss).all())
    if m == 1 and draw(st.booleans()):
        Y = Y[:, 0]
    return X, Y, kind == "offset"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(designs())
def test_ols_matches_statsmodels(data: tuple[np.ndarray, np.ndarray, bool]) -> None:
    # Predictors with large means and small spread: statsmodels' own error exceeds 1e-9
    # there, so those cases are checked against 50-digit arithmetic instead.
    _check_against_statsmodels(*data)


def test_ols_paper_shape_many_responses() -> None:
    # The study's shape: 25 harm categories regressed on 10 value scores over 154 models.
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 6, size=(154, 10))
    Y = rng.uniform(0, 1, size=(154, 25))
    _check_against_statsmodels(X, Y)


def test_ols_terms_and_names() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 2))
    y = rng.normal(size=30)
    assert stats.ols(X, y).terms == ("const", "x1", "x2")
    res = stats.ols(X, y, names=["Power", "Security"])
    assert res.terms == ("const", "Power", "Security")
    assert res.coef.shape == (1, 3) and res.r2.shape == (1,)
    with pytest.raises(ValueError, match="names has 1 entries"):
        stats.ols(X, y, names=["Power"])


def test_ols_accepts_non_contiguous_and_integer_input() -> None:
    rng = np.random.default_rng(3)
    X = np.asfortranarray(rng.integers(0, 10, size=(40, 3)))
    y = rng.normal(size=(40, 2))[:, ::-1][:, 0]
    _check_against_statsmodels(X.astype(float), np.ascontiguousarray(y))
    a, b = stats.ols(X, y), stats.ols(np.ascontiguousarray(X, dtype=float), y.copy())
    np.testing.assert_array_equal(a.coef, b.coef)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_ols_rejects_non_finite(bad: float) -> None:
    X = np.arange(20.0).reshape(10, 2) ** 1.5
    y = np.arange(10.0)
    Xb = X.copy()
    Xb[3, 1] = bad
    with pytest.raises(ValueError, match="X contains a NaN or infinite value"):
        stats.ols(Xb, y)
    yb = y.copy()
    yb[7] = bad
    with pytest.raises(ValueError, match="Y contains a NaN or infinite value"):
        stats.ols(X, yb)


def test_ols_rejects_mismatched_rows() -> None:
    with pytest.raises(ValueError, match="X has 10 rows but Y has 9"):
        stats.ols(np.random.default_rng(0).normal(size=(10, 2)), np.arange(9.0))


def test_ols_needs_a_residual_degree_of_freedom() -> None:
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="at least 5 rows"):
        stats.ols(rng.normal(size=(4, 3)), rng.normal(size=4))
    stats.ols(rng.normal(size=(5, 3)), rng.normal(size=5))


def test_ols_rank_deficient_names_the_column() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 3))
    X[:, 2] = 2 * X[:, 0] - X[:, 1]
    with pytest.raises(
        ValueError, match=r"'Tradition' is a linear combination .*'Power', 'Security'.*singular"
    ):
        stats.ols(X, rng.normal(size=30), names=["Power", "Security", "Tradition"])
    X = rng.normal(size=(30, 2))
    X[:, 1] = 4.0
    with pytest.raises(ValueError, match="'x2' is constant"):
        stats.ols(X, rng.normal(size=30))
    X[:, 1] = 3 * X[:, 0] + 1
    with pytest.raises(ValueError, match="'x2' is a linear combination of the intercept and 'x1'"):
        stats.ols(X, rng.normal(size=30))


def test_ols_rejects_constant_response_and_bad_shapes() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(20, 2))
    Y = rng.normal(size=(20, 3))
    Y[:, 1] = 0.25
    with pytest.raises(ValueError, match="Y column 1 is constant"):
        stats.ols(X, Y)
    with pytest.raises(ValueError, match="X must be 1-D or 2-D"):
        stats.ols(np.zeros((2, 2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="must be numeric"):
        stats.ols(np.array([["a"], ["b"]]), np.zeros(2))
    with pytest.raises(ValueError, match="level must lie"):
        stats.ols(X, Y[:, 0]).ci(1.5)
