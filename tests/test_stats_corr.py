"""Correlations, permutation tests and p-value adjustment against scipy/statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from vhframe import stats


@st.composite
def pairs(draw: st.DrawFn, min_n: int = 3, max_n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_n, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "ties", "heavy", "scores"]))
    x = rng.normal(size=n)
    y = draw(st.sampled_from([0.0, 0.5, -0.95])) * x + rng.normal(size=n)
    if kind == "ties":
        x, y = np.round(x * 2), np.round(y)
    elif kind == "heavy":
        x, y = rng.standard_cauchy(n), rng.standard_cauchy(n) + x
    elif kind == "scores":
        x, y = rng.integers(1, 7, n).astype(float), rng.integers(0, 3, n).astype(float)
    # Constant inputs are an error, tested separately.
    if np.all(x == x[0]):
        x[0] += 1
    if np.all(y == y[0]):
        y[-1] += 1
    return x, y


def _same(got: float, want: float, rtol: float = 1e-9) -> None:
    assert got == pytest.approx(want, rel=rtol, abs=1e-300), (got, want)


ALTERNATIVES = ("two-sided", "less", "greater")


@settings(max_examples=150, deadline=None)
@given(pairs(), st.sampled_from(ALTERNATIVES))
def test_correlations_match_scipy(data: tuple[np.ndarray, np.ndarray], alternative: str) -> None:
    x, y = data
    alt = alternative
    for ours, ref in [
        (stats.pearson(x, y, alternative=alt), sps.pearsonr(x, y, alternative=alt)),  # type: ignore[arg-type]
        (stats.spearman(x, y, alternative=alt), sps.spearmanr(x, y, alternative=alt)),  # type: ignore[arg-type]
        (stats.kendall(x, y, alternative=alt), sps.kendalltau(x, y, alternative=alt)),  # type: ignore[arg-type]
    ]:
        assert ours.alternative == alt
        assert ours.statistic == pytest.approx(float(ref.statistic), rel=1e-12, abs=1e-14)
        # p-values agree relatively, except where the statistic is at rounding level of 0 or
        # ±1 (there p is ill-conditioned: both sides then give a p-value at 1 or near 0).
        if 1e-12 < abs(ref.statistic) < 1 - 1e-12:
            _same(ours.pvalue, float(ref.pvalue))
        else:
            assert ours.pvalue == pytest.approx(float(ref.pvalue), abs=1e-9)


def test_large_n_and_tiny_n() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=200_000)
    y = 0.01 * x + rng.normal(size=200_000)
    for f, g in [(stats.pearson, sps.pearsonr), (stats.spearman, sps.spearmanr)]:
        _same(f(x, y).pvalue, float(g(x, y).pvalue))
    k = stats.kendall(x[:50_000], np.round(y[:50_000], 1))
    ref = sps.kendalltau(x[:50_000], np.round(y[:50_000], 1))
    _same(k.statistic, float(ref.statistic))
    _same(k.pvalue, float(ref.pvalue))
    # n = 3 and perfect correlation.
    assert stats.pearson([1, 2, 3], [2, 4, 6.5]).pvalue == pytest.approx(
        float(sps.pearsonr([1, 2, 3], [2, 4, 6.5]).pvalue), rel=1e-9
    )
    assert stats.spearman([1, 2, 3], [1, 2, 3]).pvalue == 0.0
    # Kendall exact p-values (no ties, n <= 33) and the n > 33 near-perfect exact branch.
    for n in (3, 4, 10, 33):
        a, b = rng.permutation(n).astype(float), rng.permutation(n).astype(float)
        _same(stats.kendall(a, b).pvalue, float(sps.kendalltau(a, b).pvalue), 1e-12)
    a = np.arange(40.0)
    b = a.copy()
    b[[3, 4]] = b[[4, 3]]
    _same(stats.kendall(a, b).pvalue, float(sps.kendalltau(a, b).pvalue))


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_one_sided_exact_and_edge_cases(alternative: str) -> None:
    alt = alternative
    rng = np.random.default_rng(1)
    # Kendall's exact null, both tails, including the median count (4c = n(n - 1)) where the
    # one-sided p-value needs the mass at c.
    cases = [
        (rng.permutation(n).astype(float), rng.permutation(n).astype(float))
        for n in (3, 5, 9, 20, 33)
    ]
    cases.append((np.arange(4.0), np.array([1.0, 0.0, 3.0, 2.0])))  # tau = 1/3, c = 4 of 6
    cases.append((np.arange(5.0), np.array([2.0, 4.0, 0.0, 3.0, 1.0])))  # c = 5 of 10
    for a, b in cases:
        ours = stats.kendall(a, b, alternative=alt)  # type: ignore[arg-type]
        _same(ours.pvalue, float(sps.kendalltau(a, b, alternative=alt).pvalue), 1e-12)  # type: ignore[arg-type]
    # Perfect correlation either way, n = 3 and larger: p is 0 or 1 on the respective side. r
    # lands within rounding of ±1, where p is ill-conditioned (for n = 3, p ~ sqrt(1 - |r|)).
    for n in (3, 10):
        a = np.arange(float(n))
        for b in (2 * a + 1, -a):
            for f, g in [
                (stats.pearson, sps.pearsonr),
                (stats.spearman, sps.spearmanr),
                (stats.kendall, sps.kendalltau),
            ]:
                ours = f(a, b, alternative=alt).pvalue  # type: ignore[operator]
                assert ours == pytest.approx(float(g(a, b, alternative=alt).pvalue), abs=1e-6)


@pytest.mark.parametrize("f", [stats.pearson, stats.spearman, stats.kendall])
def test_one_sided_tails(f) -> None:  # type: ignore[no-untyped-def]
    # The side the data point to gets half the two-sided p-value.
    rng = np.random.default_rng(2)
    x = rng.normal(size=60)
    y = 0.4 * x + rng.normal(size=60)
    two, less, greater = (f(x, y, alternative=a).pvalue for a in ALTERNATIVES)
    assert greater < less
    assert greater == pytest.approx(two / 2, rel=1e-12)


@pytest.mark.parametrize("f", [stats.pearson, stats.spearman, stats.kendall])
def test_correlation_errors(f) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="correlation is undefined for constant input"):
        f([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="correlation is undefined for constant input"):
        f([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="at least 3"):
        f([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"lengths differ \(4 != 3\)"):
        f([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="y contains a NaN or infinite value"):
            f([1.0, 2.0, 3.0], [1.0, bad, 3.0])
    for alt in ("two_sided", "Greater", "both", ""):
        with pytest.raises(
            ValueError, match="alternative must be 'two-sided', 'less' or 'greater'"
        ):
            f([1.0, 2.0, 3.0], [1.0, 3.0, 2.0], alternative=alt)


def _scipy_perm_corr(x: np.ndarray, y: np.ndarray, b: int):  # type: ignore[no-untyped-def]
    return sps.permutation_test(
        (x,),
        lambda a, axis=-1: sps.pearsonr(a, y, axis=axis).statistic,
        permutation_type="pairings",
        n_resamples=b,
        vectorized=True,
        rng=1,
    )


def test_permutation_exact_cases_equal_scipy() -> None:
    rng = np.random.default_rng(2)
    for n in (3, 5, 7):
        x, y = rng.normal(size=n), rng.normal(size=n)
        ours = stats.permutation_pearson(x, y, n_resamples=9999)
        ref = _scipy_perm_corr(x, y, 9999)
        assert ours.exact and ours.n_resamples == len(ref.null_distribution)
        assert ours.pvalue == pytest.approx(float(ref.pvalue), rel=1e-12)
    for n1, n2 in [(2, 3), (4, 6), (5, 8)]:
        x, y = rng.normal(size=n1), np.round(rng.normal(size=n2), 1)
        ours = stats.permutation_diff_means(x, y)
        ref = sps.permutation_test(
            (x, y), lambda a, b, axis=-1: a.mean(axis) - b.mean(axis), vectorized=True, rng=1
        )
        assert ours.exact and ours.n_resamples == len(ref.null_distribution)
        assert ours.pvalue == pytest.approx(float(ref.pvalue), rel=1e-12)
        assert ours.statistic == pytest.approx(float(ref.statistic), rel=1e-12)


def test_permutation_random_within_monte_carlo_error() -> None:
    rng = np.random.default_rng(3)
    for effect in (0.0, 0.15, 0.3):
        x = rng.normal(size=120)
        y = effect * x + rng.normal(size=120)
        ours = stats.permutation_pearson(x, y, n_resamples=4000, seed=5)
        ref = _scipy_perm_corr(x, y, 4000)
        sd = np.sqrt(max(ref.pvalue * (1 - ref.pvalue), 1e-4) / 4000)
        assert not ours.exact
        assert abs(ours.pvalue - ref.pvalue) < 5 * np.sqrt(2) * sd + 1e-3
        a, b = rng.normal(size=40), rng.normal(effect * 2, size=55)
        ours = stats.permutation_diff_means(a, b, n_resamples=4000, seed=5)
        ref = sps.permutation_test(
            (a, b),
            lambda u, v, axis=-1: u.mean(axis) - v.mean(axis),
            vectorized=True,
            n_resamples=4000,
            rng=1,
        )
        sd = np.sqrt(max(ref.pvalue * (1 - ref.pvalue), 1e-4) / 4000)
        assert abs(ours.pvalue - ref.pvalue) < 5 * np.sqrt(2) * sd + 1e-3


def test_permutation_threads_and_errors() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=300), rng.normal(size=300)
    assert stats.permutation_pearson(x, y, threads=1) == stats.permutation_pearson(x, y, threads=2)
    assert stats.permutation_diff_means(x, y, threads=1) == stats.permutation_diff_means(
        x, y, threads=2
    )
    assert stats.permutation_pearson(x, y, seed=1) != stats.permutation_pearson(x, y, seed=2)
    with pytest.raises(ValueError, match="constant"):
        stats.permutation_pearson([1, 2, 3, 4], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="sample y needs at least 2"):
        stats.permutation_diff_means([1, 2, 3], [1])
    with pytest.raises(ValueError, match="x contains a NaN"):
        stats.permutation_diff_means([1, np.nan, 3], [1, 2])
    with pytest.raises(ValueError, match="seed"):
        stats.permutation_pearson(x, y, seed=-1)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.05, 0.01])),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from(["bh", "holm", "bonferroni"]),
)
def test_adjustments_match_statsmodels(p: list[float], method: str) -> None:
    sm_method = {"bh": "fdr_bh", "holm": "holm", "bonferroni": "bonferroni"}[method]
    reject, adj, _, _ = multipletests(np.array(p), alpha=0.05, method=sm_method)
    ours = stats.adjust_pvalues(p, method)  # type: ignore[arg-type]
    np.testing.assert_allclose(ours.pvalues, adj, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(ours.reject, reject)


def test_adjustment_errors() -> None:
    with pytest.raises(ValueError, match="p-values must lie in"):
        stats.adjust_pvalues([0.1, np.nan])
    with pytest.raises(ValueError, match="p-values must lie in"):
        stats.adjust_pvalues([0.1, 1.5])
    with pytest.raises(ValueError, match="method must be"):
        stats.adjust_pvalues([0.1], "fdr")  # type: ignore[arg-type]
