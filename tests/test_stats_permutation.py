"""Permutation tests of correlations (Pearson, Spearman, Kendall), of a difference of means and
the paired sign-flip test, for every alternative, against ``scipy.stats.permutation_test``.

Where both enumerate every rearrangement the p-values must agree to rounding. Otherwise the two
draw different random rearrangements, and each p-value estimates the same probability with
binomial noise; they must agree within a few standard errors of that noise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from vhframe import stats

ALTERNATIVES = ("two-sided", "less", "greater")

OURS: dict[str, Callable[..., stats.PermutationResult]] = {
    "pearson": stats.permutation_pearson,
    "spearman": stats.permutation_spearman,
    "kendall": stats.permutation_kendall,
}
SCIPY_STAT: dict[str, Callable[..., Any]] = {
    "pearson": sps.pearsonr,
    "spearman": sps.spearmanr,
    "kendall": sps.kendalltau,
}


def scipy_corr_test(kind: str, x: np.ndarray, y: np.ndarray, b: int, alt: str) -> Any:
    f = SCIPY_STAT[kind]
    return sps.permutation_test(
        (x,),
        lambda a: f(a, y).statistic,
        permutation_type="pairings",
        n_resamples=b,
        alternative=alt,  # type: ignore[arg-type]
        rng=1,
    )


def scipy_paired_test(x: np.ndarray, y: np.ndarray, b: int, alt: str) -> Any:
    return sps.permutation_test(
        (x, y),
        lambda a, c, axis=-1: np.mean(a - c, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=b,
        alternative=alt,  # type: ignore[arg-type]
        rng=1,
    )


def monte_carlo_close(ours: float, ref: float, b: int, alternative: str) -> None:
    """Two independent estimates of one p-value from b resamples each. Each counts null values
    in a tail whose probability q is the p-value, or half of it for a two-sided p-value (then
    doubled, with its noise)."""
    two_sided = alternative == "two-sided"
    q = min(max(ref, ours), 1.0) / (2 if two_sided else 1)
    sd = (2 if two_sided else 1) * np.sqrt(max(q * (1 - q), 1e-3) / b)
    assert abs(ours - ref) < 5 * np.sqrt(2) * sd, (ours, ref)


@st.composite
def small_pairs(draw: st.DrawFn, max_n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Tiny samples; "ties" and "scores" repeat values (integers, so that every statistic of a
    tied rearrangement is computed exactly on both sides)."""
    n = draw(st.integers(3, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "ties", "scores"]))
    x = rng.normal(size=n)
    y = draw(st.sampled_from([0.0, 0.8, -0.8])) * x + rng.normal(size=n)
    if kind == "ties":
        x, y = np.round(x * 2), np.round(y)
    elif kind == "scores":
        x, y = rng.integers(1, 5, n).astype(float), rng.integers(0, 3, n).astype(float)
    assume(np.ptp(x) > 0 and np.ptp(y) > 0)
    return x, y, kind


@settings(max_examples=40, deadline=None)
@given(
    small_pairs(max_n=7),
    st.sampled_from(["pearson", "spearman", "kendall"]),
    st.sampled_from(ALTERNATIVES),
)
def test_exact_correlation_tests_equal_scipy(
    data: tuple[np.ndarray, np.ndarray, str], kind: str, alternative: str
) -> None:
    x, y, data_kind = data
    # Pearson's r of tied data: different rearrangements give the same r only up to rounding,
    # which the two implementations round differently. Ranks and tau are exact on both sides.
    assume(not (kind == "pearson" and data_kind != "normal"))
    ours = OURS[kind](x, y, alternative=alternative, n_resamples=9999)
    ref = scipy_corr_test(kind, x, y, 9999, alternative)
    assert ours.exact and ours.n_resamples == len(ref.null_distribution)
    assert ours.statistic == pytest.approx(float(ref.statistic), rel=1e-12, abs=1e-15)
    # A statistic that is exactly 0 has no tolerance for ties (100 eps |0|): rounding decides
    # on scipy's side whether the many null values equal to 0 count as ties.
    assume(abs(ref.statistic) > 1e-12 or kind == "kendall")
    assert ours.pvalue == pytest.approx(float(ref.pvalue), rel=1e-12), (x, y)
    assert ours.alternative == alternative


@settings(max_examples=15, deadline=None)
@given(
    st.integers(9, 60),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["pearson", "spearman", "kendall"]),
    st.sampled_from(ALTERNATIVES),
    st.booleans(),
)
def test_random_correlation_tests_within_monte_carlo_error(
    n: int, seed: int, kind: str, alternative: str, ties: bool
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rng.choice([0.0, 0.3, -0.3]) * x + rng.normal(size=n)
    if ties:
        x, y = np.round(x), np.round(y * 2)
    assume(np.ptp(x) > 0 and np.ptp(y) > 0)
    b = 2000
    ours = OURS[kind](x, y, alternative=alternative, n_resamples=b, seed=seed % 1000)
    ref = scipy_corr_test(kind, x, y, b, alternative)
    assert not ours.exact and ours.n_resamples == b
    assert ours.statistic == pytest.approx(float(ref.statistic), rel=1e-12, abs=1e-15)
    monte_carlo_close(ours.pvalue, float(ref.pvalue), b, alternative)


@st.composite
def paired(draw: st.DrawFn, max_n: int) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shift = draw(st.sampled_from([0.0, 0.3, -0.6]))
    x = rng.normal(size=n)
    y = x - shift + rng.normal(scale=0.7, size=n)
    if draw(st.booleans()):
        # Integer scores: tied differences, zero differences, and exact sums on both sides.
        x, y = np.round(x * 2), np.round(y * 2)
    return x, y


@settings(max_examples=60, deadline=None)
@given(paired(max_n=13), st.sampled_from(ALTERNATIVES))
def test_exact_sign_flip_equals_scipy(
    data: tuple[np.ndarray, np.ndarray], alternative: str
) -> None:
    x, y = data
    ours = stats.permutation_diff_means(x, y, paired=True, alternative=alternative)  # type: ignore[arg-type]
    ref = scipy_paired_test(x, y, 9999, alternative)
    assert ours.exact and ours.n_resamples == 2 ** len(x) == len(ref.null_distribution)
    assert ours.statistic == pytest.approx(float(ref.statistic), rel=1e-12, abs=1e-15)
    assume(abs(ref.statistic) > 1e-12)  # see the correlation case: no tie tolerance at 0
    assert ours.pvalue == pytest.approx(float(ref.pvalue), rel=1e-12)


@settings(max_examples=20, deadline=None)
@given(paired(max_n=300).filter(lambda d: len(d[0]) > 13), st.sampled_from(ALTERNATIVES))
def test_random_sign_flip_within_monte_carlo_error(
    data: tuple[np.ndarray, np.ndarray], alternative: str
) -> None:
    x, y = data
    b = 3000
    ours = stats.permutation_diff_means(
        x,
        y,
        paired=True,
        alternative=alternative,  # type: ignore[arg-type]
        n_resamples=b,
        seed=3,
    )
    ref = scipy_paired_test(x, y, b, alternative)
    assert not ours.exact
    monte_carlo_close(ours.pvalue, float(ref.pvalue), b, alternative)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_unpaired_diff_means_alternatives(alternative: str) -> None:
    rng = np.random.default_rng(5)

    def ref(a: np.ndarray, b: np.ndarray, n: int) -> Any:
        return sps.permutation_test(
            (a, b),
            lambda u, v, axis=-1: u.mean(axis) - v.mean(axis),
            vectorized=True,
            n_resamples=n,
            alternative=alternative,  # type: ignore[arg-type]
            rng=1,
        )

    for n1, n2, shift in [(2, 3, 0.0), (4, 6, 1.0), (5, 8, -1.0)]:
        a, b = rng.normal(shift, size=n1), np.round(rng.normal(size=n2), 1)
        ours = stats.permutation_diff_means(a, b, alternative=alternative)  # type: ignore[arg-type]
        r = ref(a, b, 9999)
        assert ours.exact and ours.pvalue == pytest.approx(float(r.pvalue), rel=1e-12)
    a, b = rng.normal(0.4, size=40), rng.normal(size=55)
    ours = stats.permutation_diff_means(a, b, alternative=alternative, n_resamples=3000)  # type: ignore[arg-type]
    monte_carlo_close(ours.pvalue, float(ref(a, b, 3000).pvalue), 3000, alternative)


def test_one_sided_sides() -> None:
    # A clear positive association: "greater" is small, "less" near 1, two-sided twice the
    # smaller tail.
    rng = np.random.default_rng(6)
    x = rng.normal(size=80)
    y = x + rng.normal(size=80)
    for f in OURS.values():
        two, less, greater = (f(x, y, alternative=a, n_resamples=999).pvalue for a in ALTERNATIVES)
        assert greater == pytest.approx(1 / 1000) and less == 1.0 and two == 2 / 1000
    d = stats.permutation_diff_means(y + 0.5, y - 0.5 + rng.normal(size=80), paired=True)
    assert d.pvalue < 0.01


def test_threads_seeds_and_errors() -> None:
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=150), np.round(rng.normal(size=150), 1)
    for f in OURS.values():
        for alt in ALTERNATIVES:
            one = f(x, y, alternative=alt, threads=1, n_resamples=500, seed=4)
            assert one == f(x, y, alternative=alt, threads=2, n_resamples=500, seed=4)
        assert f(x, y, seed=1, n_resamples=500) != f(x, y, seed=2, n_resamples=500)
    flip = stats.permutation_diff_means(x, y, paired=True, threads=1, n_resamples=500)
    assert flip == stats.permutation_diff_means(x, y, paired=True, threads=2, n_resamples=500)

    for f in OURS.values():
        with pytest.raises(ValueError, match="correlation is undefined for constant input"):
            f([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0])
        with pytest.raises(ValueError, match="at least 3"):
            f([1.0, 2.0], [2.0, 1.0])
        with pytest.raises(ValueError, match=r"lengths differ \(4 != 3\)"):
            f([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
        with pytest.raises(ValueError, match="y contains a NaN"):
            f([1.0, 2.0, 3.0], [1.0, np.nan, 3.0])
        with pytest.raises(ValueError, match="alternative must be 'two-sided', 'less' or"):
            f(x, y, alternative="two_sided")
        with pytest.raises(ValueError, match="n_resamples must be at least 1"):
            f(x, y, n_resamples=0)
    with pytest.raises(ValueError, match=r"paired x and y: lengths differ \(3 != 2\)"):
        stats.permutation_diff_means([1.0, 2.0, 3.0], [1.0, 2.0], paired=True)
    with pytest.raises(ValueError, match="a paired test needs at least 2 observations, got 1"):
        stats.permutation_diff_means([1.0], [2.0], paired=True)
    with pytest.raises(ValueError, match="x contains a NaN or infinite value"):
        stats.permutation_diff_means([1.0, np.inf], [2.0, 1.0], paired=True)
    with pytest.raises(ValueError, match="alternative must be"):
        stats.permutation_diff_means(x, y, paired=True, alternative="bigger")  # type: ignore[arg-type]
