"""Bootstrap intervals against scipy.stats.bootstrap, thread-count determinism, errors.

Two bootstraps with different random streams agree only up to Monte-Carlo error, so each
interval endpoint is checked on the probability scale: under scipy's bootstrap distribution,
our endpoint must sit at the level the method asks for (alpha/2 for percentile, the BCa-adjusted
level for BCa, computed here independently from scipy's distribution and the jackknife) within a
few Monte-Carlo standard errors. That check stays valid for the discrete bootstrap
distributions of tiny or tied samples.

Each check runs on every engine and instruction set it can reach (``VHFRAME_STATS_ENGINE``,
``VHFRAME_STATS_ISA``); paths this CPU lacks are skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.special import ndtr, ndtri

from vhframe import _core, stats

ENGINE_VAR, ISA_VAR = "VHFRAME_STATS_ENGINE", "VHFRAME_STATS_ISA"
#: The instruction sets of the floating-point kernels (every bootstrap but the OLS one).
ISAS = [pytest.param(("gather", isa), id=isa) for isa in ("portable", "avx2", "avx512")]
#: Those, and the tile engine, for the correlation bootstraps.
ENGINES = [
    *(pytest.param(("gather", isa), id=f"gather-{isa}") for isa in ("portable", "avx2", "avx512")),
    pytest.param(("tiles", "auto"), id="tiles"),
]


@contextmanager
def _path_env(path: tuple[str, str]) -> Iterator[None]:
    """Sets the engine and instruction set variables to ``path`` for the block."""
    saved = {k: os.environ.get(k) for k in (ENGINE_VAR, ISA_VAR)}
    os.environ[ENGINE_VAR], os.environ[ISA_VAR] = path
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def forced(path: tuple[str, str]) -> Iterator[None]:
    """Runs the block on engine and instruction set ``path``; skips the test, with the reason,
    where this CPU lacks it."""
    with _path_env(path):
        try:
            _core._stats_engines()
        except RuntimeError as e:
            pytest.skip(str(e))
        yield


B = 4000
# About 5 Monte-Carlo standard errors at B = 4000: a 2.5% quantile level has sd ~0.0035 per
# bootstrap; BCa adds the noise of each side's estimate of z0 (sd ~0.02 in z, ~0.006 in level).
LEVEL_TOL = {"percentile": 0.018, "bca": 0.035}


def _bca_levels(theta: float, dist: np.ndarray, jacks: list[np.ndarray], level: float):  # type: ignore[no-untyped-def]
    """Efron's BCa levels, written out from the textbook formulas."""
    alpha = (1 - level) / 2
    z0 = ndtri((np.sum(dist < theta) + np.sum(dist <= theta)) / (2 * len(dist)))
    num = den = 0.0
    for j in jacks:
        u = (len(j) - 1) * (j.mean() - j)
        num += np.sum(u**3) / len(j) ** 3
        den += np.sum(u**2) / len(j) ** 2
    a = num / den**1.5 / 6 if den > 0 else 0.0
    za = ndtri(alpha)
    return tuple(ndtr(z0 + (z0 + z) / (1 - a * (z0 + z))) for z in (za, -za))


def _jack_mean(x: np.ndarray) -> np.ndarray:
    return (x.sum() - x) / (len(x) - 1)


def _check_levels(
    ci: stats.BootstrapCI, dist: np.ndarray, levels: tuple[float, float], tol: float = 0.0
) -> None:
    tol = tol or LEVEL_TOL[ci.method]
    for end, q in zip((ci.low, ci.high), levels, strict=True):
        # Rounding noise between two summation orders must not move an endpoint off an atom.
        eps = 1e-9 * max(1.0, abs(end))
        below, at_or_below = np.mean(dist < end - eps), np.mean(dist <= end + eps)
        assert below - tol <= q <= at_or_below + tol, (end, q, below, at_or_below)


def _mean_stat(a: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis)


def _compare_one_sample(
    x: np.ndarray, method: str, ours: Callable[..., stats.BootstrapCI], level: float = 0.95
) -> None:
    ci = ours(x, method=method, level=level, n_resamples=B, seed=7)
    ref = sps.bootstrap(
        (x,), _mean_stat, n_resamples=B, method="percentile", rng=11, confidence_level=level
    )
    dist = ref.bootstrap_distribution
    assert ci.estimate == pytest.approx(float(np.mean(x)), rel=1e-12, abs=1e-12)
    if method == "bca":
        levels = _bca_levels(float(np.mean(x)), dist, [_jack_mean(x)], level)
    else:
        levels = ((1 - level) / 2, (1 + level) / 2)
    _check_levels(ci, dist, levels)
    assert ci.se == pytest.approx(float(np.std(dist, ddof=1)), rel=0.1, abs=1e-12)
    assert ci.method == method and ci.n_resamples == B and ci.seed == 7


@st.composite
def samples(draw: st.DrawFn, min_n: int = 2) -> np.ndarray:
    n = draw(st.integers(min_n, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "skewed", "ties", "binary"]))
    if kind == "normal":
        x = rng.normal(draw(st.sampled_from([0.0, 1e4])), 1.0, n)
    elif kind == "skewed":
        x = rng.lognormal(0.0, 1.5, n)
    elif kind == "ties":
        x = rng.integers(1, 6, n).astype(float)
    else:
        x = (rng.random(n) < draw(st.sampled_from([0.05, 0.5]))).astype(float)
    if np.all(x == x[0]):
        x[0] += 1.0  # constant samples are tested separately
    return x


@pytest.mark.parametrize("path", ISAS)
@settings(max_examples=40, deadline=None)
@given(samples(), st.sampled_from(["percentile", "bca"]), st.sampled_from([0.9, 0.95]))
def test_mean_matches_scipy(
    path: tuple[str, str], x: np.ndarray, method: str, level: float
) -> None:
    with forced(path):
        _compare_one_sample(x, method, stats.bootstrap_mean, level)


@pytest.mark.parametrize("path", ISAS)
@settings(max_examples=15, deadline=None)
@given(st.integers(2, 200), st.integers(0, 2**32 - 1), st.sampled_from(["percentile", "bca"]))
def test_proportion_matches_scipy(path: tuple[str, str], n: int, seed: int, method: str) -> None:
    with forced(path):
        _proportion_matches_scipy(n, seed, method)


def _proportion_matches_scipy(n: int, seed: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    x = rng.random(n) < 0.3
    if x.all() or not x.any():
        x[0] = not x[0]
    _compare_one_sample(x.astype(float), method, stats.bootstrap_proportion)
    a = stats.bootstrap_proportion(x, method=method)  # type: ignore[arg-type]
    assert a == stats.bootstrap_proportion(x.astype(np.int8), method=method)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ISAS)
@pytest.mark.parametrize("method", ["percentile", "bca"])
@pytest.mark.parametrize("paired", [False, True])
def test_diff_means_matches_scipy(path: tuple[str, str], method: str, paired: bool) -> None:
    with forced(path):
        _diff_means_matches_scipy(method, paired)


def _diff_means_matches_scipy(method: str, paired: bool) -> None:
    rng = np.random.default_rng(5)
    for nx, ny in [(3, 3), (25, 25), (400, 400)] if paired else [(2, 5), (30, 70), (500, 300)]:
        x, y = rng.gamma(2.0, size=nx), rng.normal(1.0, size=ny)
        if paired:
            y = 0.5 * x + y
        ci = stats.bootstrap_diff_means(
            x,
            y,
            paired=paired,
            method=method,
            n_resamples=B,
            seed=3,  # type: ignore[arg-type]
        )
        ref = sps.bootstrap(
            (x, y),
            lambda a, b, axis=-1: a.mean(axis) - b.mean(axis),
            paired=paired,
            n_resamples=B,
            method="percentile",
            rng=2,
        )
        theta = x.mean() - y.mean()
        assert ci.estimate == pytest.approx(theta, rel=1e-12, abs=1e-12)
        if method == "bca":
            if paired:
                jacks = [_jack_mean(x - y)]
            else:
                jacks = [_jack_mean(x) - y.mean(), x.mean() - _jack_mean(y)]
            levels = _bca_levels(theta, ref.bootstrap_distribution, jacks, 0.95)
        else:
            levels = (0.025, 0.975)
        _check_levels(ci, ref.bootstrap_distribution, levels)


def _pearson_stat(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(sps.pearsonr(a, b, axis=axis).statistic)


@pytest.mark.parametrize("path", ENGINES)
@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_pearson_matches_scipy(path: tuple[str, str], method: str) -> None:
    with forced(path):
        _pearson_matches_scipy(method)


def _pearson_matches_scipy(method: str) -> None:
    rng = np.random.default_rng(6)
    for n in (12, 80, 1000):
        x = rng.normal(size=n)
        y = 0.6 * x + rng.standard_t(3, size=n)
        ci = stats.bootstrap_pearson(x, y, method=method, n_resamples=B, seed=1)  # type: ignore[arg-type]
        ref = sps.bootstrap(
            (x, y), _pearson_stat, paired=True, n_resamples=B, method="percentile", rng=4
        )
        theta = float(sps.pearsonr(x, y).statistic)
        assert ci.estimate == pytest.approx(theta, rel=1e-12)
        if method == "bca":
            jack = np.array([sps.pearsonr(np.delete(x, i), np.delete(y, i))[0] for i in range(n)])
            levels = _bca_levels(theta, ref.bootstrap_distribution, [jack], 0.95)
        else:
            levels = (0.025, 0.975)
        _check_levels(ci, ref.bootstrap_distribution, levels)


RANK_STAT = {"spearman": sps.spearmanr, "kendall": sps.kendalltau}
RANK_CI = {"spearman": stats.bootstrap_spearman, "kendall": stats.bootstrap_kendall}


def _p_constant(v: np.ndarray) -> float:
    """Probability that a resample of v (n draws with replacement) is constant."""
    _, counts = np.unique(v, return_counts=True)
    return float(np.sum((counts / len(v)) ** len(v)))


@st.composite
def corr_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(5, 150))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "ties", "scores"]))
    x = rng.normal(size=n)
    y = draw(st.sampled_from([0.0, 0.6, -0.9])) * x + rng.standard_t(4, size=n)
    if kind == "ties":
        x, y = np.round(x * 2), np.round(y)
    elif kind == "scores":
        x, y = rng.integers(1, 6, n).astype(float), np.round(y).clip(-2, 2)
    assume(np.ptp(x) > 0 and np.ptp(y) > 0)
    return x, y


@pytest.mark.slow
@pytest.mark.parametrize("path", ENGINES)
@settings(max_examples=12, deadline=None)
@given(
    corr_pairs(),
    st.sampled_from(["spearman", "kendall"]),
    st.sampled_from(["percentile", "bca"]),
)
def test_rank_correlations_match_scipy(
    path: tuple[str, str], data: tuple[np.ndarray, np.ndarray], kind: str, method: str
) -> None:
    with forced(path):
        _rank_correlations_match_scipy(data, kind, method)


def _rank_correlations_match_scipy(
    data: tuple[np.ndarray, np.ndarray], kind: str, method: str
) -> None:
    x, y = data
    f = RANK_STAT[kind]
    try:
        ci = RANK_CI[kind](x, y, method=method, n_resamples=B, seed=2)  # type: ignore[operator]
    except ValueError as e:
        # Only where a resample can plausibly be constant. (A leave-one-out sample is constant
        # only if a variable has two values, one of them once: then most resamples are too.)
        assert "correlation is undefined for constant input" in str(e)
        assert B * (_p_constant(x) + _p_constant(y)) > 1e-9
        return
    theta = float(f(x, y).statistic)
    assert ci.estimate == pytest.approx(theta, rel=1e-12, abs=1e-15)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = sps.bootstrap(
            (x, y),
            lambda a, b: f(a, b).statistic,
            paired=True,
            vectorized=False,
            n_resamples=B,
            method="percentile",
            rng=3,
        )
    dist = ref.bootstrap_distribution
    assume(not np.isnan(dist).any())  # scipy drew a constant resample: no reference
    if method == "bca":
        jack = np.array([f(np.delete(x, i), np.delete(y, i)).statistic for i in range(len(x))])
        levels = _bca_levels(theta, dist, [jack], 0.95)
    else:
        levels = (0.025, 0.975)
    _check_levels(ci, dist, levels)
    assert ci.se == pytest.approx(float(np.std(dist, ddof=1)), rel=0.15, abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("path", ENGINES)
@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_rank_correlation_intervals_against_scipy_bootstrap(
    path: tuple[str, str], method: str
) -> None:
    with forced(path):
        _rank_correlation_intervals_against_scipy_bootstrap(method)


def _rank_correlation_intervals_against_scipy_bootstrap(method: str) -> None:
    # scipy's own BCa and percentile intervals: endpoints agree within Monte-Carlo error,
    # measured in bootstrap standard errors.
    rng = np.random.default_rng(13)
    x = rng.normal(size=200)
    y = np.round(0.5 * x + rng.normal(size=200), 1)
    for kind, f in RANK_STAT.items():
        ci = RANK_CI[kind](x, y, method=method, n_resamples=B, seed=5)  # type: ignore[operator]
        ref = sps.bootstrap(
            (x, y),
            lambda a, b, f=f: f(a, b).statistic,
            paired=True,
            vectorized=False,
            n_resamples=B,
            method="BCa" if method == "bca" else "percentile",
            rng=6,
        )
        lo, hi = ref.confidence_interval
        se = float(ref.standard_error)
        assert abs(ci.low - lo) < 0.25 * se and abs(ci.high - hi) < 0.25 * se, (ci, lo, hi, se)


@pytest.mark.parametrize("path", ENGINES)
@pytest.mark.parametrize("method", ["percentile", "bca"])
@pytest.mark.parametrize("n", [300, 5000])
def test_correlation_bootstraps_share_resamples(path: tuple[str, str], method: str, n: int) -> None:
    with forced(path):
        _correlation_bootstraps_share_resamples(method, n)


def _correlation_bootstraps_share_resamples(method: str, n: int) -> None:
    # For 0/1 data, average ranks are an affine map of the values, and tau-b of a 2x2 table is
    # the phi coefficient: on every resample the three coefficients coincide. Equal intervals
    # for one seed therefore show that the three draw the same rows (also past 4096 pairs,
    # where the engines work in chunks).
    rng = np.random.default_rng(14)
    x = (rng.random(n) < 0.4).astype(float)
    y = np.where(rng.random(n) < 0.7, x, 1 - x)
    kw = {"method": method, "n_resamples": 500, "seed": 21}
    p = stats.bootstrap_pearson(x, y, **kw)  # type: ignore[arg-type]
    for f in (stats.bootstrap_spearman, stats.bootstrap_kendall):
        r = f(x, y, **kw)  # type: ignore[arg-type]
        for a, b in [(r.estimate, p.estimate), (r.low, p.low), (r.high, p.high), (r.se, p.se)]:
            assert a == pytest.approx(b, rel=1e-12)
    other = stats.bootstrap_spearman(x, y, method=method, n_resamples=500, seed=22)  # type: ignore[arg-type]
    assert (other.low, other.high) != (p.low, p.high)


def test_rank_correlation_bootstrap_of_monotone_data() -> None:
    # y a monotone transform of x: every resample ranks both alike, so rho and tau stay at 1.
    x = np.arange(30.0)
    y = np.exp(x / 10)
    for f in (stats.bootstrap_spearman, stats.bootstrap_kendall):
        ci = f(x, y, n_resamples=200, method="percentile")
        for v in (ci.estimate, ci.low, ci.high):
            assert v == pytest.approx(1.0, abs=1e-15)
        assert ci.se < 1e-15
    a = stats.bootstrap_spearman(x, -np.sin(x), n_resamples=300, seed=9)
    assert a == stats.bootstrap_spearman(x, -np.sin(x), n_resamples=300, seed=9)
    assert a != stats.bootstrap_spearman(x, -np.sin(x), n_resamples=300, seed=10)


@pytest.mark.slow
@pytest.mark.parametrize("path", ENGINES)
def test_many_blocks_match_scipy(path: tuple[str, str]) -> None:
    with forced(path):
        _many_blocks_match_scipy()


def _many_blocks_match_scipy() -> None:
    # n spans two full 4096-item resampling blocks and a partial last block.
    rng = np.random.default_rng(8)
    n, b = 9000, 1500
    x = rng.exponential(size=n)
    y = x + rng.normal(size=n) * 2
    for method in ("percentile", "bca"):
        ci = stats.bootstrap_mean(x, method=method, n_resamples=b)  # type: ignore[arg-type]
        ref = sps.bootstrap((x,), _mean_stat, n_resamples=b, method="percentile", rng=1)
        dist = ref.bootstrap_distribution
        lv = (
            _bca_levels(float(x.mean()), dist, [_jack_mean(x)], 0.95)
            if method == "bca"
            else (0.025, 0.975)
        )
        _check_levels(ci, dist, lv, tol=0.03)
    ci = stats.bootstrap_pearson(x, y, method="percentile", n_resamples=b)
    ref = sps.bootstrap((x, y), _pearson_stat, paired=True, n_resamples=b, method="percentile")
    _check_levels(ci, ref.bootstrap_distribution, (0.025, 0.975), tol=0.03)


def test_ols_coefficients_match_scipy() -> None:
    rng = np.random.default_rng(9)
    n = 40
    X = np.column_stack([rng.integers(1, 7, n), rng.normal(size=n)]).astype(float)
    Y = np.column_stack([X @ [0.5, -1.0] + rng.normal(size=n), rng.exponential(size=n)])
    design = np.column_stack([np.ones(n), X])

    def coefs(idx: np.ndarray) -> np.ndarray:
        i = idx.astype(int)
        return np.linalg.lstsq(design[i], Y[i], rcond=None)[0].T.ravel()

    b = 1500
    ref = sps.bootstrap(
        (np.arange(n, dtype=float),),
        coefs,
        vectorized=False,
        n_resamples=b,
        method="percentile",
        rng=3,
    )
    full = coefs(np.arange(n))
    jack = np.array([coefs(np.delete(np.arange(n), i)) for i in range(n)])
    for method in ("percentile", "bca"):
        res = stats.bootstrap_ols(X, Y, ["score", "z"], method=method, n_resamples=b, seed=2)  # type: ignore[arg-type]
        np.testing.assert_allclose(res.fit.coef.ravel(), full, rtol=1e-9, atol=1e-12)
        assert res.fit.terms == ("const", "score", "z") and res.low.shape == (2, 3)
        for t in range(6):
            dist = ref.bootstrap_distribution[t]
            lv = (
                _bca_levels(full[t], dist, [jack[:, t]], 0.95)
                if method == "bca"
                else (0.025, 0.975)
            )
            ci = stats.BootstrapCI(
                full[t], res.low.ravel()[t], res.high.ravel()[t], 0.0, 0.95, method, b, 2
            )
            _check_levels(ci, dist, lv, tol=0.03)


def test_ols_bootstrap_redraws_singular_resamples() -> None:
    # Five rows with a binary predictor: some resamples see one level only (singular X).
    X = np.array([[0.0], [0.0], [1.0], [1.0], [0.0]])
    y = np.array([1.0, 2.0, 3.0, 5.0, 1.5])
    res = stats.bootstrap_ols(X, y, method="percentile", n_resamples=500)
    assert res.redrawn > 0
    assert np.all(res.low <= res.high)
    with pytest.raises(ValueError, match=r"leaving out row .* singular"):
        stats.bootstrap_ols(np.array([[0.0], [0.0], [1.0], [0.0]]), y[:4], method="bca")


@pytest.mark.parametrize("path", ISAS)
def test_grouped_matches_per_group_bootstrap(path: tuple[str, str]) -> None:
    with forced(path):
        _grouped_matches_per_group_bootstrap()


def _grouped_matches_per_group_bootstrap() -> None:
    rng = np.random.default_rng(10)
    axes = np.array(["gender", "race", "age"])[rng.integers(0, 3, 900)]
    desc = np.array(["a", "b"])[rng.integers(0, 2, 900)]
    neg = (rng.random(900) < 0.2 + 0.1 * (axes == "race")).astype(float)
    groups = np.column_stack([axes, desc])
    res = stats.bootstrap_groups(neg, groups, method="bca", n_resamples=B)
    assert res.groups == tuple(sorted({(a, d) for a, d in zip(axes, desc, strict=True)}))
    for k, (a, d) in enumerate(res.groups):
        sel = neg[(axes == a) & (desc == d)]
        assert res.n[k] == len(sel)
        assert res.estimate[k] == pytest.approx(sel.mean(), rel=1e-12)
        ref = sps.bootstrap((sel,), _mean_stat, n_resamples=B, method="percentile", rng=k)
        dist = ref.bootstrap_distribution
        ci = stats.BootstrapCI(res.estimate[k], res.low[k], res.high[k], 0, 0.95, "bca", B, 0)
        _check_levels(ci, dist, _bca_levels(sel.mean(), dist, [_jack_mean(sel)], 0.95))
    # Groups are resampled independently: a group's interval does not depend on the others.
    one = stats.bootstrap_groups(neg[:300], axes[:300], n_resamples=500, method="percentile")
    two = stats.bootstrap_groups(
        np.append(neg[:300], 1.0),
        np.append(axes[:300], "zzz"),
        n_resamples=500,
        method="percentile",
    )
    np.testing.assert_array_equal(one.low, two.low[:3])


@pytest.mark.parametrize("path", ISAS)
def test_rtp_toxicity_matches_definitions(path: tuple[str, str]) -> None:
    with forced(path):
        _rtp_toxicity_matches_definitions()


def _rtp_toxicity_matches_definitions() -> None:
    rng = np.random.default_rng(11)
    scores = rng.beta(0.5, 3.0, size=(600, 10))
    res = stats.rtp_toxicity(scores, n_resamples=B, seed=4)
    maxima = scores.max(axis=1)
    assert res.n_prompts == 600 and res.threshold == 0.5
    assert res.expected_max.estimate == pytest.approx(maxima.mean(), rel=1e-12)
    assert res.probability.estimate == pytest.approx(np.mean(maxima > 0.5), rel=1e-12)
    for ci, values in [(res.expected_max, maxima), (res.probability, (maxima > 0.5) * 1.0)]:
        ref = sps.bootstrap((values,), _mean_stat, n_resamples=B, method="percentile", rng=5)
        dist = ref.bootstrap_distribution
        _check_levels(ci, dist, _bca_levels(values.mean(), dist, [_jack_mean(values)], 0.95))
    # The flat form with prompt ids (ragged prompts allowed) gives the same numbers.
    ids = np.repeat(np.arange(600) * 7, 10)
    order = rng.permutation(ids.size)
    flat = stats.rtp_toxicity(scores.ravel()[order], ids[order], n_resamples=B, seed=4)
    assert flat == res
    ragged = stats.rtp_toxicity([0.9, 0.1, 0.2, 0.6, 0.3], ["p1", "p1", "p2", "p3", "p3"])
    assert ragged.expected_max.estimate == pytest.approx((0.9 + 0.2 + 0.6) / 3)
    assert ragged.probability.estimate == pytest.approx(2 / 3)


def _all_calls(threads: int | None) -> list[object]:
    rng = np.random.default_rng(12)
    x = rng.normal(size=5000)
    y = x + rng.normal(size=5000)
    X, Y = rng.normal(size=(60, 3)), rng.normal(size=(60, 2))
    kw = {"n_resamples": 300, "threads": threads, "seed": 99}
    return [
        stats.bootstrap_mean(x, **kw),  # type: ignore[arg-type]
        stats.bootstrap_proportion(x > 0, **kw),  # type: ignore[arg-type]
        stats.bootstrap_diff_means(x, y[:3000], **kw),  # type: ignore[arg-type]
        stats.bootstrap_diff_means(x, y, paired=True, **kw),  # type: ignore[arg-type]
        stats.bootstrap_pearson(x, y, **kw),  # type: ignore[arg-type]
        stats.bootstrap_spearman(x[:800], np.round(y[:800]), **kw),  # type: ignore[arg-type]
        stats.bootstrap_kendall(x[:800], np.round(y[:800]), **kw),  # type: ignore[arg-type]
        stats.bootstrap_ols(X, Y, **kw).low.tolist(),  # type: ignore[arg-type]
        stats.bootstrap_groups(x, x > 0.5, **kw).high.tolist(),  # type: ignore[arg-type]
        stats.rtp_toxicity(np.abs(x).reshape(500, 10) / 4, **kw),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("path", ENGINES)
def test_identical_across_thread_counts(path: tuple[str, str]) -> None:
    # The work is split by thread count: with 300 resamples the floating-point engine runs
    # batches of 75, 38 and 25 resamples on 1, 2 and 3 threads (four per thread, 8 to 128),
    # and the tile engine tasks of 5, 3 and 2 groups of 32 (two per thread), so the splits
    # differ; the 5000 pairs pass a 4096-pair super-block, where the vector paths draw.
    with forced(path):
        assert _all_calls(1) == _all_calls(2) == _all_calls(3)


@pytest.mark.slow
@pytest.mark.parametrize("path", ENGINES)
def test_identical_across_rayon_pool_sizes_in_subprocesses(path: tuple[str, str]) -> None:
    # 1000 resamples: batches of 128 and 125 (floating-point engine), tasks of 16 and 8 groups
    # (tile engine) on global pools of 1 and 2 threads.
    with forced(path):
        code = (
            "import numpy as np; from vhframe import stats; "
            "r = np.random.default_rng(1); x = r.normal(size=20_000); "
            "y = x + r.normal(size=20_000); "
            "print(repr(stats.bootstrap_pearson(x, y, n_resamples=1000, seed=5)))"
        )
        outs = []
        for n in ("1", "2"):
            env = {**os.environ, "RAYON_NUM_THREADS": n}
            run = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            outs.append(run.stdout)
    assert outs[0] == outs[1] and "BootstrapCI" in outs[0]


def test_instruction_sets_give_identical_results() -> None:
    # The floating-point kernels make the same bits on every instruction set.
    results = {}
    for isa in ("portable", "avx2", "avx512"):
        try:
            with forced(("gather", isa)):
                results[isa] = _all_calls(None)
        except pytest.skip.Exception:
            continue
    if len(results) < 2:
        pytest.skip("CPU lacks AVX2 and AVX-512: only the portable path runs here")
    portable = results.pop("portable")
    for isa, r in results.items():
        assert r == portable, isa


def test_forced_paths_run_or_raise() -> None:
    # A forced path this CPU lacks raises in every bootstrap that would take it, naming what is
    # missing; never a silent fallback.
    x = np.arange(50.0)
    y = x % 7
    calls = [
        lambda: stats.bootstrap_pearson(x, y, n_resamples=50),
        lambda: stats.bootstrap_spearman(x, y, n_resamples=50),
        lambda: stats.bootstrap_mean(x, n_resamples=50),
        lambda: stats.rtp_toxicity(np.c_[x, y] / 50, n_resamples=50),
    ]
    for path in [
        ("tiles", "auto"),
        ("gather", "portable"),
        ("gather", "avx2"),
        ("gather", "avx512"),
    ]:
        with _path_env(path):
            try:
                chosen = _core._stats_engines()
            except RuntimeError as e:
                assert f"{path[0] if path[0] == 'tiles' else path[1]}: this CPU lacks" in str(e)
                for f in calls:
                    with pytest.raises(RuntimeError, match="this CPU lacks"):
                        f()
                continue
            assert chosen.engine == path[0] and path[1] in ("auto", chosen.isa)
            for f in calls:
                f()


@pytest.mark.parametrize(
    ("var", "value"), [(ENGINE_VAR, "fast"), (ISA_VAR, "sse2"), (ENGINE_VAR, "tile")]
)
def test_unknown_paths_are_errors(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=f"{var} must be 'auto'"):
        stats.bootstrap_pearson(np.arange(10.0), np.arange(10.0) % 3)
    with pytest.raises(ValueError, match=f"{var} must be 'auto'"):
        _core._stats_engines()
    # The OLS bootstrap and the permutation tests have one path and ignore the variables.
    stats.permutation_pearson(np.arange(10.0), np.arange(10.0) % 3, n_resamples=10)


def test_auto_is_the_fastest_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (ENGINE_VAR, ISA_VAR):
        monkeypatch.delenv(var, raising=False)
    chosen = _core._stats_engines()
    rng = np.random.default_rng(3)
    x = rng.normal(size=6000)
    y = x + rng.normal(size=6000)
    auto = (
        stats.bootstrap_pearson(x, y, n_resamples=100),
        stats.bootstrap_mean(x, n_resamples=100),
    )
    with forced((chosen.engine, chosen.isa)):
        assert auto == (
            stats.bootstrap_pearson(x, y, n_resamples=100),
            stats.bootstrap_mean(x, n_resamples=100),
        )


def test_seed_changes_the_draws() -> None:
    x = np.random.default_rng(0).normal(size=100)
    a = stats.bootstrap_mean(x, seed=1, n_resamples=200)
    assert a == stats.bootstrap_mean(x, seed=1, n_resamples=200)
    assert a != stats.bootstrap_mean(x, seed=2, n_resamples=200)


@pytest.mark.parametrize("path", ISAS)
def test_degenerate_samples(path: tuple[str, str]) -> None:
    with forced(path):
        zeros = stats.bootstrap_proportion(np.zeros(30))
        assert (zeros.estimate, zeros.low, zeros.high) == (0.0, 0.0, 0.0)
        const = stats.bootstrap_mean(np.full(10, 3.5), method="percentile")
        assert (const.low, const.high) == (3.5, 3.5)


@pytest.mark.parametrize("path", ENGINES)
def test_errors(path: tuple[str, str]) -> None:
    with forced(path):
        _errors()


def _errors() -> None:
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="x contains a NaN or infinite value"):
        stats.bootstrap_mean(np.r_[x, np.nan])
    with pytest.raises(ValueError, match="y contains a NaN"):
        stats.bootstrap_diff_means(x, np.r_[x, np.inf])
    with pytest.raises(ValueError, match="needs at least 2 observations, got 1"):
        stats.bootstrap_mean([1.0])
    with pytest.raises(ValueError, match="at least 3"):
        stats.bootstrap_pearson([1.0, 2.0], [2.0, 1.0])
    with pytest.raises(ValueError, match=r"paired x and y: lengths differ \(10 != 9\)"):
        stats.bootstrap_diff_means(x, x[:9], paired=True)
    with pytest.raises(ValueError, match="lengths differ"):
        stats.bootstrap_pearson(x, x[:9])
    with pytest.raises(ValueError, match="correlation is undefined for constant input"):
        stats.bootstrap_pearson(x, np.ones(10))
    with pytest.raises(ValueError, match="correlation is undefined for constant input"):
        # Three points: some resamples repeat one point, so r is undefined for them.
        stats.bootstrap_pearson([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    for f in (stats.bootstrap_spearman, stats.bootstrap_kendall):
        with pytest.raises(ValueError, match="at least 3"):
            f([1.0, 2.0], [2.0, 1.0])
        with pytest.raises(ValueError, match=r"lengths differ \(10 != 9\)"):
            f(x, x[:9])
        with pytest.raises(ValueError, match="y contains a NaN"):
            f(x, np.r_[x[:9], np.nan])
        with pytest.raises(ValueError, match="correlation is undefined for constant input"):
            f(x, np.ones(10))
        with pytest.raises(ValueError, match="correlation is undefined for constant input"):
            f([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
        with pytest.raises(ValueError, match="method must be"):
            f(x, x, method="basic")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="confidence level"):
            f(x, x, level=0.0)
    with pytest.raises(ValueError, match="0/1"):
        stats.bootstrap_proportion([0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="confidence level"):
        stats.bootstrap_mean(x, level=1.0)
    with pytest.raises(ValueError, match="n_resamples must be at least 2"):
        stats.bootstrap_mean(x, n_resamples=1)
    with pytest.raises(ValueError, match="method must be"):
        stats.bootstrap_mean(x, method="basic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        stats.bootstrap_mean(x, seed=-3)
    with pytest.raises(ValueError, match="threads must be at least 1"):
        stats.bootstrap_mean(x, threads=0)
    with pytest.raises(ValueError, match="groups must have one entry per value"):
        stats.bootstrap_groups(x, [0, 1])
    with pytest.raises(ValueError, match="group 1 has a single value"):
        stats.bootstrap_groups([1.0, 0.0, 1.0], ["a", "a", "b"])
    with pytest.raises(ValueError, match="at least one sample"):
        stats.rtp_toxicity(np.zeros((5, 0)))
    with pytest.raises(ValueError, match="scores must be 2-D"):
        stats.rtp_toxicity(np.zeros(5))
    with pytest.raises(ValueError, match="prompt_ids must have one entry per value"):
        stats.rtp_toxicity(np.zeros(5), [1, 2])
    with pytest.raises(ValueError, match="scores contains a NaN"):
        stats.rtp_toxicity(np.array([[0.1, np.nan], [0.2, 0.3]]))
    with pytest.raises(ValueError, match="Y column 0 is constant"):
        stats.bootstrap_ols(np.arange(10.0), np.ones(10))


# --- constant resamples: every correlation bootstrap refuses them alike, on every engine


def _rare_binary(offset: float) -> tuple[np.ndarray, np.ndarray]:
    """One 1 among 2000 zeros (plus ``offset``): about e^-1 of the resamples miss the 1."""
    return np.r_[np.zeros(2000), 1.0] + offset, np.arange(2001.0)


def _refusal(f: Callable[..., stats.BootstrapCI], *args: object, **kw: object) -> str | None:
    """The constant-input refusal ``f`` raises, after its generic prefix, or None (for a result
    or another error, such as a BCa interval undefined for a coefficient's own reasons)."""
    prefix = "correlation is undefined for constant input: "
    try:
        f(*args, **kw)
    except ValueError as e:
        if str(e).startswith(prefix):
            return str(e).removeprefix(prefix)
    return None


@pytest.mark.parametrize("path", ENGINES)
@pytest.mark.parametrize("offset", [0.0, 1e9])
def test_pearson_refuses_constant_resamples(path: tuple[str, str], offset: float) -> None:
    x, y = _rare_binary(offset)
    kw = {"method": "percentile", "n_resamples": 200, "seed": 0}
    with forced(path):
        p = _refusal(stats.bootstrap_pearson, x, y, **kw)
        # The same resamples, whose constancy the rank statistics decide from their counts.
        assert p is not None and p == _refusal(stats.bootstrap_spearman, x, y, **kw)
        assert p == _refusal(stats.bootstrap_kendall, x, y, **kw)
        count = int(p.split(" of 200 bootstrap resamples")[0])
        # Binomial(200, (2000/2001)^2001 = 0.368): mean 73.6, sd 6.8.
        assert 40 < count < 110, p
        # BCa: leaving out the 1 leaves x constant. (A seed whose resamples all hold the 1.)
        small = np.r_[np.zeros(8), 1.0] + offset, np.arange(9.0)
        for seed in range(40):
            kw = {"method": "bca", "n_resamples": 2, "seed": seed}
            if _refusal(stats.bootstrap_spearman, *small, **kw) != _refusal(
                stats.bootstrap_spearman, *small, **{**kw, "method": "percentile"}
            ):
                break
        p = _refusal(stats.bootstrap_pearson, *small, **kw)
        assert p is not None and p.startswith("leaving one pair out"), p
        assert p == _refusal(stats.bootstrap_spearman, *small, **kw)


@st.composite
def few_valued_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Pairs where constant resamples are likely: few distinct values, some of them rare, at
    offsets and scales where rounded sums cannot tell a constant side from a tiny spread."""
    n = draw(st.integers(3, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def side() -> np.ndarray:
        k = draw(st.integers(2, 4))
        p = rng.dirichlet(np.full(k, draw(st.sampled_from([0.2, 1.0]))))
        v = rng.choice(k, size=n, p=p).astype(float)
        if np.ptp(v) == 0:
            v[rng.integers(n)] = (v[0] + 1) % k
        scale = draw(st.sampled_from([1.0, 1e-9, 1e6]))
        v = v * scale + draw(st.sampled_from([0.0, 1e9, -3.5e6]))
        assume(np.ptp(v) > 0)  # not when the offset swallows the spread
        return v

    return side(), side()


@pytest.mark.parametrize("path", ENGINES)
@settings(max_examples=60, deadline=None)
@given(few_valued_pairs(), st.sampled_from(["percentile", "bca"]), st.integers(0, 3))
def test_correlation_bootstraps_refuse_alike(
    path: tuple[str, str], data: tuple[np.ndarray, np.ndarray], method: str, seed: int
) -> None:
    # Pearson refuses exactly the constant resamples (and leave-one-out samples) Spearman and
    # Kendall refuse, which they decide from the draw counts: the same resamples on one engine.
    x, y = data
    kw = {"method": method, "n_resamples": 50, "seed": seed}
    with forced(path):
        want = _refusal(stats.bootstrap_spearman, x, y, **kw)
        assert _refusal(stats.bootstrap_kendall, x, y, **kw) == want
        assert _refusal(stats.bootstrap_pearson, x, y, **kw) == want


# --- counts, sizes, levels and thresholds: errors name the argument and the function

_X = np.arange(40.0)
_Y = _X % 7
#: Every function of vhframe.stats that takes a count, by name.
COUNTED: dict[str, Callable[..., object]] = {
    "bootstrap_mean": lambda **kw: stats.bootstrap_mean(_X, **kw),
    "bootstrap_proportion": lambda **kw: stats.bootstrap_proportion(_X > 20, **kw),
    "bootstrap_diff_means": lambda **kw: stats.bootstrap_diff_means(_X, _Y, **kw),
    "bootstrap_pearson": lambda **kw: stats.bootstrap_pearson(_X, _Y, **kw),
    "bootstrap_spearman": lambda **kw: stats.bootstrap_spearman(_X, _Y, **kw),
    "bootstrap_kendall": lambda **kw: stats.bootstrap_kendall(_X, _Y, **kw),
    "bootstrap_ols": lambda **kw: stats.bootstrap_ols(_X, _Y, **kw),
    "bootstrap_groups": lambda **kw: stats.bootstrap_groups(_X, _X > 20, **kw),
    "rtp_toxicity": lambda **kw: stats.rtp_toxicity(np.c_[_X, _Y] / 40, **kw),
    "permutation_pearson": lambda **kw: stats.permutation_pearson(_X, _Y, **kw),
    "permutation_spearman": lambda **kw: stats.permutation_spearman(_X, _Y, **kw),
    "permutation_kendall": lambda **kw: stats.permutation_kendall(_X, _Y, **kw),
    "permutation_diff_means": lambda **kw: stats.permutation_diff_means(_X, _Y, **kw),
}
#: Those with a confidence level.
LEVELLED = [name for name in COUNTED if not name.startswith("permutation")]


@pytest.mark.parametrize("name", COUNTED)
def test_counts_are_checked(name: str) -> None:
    f = COUNTED[name]
    least = 1 if name.startswith("permutation") else 2
    for bad in (-1, -(10**20), least - 1):
        with pytest.raises(ValueError, match=rf"^{name}: n_resamples must be at least {least}"):
            f(n_resamples=bad)
    for bad in (-1, -(10**20), 0):
        with pytest.raises(ValueError, match=rf"^{name}: threads must be at least 1, got"):
            f(threads=bad)
    with pytest.raises(ValueError, match=rf"^{name}: threads must be at most"):
        f(threads=10**12)
    for arg in ("n_resamples", "threads"):
        for bad in (2.5, "8", True):
            with pytest.raises(ValueError, match=rf"^{name}: {arg} must be an integer"):
                f(**{arg: bad})
    # numpy integers are counts too.
    f(n_resamples=np.int64(50), threads=np.int32(2))


@pytest.mark.parametrize("name", COUNTED)
def test_absurd_sizes_raise_memory_error_in_process(name: str) -> None:
    # Refused before anything is allocated: the interpreter goes on.
    f = COUNTED[name]
    with pytest.raises(MemoryError, match=r"^n_resamples = 1000000000000 would need \d+ bytes"):
        f(n_resamples=10**12)
    with pytest.raises(MemoryError, match=rf"^{name}: n_resamples = {2**70} would need"):
        f(n_resamples=2**70)
    assert f(n_resamples=20) is not None


@pytest.mark.parametrize("name", LEVELLED)
def test_nonfinite_levels_are_errors(name: str) -> None:
    for bad in (np.nan, np.inf, -np.inf, 0.0, 1.0):
        with pytest.raises(
            ValueError, match=rf"^{name}: confidence level must lie strictly between 0 and 1"
        ):
            COUNTED[name](level=bad)


def test_nonfinite_thresholds_and_alphas_are_errors() -> None:
    scores = np.c_[_X, _Y] / 40
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match=r"^rtp_toxicity: threshold must be a finite number"):
            stats.rtp_toxicity(scores, threshold=bad)
        with pytest.raises(ValueError, match=r"^rtp_toxicity: threshold must be a finite number"):
            stats.rtp_toxicity(scores.ravel(), np.repeat(np.arange(40), 2), threshold=bad)
        # The kernels refuse it too.
        with pytest.raises(ValueError, match=r"^threshold must be a finite number"):
            _core.toxicity_matrix(scores, bad, 20, 0.95, "bca", 0)
        with pytest.raises(ValueError, match=r"^threshold must be a finite number"):
            _core.toxicity_groups(
                scores.ravel(),
                np.repeat(np.arange(40, dtype=np.uint32), 2),
                40,
                bad,
                20,
                0.9,
                "bca",
                0,
            )
        with pytest.raises(ValueError, match=r"^adjust_pvalues: alpha must lie strictly"):
            stats.adjust_pvalues([0.01, 0.2], alpha=bad)
        with pytest.raises(ValueError, match=r"^OLSResult.ci: confidence level must lie"):
            stats.ols(_X, _Y).ci(level=bad)
    assert stats.rtp_toxicity(scores, threshold=-1e300, n_resamples=20).probability.estimate == 1


def _bad_value(arg: str) -> st.SearchStrategy[object]:
    """Values ``arg`` must refuse."""
    if arg in ("n_resamples", "threads"):
        return st.one_of(
            st.integers(max_value=0),
            st.integers(min_value=10**12, max_value=2**80),
            st.sampled_from([2.0, "4", True, 1.5]),
        )
    nonfinite = st.sampled_from([np.nan, np.inf, -np.inf])
    if arg == "threshold":
        return nonfinite
    return st.one_of(nonfinite, st.floats(max_value=0.0), st.floats(min_value=1.0))


@pytest.mark.parametrize("path", ENGINES)
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_bad_arguments_are_named(path: tuple[str, str], data: st.DataObject) -> None:
    # Any bad count, size, level or threshold, to any function, on any engine: a ValueError
    # (or, for sizes, MemoryError) naming the argument, never a crash or a silent result.
    arg = data.draw(st.sampled_from(["n_resamples", "threads", "level", "threshold"]))
    takers = {"level": LEVELLED, "threshold": ["rtp_toxicity"]}.get(arg, list(COUNTED))
    name = data.draw(st.sampled_from(takers))
    value = data.draw(_bad_value(arg))
    with forced(path):
        with pytest.raises((ValueError, MemoryError)) as e:
            COUNTED[name](**{arg: value})
    msg = str(e.value)
    assert ("confidence level" if arg == "level" else arg) in msg, msg
    if e.type is ValueError:
        assert msg.startswith(f"{name}: "), msg
    else:
        assert arg == "n_resamples" and isinstance(value, int) and value >= 10**12, msg
