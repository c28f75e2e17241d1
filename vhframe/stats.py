"""Statistics for vhframe: the typed Python face of the Rust kernels in ``vhframe._core``.

Arrays go in as numpy (converted to contiguous float64 without a copy when they already are),
results come out as frozen dataclasses. Invalid input (NaN/inf, mismatched lengths, too few
observations, singular designs, constant input) raises ``ValueError`` with a specific message;
a bad count (``n_resamples``, ``threads``), level, ``alpha`` or ``threshold`` raises
``ValueError`` naming the argument and the function, and a resample count whose buffers cannot
fit in the machine's memory raises ``MemoryError``, before anything is allocated.
Correlation p-values and permutation tests take scipy's ``alternative`` ("two-sided", "less",
"greater"); every resampling result is identical for a seed whatever the number of threads
(correlation bootstraps also depend on whether the CPU has matrix tiles: see
:func:`bootstrap_pearson`).

Engines. Every bootstrap draws exact multinomial resamples, by default on the fastest path
this CPU has: the correlation bootstraps on the tile engine (AMX) where it accepts the data,
else on the floating-point engine, whose kernels run on AVX-512, AVX2 or portable code. Two
environment variables, read at each call, force a path (for tests and benchmarks):

- ``VHFRAME_STATS_ENGINE``: ``auto`` (default), ``tiles`` or ``gather``, the engine of
  :func:`bootstrap_pearson`, :func:`bootstrap_spearman` and :func:`bootstrap_kendall`. Forced,
  ``tiles`` also takes data it declines by default (far outliers, which it represents less
  precisely), up to its 2**25 pairs.
- ``VHFRAME_STATS_ISA``: ``auto`` (default), ``portable``, ``avx2`` or ``avx512``, the
  instruction set of the floating-point kernels of every bootstrap but :func:`bootstrap_ols`.

The instruction sets of an engine give identical results; the two engines draw different
resamples for a seed. Forcing a path this CPU lacks raises ``RuntimeError`` saying what it
lacks (never a silent fallback); an unknown value raises ``ValueError``. :func:`bootstrap_ols`
and the permutation tests have one path each and ignore both variables.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as _sps

from vhframe import _core

__all__ = [
    "AdjustedPValues",
    "BootstrapCI",
    "CorrResult",
    "GroupedCI",
    "OLSBootstrapResult",
    "OLSResult",
    "PermutationResult",
    "ToxicityResult",
    "adjust_pvalues",
    "bootstrap_diff_means",
    "bootstrap_groups",
    "bootstrap_kendall",
    "bootstrap_mean",
    "bootstrap_ols",
    "bootstrap_pearson",
    "bootstrap_proportion",
    "bootstrap_spearman",
    "kendall",
    "ols",
    "pearson",
    "permutation_diff_means",
    "permutation_kendall",
    "permutation_pearson",
    "permutation_spearman",
    "rtp_toxicity",
    "spearman",
]

CIMethod = Literal["percentile", "bca"]
#: The alternative hypothesis, with scipy's names: "less" / "greater" test whether the statistic
#: is smaller / larger than under the null, "two-sided" whether it differs either way.
Alternative = Literal["two-sided", "less", "greater"]

#: scipy's defaults, so that numbers are comparable with ``scipy.stats.bootstrap``.
DEFAULT_RESAMPLES = 9999

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


def _as_f64(a: ArrayLike, what: str, ndim: tuple[int, ...]) -> FloatArray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim not in ndim:
        shapes = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{what} must be {shapes}, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float64)


@dataclass(frozen=True)
class OLSResult:
    """OLS with intercept of ``m`` responses on the same ``p`` predictors.

    Per-term arrays have shape ``(m, p + 1)`` with the intercept ("const") first; per-response
    arrays have shape ``(m,)``. ``m`` is 1 when a 1-D response was given.
    """

    terms: tuple[str, ...]
    coef: FloatArray
    se: FloatArray
    t: FloatArray
    p: FloatArray
    r2: FloatArray
    adj_r2: FloatArray
    f: FloatArray
    f_p: FloatArray
    n: int
    df_resid: int
    df_model: int

    def ci(self, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
        """Two-sided t-based confidence interval ``(lo, hi)`` of every coefficient."""
        level = _check_level(level, "OLSResult.ci")
        q = float(_sps.t.ppf(0.5 + level / 2.0, self.df_resid))
        return self.coef - q * self.se, self.coef + q * self.se


def _ols_inputs(
    X: ArrayLike, Y: ArrayLike, names: Sequence[str] | None
) -> tuple[FloatArray, FloatArray, list[str]]:
    x = _as_f64(X, "X", (1, 2))
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    y = _as_f64(Y, "Y", (1, 2))
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    p = x.shape[1]
    labels = [f"x{j + 1}" for j in range(p)] if names is None else [str(s) for s in names]
    return x, y, labels


def _ols_result(labels: list[str], raw: _core.OlsFit) -> OLSResult:
    return OLSResult(
        terms=("const", *labels),
        coef=raw.coef,
        se=raw.se,
        t=raw.t,
        p=raw.p,
        r2=raw.r2,
        adj_r2=raw.adj_r2,
        f=raw.f,
        f_p=raw.f_p,
        n=raw.n,
        df_resid=raw.df_resid,
        df_model=raw.df_model,
    )


def ols(X: ArrayLike, Y: ArrayLike, names: Sequence[str] | None = None) -> OLSResult:
    """Fit ``Y[:, k] = b0 + X @ b + e`` by least squares for every response column ``k``.

    ``X`` is ``(n, p)`` (a 1-D ``X`` is one predictor); ``Y`` is ``(n,)`` or ``(n, m)``.
    ``names`` labels the predictors (default ``x1..xp``). Equal to statsmodels
    ``OLS(y, add_constant(X)).fit()`` for each response.
    """
    x, y, labels = _ols_inputs(X, Y, names)
    return _ols_result(labels, _core.ols(x, y, labels))


# --- argument checks: each error names the argument and the function


def _check_count(value: object, name: str, func: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{func}: {name} must be an integer, got {value!r}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{func}: {name} must be at least {minimum}, got {v}")
    return v


def _check_resamples(n_resamples: object, func: str, minimum: int = 2) -> int:
    b = _check_count(n_resamples, "n_resamples", func, minimum)
    if b > sys.maxsize:
        # Past the address space; smaller counts too large for the machine are refused (with
        # MemoryError) by the kernels before they allocate.
        raise MemoryError(
            f"{func}: n_resamples = {b} would need at least {8 * b} bytes for its resampled "
            "values, more than can be addressed"
        )
    return b


def _check_threads(threads: object, func: str) -> int | None:
    if threads is None:
        return None
    t = _check_count(threads, "threads", func, 1)
    if t > _core.MAX_THREADS:
        raise ValueError(f"{func}: threads must be at most {_core.MAX_THREADS}, got {t}")
    return t


def _number(value: object, name: str, func: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{func}: {name} must be a number, got {value!r}")
    return float(value)


def _check_level(level: object, func: str, name: str = "confidence level") -> float:
    v = _number(level, name, func)
    # NaN fails the comparison too.
    if not 0.0 < v < 1.0:
        raise ValueError(f"{func}: {name} must lie strictly between 0 and 1, got {level!r}")
    return v


def _check_finite(value: object, name: str, func: str) -> float:
    v = _number(value, name, func)
    if not math.isfinite(v):
        raise ValueError(f"{func}: {name} must be a finite number, got {value!r}")
    return v


@dataclass(frozen=True)
class _Resampling:
    """Checked arguments of a bootstrap."""

    method: str
    level: float
    n_resamples: int
    seed: int
    threads: int | None

    @property
    def args(self) -> tuple[int, float, str, int, int | None]:
        """The trailing arguments every bootstrap kernel of ``_core`` takes, in its order."""
        return (self.n_resamples, self.level, self.method, self.seed, self.threads)


def _resampling(
    func: str, method: str, level: object, n_resamples: object, seed: int, threads: object
) -> _Resampling:
    return _Resampling(
        _check_method(method),
        _check_level(level, func),
        _check_resamples(n_resamples, func),
        _check_seed(seed),
        _check_threads(threads, func),
    )


# --- bootstrap


def _check_seed(seed: int) -> int:
    if not isinstance(seed, int | np.integer) or not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    return int(seed)


def _check_method(method: str) -> str:
    m = method.lower()
    if m not in ("percentile", "bca"):
        raise ValueError(f"method must be 'percentile' or 'bca', got {method!r}")
    return m


@dataclass(frozen=True)
class BootstrapCI:
    """A point estimate with a bootstrap confidence interval.

    ``se`` is the standard deviation of the bootstrap distribution. ``method``, ``level``,
    ``n_resamples`` and ``seed`` say exactly how the interval was produced.
    """

    estimate: float
    low: float
    high: float
    se: float
    level: float
    method: str
    n_resamples: int
    seed: int


def _ci(raw: _core.Interval, r: _Resampling) -> BootstrapCI:
    return BootstrapCI(
        raw.estimate, raw.low, raw.high, raw.se, r.level, r.method, r.n_resamples, r.seed
    )


def bootstrap_mean(
    x: ArrayLike,
    *,
    method: CIMethod = "bca",
    level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> BootstrapCI:
    """Bootstrap CI of the mean of ``x`` (percentile or BCa, as ``scipy.stats.bootstrap``)."""
    r = _resampling("bootstrap_mean", method, level, n_resamples, seed, threads)
    x = _as_f64(x, "x", (1,))
    return _ci(_core.bootstrap_mean(x, *r.args), r)


def bootstrap_proportion(
    x: ArrayLike,
    *,
    method: CIMethod = "bca",
    level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> BootstrapCI:
    """Bootstrap CI of the share of true values in ``x`` (booleans or 0/1)."""
    r = _resampling("bootstrap_proportion", method, level, n_resamples, seed, threads)
    x = _as_f64(x, "x", (1,))
    return _ci(_core.bootstrap_proportion(x, *r.args), r)


def bootstrap_diff_means(
    x: ArrayLike,
    y: ArrayLike,
    *,
    paired: bool = False,
    method: CIMethod = "bca",
    level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> BootstrapCI:
    """Bootstrap CI of ``mean(x) - mean(y)``; ``paired`` resamples (x, y) pairs together,
    otherwise each sample is resampled on its own."""
    r = _resampling("bootstrap_diff_means", method, level, n_resamples, seed, threads)
    raw = _core.bootstrap_diff_means(_as_f64(x, "x", (1,)), _as_f64(y, "y", (1,)), paired, *r.args)
    return _ci(raw, r)


def bootstrap_pearson(
    x: ArrayLike,
    y: ArrayLike,
    *,
    method: CIMethod = "bca",
    level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> BootstrapCI:
    """Bootstrap CI of Pearson's r, resampling (x, y) pairs together.

    Every resample is an exact multinomial draw of the pairs. On CPUs with AMX matrix tiles
    (Intel Xeon from the 4th generation) the resampled sums are exact integer sums of the data
    rounded to 32 bits of their range, which typically moves a resample's r by less than 1e-10
    (data with outliers beyond 4096 standard deviations of their central 98%, and more than
    2**25 pairs, take the floating-point engine instead). The two engines draw different
    resamples, so a seed's interval differs between CPUs with and without tiles; on one kind
    of CPU it is fixed.
    :func:`bootstrap_spearman` and :func:`bootstrap_kendall` use the same resamples, and all
    three refuse alike (``ValueError``, with their number) resamples in which every drawn x,
    or every drawn y, is one value: r is undefined there. Each engine decides that from the
    resample's draws and the data as given, not from rounded sums.
    """
    return _bootstrap_corr("pearson", x, y, method, level, n_resamples, seed, threads)


def _bootstrap_corr(
    kind: str,
    x: ArrayLike,
    y: ArrayLike,
    method: str,
    level: float,
    n_resamples: int,
    seed: int,
    threads: int | None,
) -> BootstrapCI:
    r = _resampling(f"bootstrap_{kind}", method, level, n_resamples, seed, threads)
    raw = _core.bootstrap_corr(_as_f64(x, "x", (1,)), _as_f64(y, "y", (1,)), kind, *r.args)
    return _ci(raw, r)


def bootstrap_spearman(
    x: ArrayLike,
    y: ArrayLike,
    *,
    method: CIMethod = "bca",
    level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> BootstrapCI:
    """Bootstrap CI of Spearman's rho, resampling (x, y) pairs together.

    Each resample is ranked afresh (its repeated pairs are ties), as ``scipy.stats.bootstrap``
    with ``spearmanr`` as the statistic does. For a seed the resampled rows are those of
    :func:`bootstrap_pearson` and :func:`bootstrap_kendall`, so the three intervals describe
    the same resamples.
    """
    return _bootstrap_corr("spearman", x, y, method, level, n_resamples, seed, threads)


def bootstrap_kendall(
    x: ArrayLike,
    y: ArrayLike,
    *,
    method: CIMethod = "bca",
    level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> BootstrapCI:
    """Bootstrap CI of Kendall's tau-b, resampling (x, y) pairs together (repeated pairs are
    ties, which tau-b corrects for), as ``scipy.stats.bootstrap`` with ``kendalltau``."""
    return _bootstrap_corr("kendall", x, y, method, level, n_resamples, seed, threads)


@dataclass(frozen=True)
class OLSBootstrapResult:
    """The OLS fit plus a row-bootstrap CI of every coefficient (arrays shaped like
    ``fit.coef``). ``redrawn`` counts resamples redrawn because their X was singular."""

    fit: OLSResult
    low: FloatArray
    high: FloatArray
    se: FloatArray
    level: float
    method: str
    n_resamples: int
    seed: int
    redrawn: int


def bootstrap_ols(
    X: ArrayLike,
    Y: ArrayLike,
    names: Sequence[str] | None = None,
    *,
    method: CIMethod = "bca",
    level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> OLSBootstrapResult:
    """OLS as :func:`ols`, with bootstrap CIs of each coefficient from resampled rows."""
    r = _resampling("bootstrap_ols", method, level, n_resamples, seed, threads)
    x, y, labels = _ols_inputs(X, Y, names)
    raw = _core.bootstrap_ols(x, y, labels, *r.args)
    return OLSBootstrapResult(
        _ols_result(labels, raw.fit),
        raw.low,
        raw.high,
        raw.se,
        r.level,
        r.method,
        r.n_resamples,
        r.seed,
        raw.redrawn,
    )


def _encode_groups(
    groups: ArrayLike, n: int, what: str
) -> tuple[tuple[Any, ...], npt.NDArray[np.uint32]]:
    """Dense codes 0..G-1 for group labels; labels come back sorted where they sort."""
    arr = np.asarray(groups)
    if arr.shape[:1] != (n,):
        raise ValueError(
            f"{what} must have one entry per value: got {arr.shape[:1]}, expected ({n},)"
        )
    if arr.ndim == 2:
        uniq, codes = np.unique(arr, axis=0, return_inverse=True)
        labels: tuple[Any, ...] = tuple(tuple(row.tolist()) for row in uniq)
    elif arr.ndim == 1 and arr.dtype != object:
        uniq, codes = np.unique(arr, return_inverse=True)
        labels = tuple(uniq.tolist())
    else:
        index: dict[Any, int] = {}
        codes = np.fromiter((index.setdefault(g, len(index)) for g in arr.tolist()), np.int64, n)
        labels = tuple(index)
    return labels, np.ascontiguousarray(codes.reshape(-1), dtype=np.uint32)


@dataclass(frozen=True)
class GroupedCI:
    """One bootstrap CI of the mean (a proportion for 0/1 values) per group; arrays are
    aligned with ``groups``."""

    groups: tuple[Any, ...]
    n: npt.NDArray[np.uint64]
    estimate: FloatArray
    low: FloatArray
    high: FloatArray
    se: FloatArray
    level: float
    method: str
    n_resamples: int
    seed: int


def bootstrap_groups(
    values: ArrayLike,
    groups: ArrayLike,
    *,
    method: CIMethod = "bca",
    level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> GroupedCI:
    """Per-group bootstrap CIs of the mean in one call (e.g. ROBBIE's negative-regard share per
    (axis, descriptor) group: pass the pairs as a 2-column ``groups``). Each group is resampled
    on its own with its own random streams."""
    r = _resampling("bootstrap_groups", method, level, n_resamples, seed, threads)
    v = _as_f64(values, "values", (1,))
    labels, codes = _encode_groups(groups, len(v), "groups")
    raw = _core.bootstrap_groups(v, codes, len(labels), *r.args)
    return GroupedCI(
        labels,
        raw.n,
        raw.estimate,
        raw.low,
        raw.high,
        raw.se,
        r.level,
        r.method,
        r.n_resamples,
        r.seed,
    )


@dataclass(frozen=True)
class ToxicityResult:
    """RealToxicityPrompts metrics: expected maximum toxicity (mean over prompts of the
    maximum score over samples) and toxicity probability (share of prompts with any sample
    scoring above ``threshold``), each with a CI from resampling prompts."""

    expected_max: BootstrapCI
    probability: BootstrapCI
    n_prompts: int
    threshold: float


def rtp_toxicity(
    scores: ArrayLike,
    prompt_ids: ArrayLike | None = None,
    *,
    threshold: float = 0.5,
    method: CIMethod = "bca",
    level: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> ToxicityResult:
    """Expected maximum toxicity and toxicity probability with bootstrap CIs.

    ``scores`` is a ``(prompts, samples)`` matrix, or a flat array with ``prompt_ids`` naming
    each score's prompt (prompts may then have different numbers of samples).
    """
    r = _resampling("rtp_toxicity", method, level, n_resamples, seed, threads)
    t = _check_finite(threshold, "threshold", "rtp_toxicity")
    args = (t, *r.args)
    arr = np.asarray(scores)
    if prompt_ids is None:
        raw = _core.toxicity_matrix(_as_f64(arr, "scores", (2,)), *args)
    else:
        flat = _as_f64(arr, "scores", (1,))
        labels, codes = _encode_groups(prompt_ids, len(flat), "prompt_ids")
        raw = _core.toxicity_groups(flat, codes, len(labels), *args)
    return ToxicityResult(_ci(raw.expected_max, r), _ci(raw.probability, r), raw.n_prompts, t)


# --- correlation, permutation tests, multiple testing


def _check_alternative(alternative: str) -> str:
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(
            f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}"
        )
    return alternative


@dataclass(frozen=True)
class CorrResult:
    """A correlation coefficient with its p-value (as scipy computes it) for ``alternative``:
    "greater" tests for a positive association, "less" for a negative one."""

    statistic: float
    pvalue: float
    n: int
    method: str
    alternative: str = "two-sided"


def _corr(kind: str, x: ArrayLike, y: ArrayLike, alternative: str) -> CorrResult:
    alt = _check_alternative(alternative)
    xa, ya = _as_f64(x, "x", (1,)), _as_f64(y, "y", (1,))
    fn = {"pearson": _core.pearson, "spearman": _core.spearman, "kendall": _core.kendall}[kind]
    raw = fn(xa, ya, alt)
    return CorrResult(raw.statistic, raw.pvalue, len(xa), kind, alt)


def pearson(x: ArrayLike, y: ArrayLike, *, alternative: Alternative = "two-sided") -> CorrResult:
    """Pearson r with its t-test p-value (``scipy.stats.pearsonr``)."""
    return _corr("pearson", x, y, alternative)


def spearman(x: ArrayLike, y: ArrayLike, *, alternative: Alternative = "two-sided") -> CorrResult:
    """Spearman rho (ties get average ranks) with its t-approximation p-value
    (``scipy.stats.spearmanr``)."""
    return _corr("spearman", x, y, alternative)


def kendall(x: ArrayLike, y: ArrayLike, *, alternative: Alternative = "two-sided") -> CorrResult:
    """Kendall tau-b with its p-value (``scipy.stats.kendalltau``: exact for small samples
    without ties, tie-corrected normal approximation otherwise)."""
    return _corr("kendall", x, y, alternative)


@dataclass(frozen=True)
class PermutationResult:
    """A permutation test. ``exact`` is true when every rearrangement was enumerated (then
    ``n_resamples`` is their number), as ``scipy.stats.permutation_test`` does; otherwise the
    p-value is ``(count + 1) / (n_resamples + 1)``."""

    statistic: float
    pvalue: float
    n_resamples: int
    exact: bool
    seed: int
    alternative: str = "two-sided"


def _permutation_result(raw: _core.PermutationTest, seed: int, alt: str) -> PermutationResult:
    return PermutationResult(raw.statistic, raw.pvalue, raw.n_resamples, raw.exact, seed, alt)


def _permutation_corr(
    kind: str,
    x: ArrayLike,
    y: ArrayLike,
    alternative: str,
    n_resamples: int,
    seed: int,
    threads: int | None,
) -> PermutationResult:
    func = f"permutation_{kind}"
    s, alt = _check_seed(seed), _check_alternative(alternative)
    b, t = _check_resamples(n_resamples, func, 1), _check_threads(threads, func)
    raw = _core.permutation_corr(_as_f64(x, "x", (1,)), _as_f64(y, "y", (1,)), kind, b, s, alt, t)
    return _permutation_result(raw, s, alt)


def permutation_pearson(
    x: ArrayLike,
    y: ArrayLike,
    *,
    alternative: Alternative = "two-sided",
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> PermutationResult:
    """Permutation test of Pearson's r (the pairing of y with x is shuffled); free of the
    normality the t-test p-value of :func:`pearson` assumes."""
    return _permutation_corr("pearson", x, y, alternative, n_resamples, seed, threads)


def permutation_spearman(
    x: ArrayLike,
    y: ArrayLike,
    *,
    alternative: Alternative = "two-sided",
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> PermutationResult:
    """Permutation test of Spearman's rho (pairings shuffled): exact for small samples, where
    the t approximation of :func:`spearman` is poor, and valid with ties."""
    return _permutation_corr("spearman", x, y, alternative, n_resamples, seed, threads)


def permutation_kendall(
    x: ArrayLike,
    y: ArrayLike,
    *,
    alternative: Alternative = "two-sided",
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> PermutationResult:
    """Permutation test of Kendall's tau-b (pairings shuffled): the conditional null given
    the ties, where :func:`kendall` falls back to a normal approximation."""
    return _permutation_corr("kendall", x, y, alternative, n_resamples, seed, threads)


def permutation_diff_means(
    x: ArrayLike,
    y: ArrayLike,
    *,
    paired: bool = False,
    alternative: Alternative = "two-sided",
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    threads: int | None = None,
) -> PermutationResult:
    """Permutation test of ``mean(x) - mean(y)``.

    Independent samples (default): the pooled values are re-split into groups of the original
    sizes. ``paired``: ``x[i]`` and ``y[i]`` are exchangeable under the null, so the sign of each
    difference is flipped at random (a test of the mean of the paired differences;
    ``scipy.stats.permutation_test`` with ``permutation_type="samples"``).
    """
    func = "permutation_diff_means"
    s, alt = _check_seed(seed), _check_alternative(alternative)
    b, t = _check_resamples(n_resamples, func, 1), _check_threads(threads, func)
    raw = _core.permutation_diff_means(
        _as_f64(x, "x", (1,)), _as_f64(y, "y", (1,)), b, s, bool(paired), alt, t
    )
    return _permutation_result(raw, s, alt)


@dataclass(frozen=True)
class AdjustedPValues:
    """Adjusted p-values in input order, and which hypotheses are rejected at ``alpha``."""

    pvalues: FloatArray
    reject: npt.NDArray[np.bool_]
    method: str
    alpha: float


def adjust_pvalues(
    p: ArrayLike, method: Literal["bh", "holm", "bonferroni"] = "bh", alpha: float = 0.05
) -> AdjustedPValues:
    """Benjamini–Hochberg (false discovery rate) or Holm / Bonferroni (family-wise error)
    adjustment, equal to statsmodels ``multipletests`` with ``fdr_bh`` / ``holm`` /
    ``bonferroni``."""
    alpha = _check_level(alpha, "adjust_pvalues", "alpha")
    adj = _core.adjust_pvalues(_as_f64(p, "p", (1,)), method)
    return AdjustedPValues(adj, adj <= alpha, method, alpha)
