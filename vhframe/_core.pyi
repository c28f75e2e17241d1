"""Typed stub of the Rust extension ``vhframe._core``.

CI checks it against the compiled extension with ``python -m mypy.stubtest vhframe._core``.
"""

from typing import Self, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_THREADS",
    "SCAN_UNICODE_VERSION",
    "Correlation",
    "GroupIntervals",
    "Interval",
    "OlsBootstrap",
    "OlsFit",
    "PermutationTest",
    "PhrasePattern",
    "ScanMatcher",
    "ScanScores",
    "StatsEngines",
    "Toxicity",
    "__version__",
    "_stats_engines",
    "adjust_pvalues",
    "bootstrap_corr",
    "bootstrap_diff_means",
    "bootstrap_groups",
    "bootstrap_mean",
    "bootstrap_ols",
    "bootstrap_proportion",
    "kendall",
    "ols",
    "pearson",
    "permutation_corr",
    "permutation_diff_means",
    "scan_arrow",
    "scan_pattern",
    "scan_texts",
    "scan_tokenize",
    "spearman",
    "toxicity_groups",
    "toxicity_matrix",
]

__version__: str

# --- stats

_F64 = npt.NDArray[np.float64]
_U32 = npt.NDArray[np.uint32]

#: The most worker threads a call may ask for.
MAX_THREADS: int

# Results are frozen classes of the extension: read-only fields, no constructor.

@final
class StatsEngines:
    @property
    def engine(self) -> str: ...
    @property
    def isa(self) -> str: ...

@final
class Interval:
    @property
    def estimate(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def se(self) -> float: ...

@final
class OlsFit:
    # per-term arrays (responses, terms), intercept first; per-response arrays (responses,)
    @property
    def coef(self) -> _F64: ...
    @property
    def se(self) -> _F64: ...
    @property
    def t(self) -> _F64: ...
    @property
    def p(self) -> _F64: ...
    @property
    def r2(self) -> _F64: ...
    @property
    def adj_r2(self) -> _F64: ...
    @property
    def f(self) -> _F64: ...
    @property
    def f_p(self) -> _F64: ...
    @property
    def n(self) -> int: ...
    @property
    def df_resid(self) -> int: ...
    @property
    def df_model(self) -> int: ...

@final
class OlsBootstrap:
    @property
    def fit(self) -> OlsFit: ...
    @property
    def low(self) -> _F64: ...
    @property
    def high(self) -> _F64: ...
    @property
    def se(self) -> _F64: ...
    @property
    def redrawn(self) -> int: ...

@final
class Correlation:
    @property
    def statistic(self) -> float: ...
    @property
    def pvalue(self) -> float: ...

@final
class GroupIntervals:
    @property
    def n(self) -> npt.NDArray[np.uint64]: ...
    @property
    def estimate(self) -> _F64: ...
    @property
    def low(self) -> _F64: ...
    @property
    def high(self) -> _F64: ...
    @property
    def se(self) -> _F64: ...

@final
class Toxicity:
    @property
    def expected_max(self) -> Interval: ...
    @property
    def probability(self) -> Interval: ...
    @property
    def n_prompts(self) -> int: ...

@final
class PermutationTest:
    @property
    def statistic(self) -> float: ...
    @property
    def pvalue(self) -> float: ...
    @property
    def n_resamples(self) -> int: ...
    @property
    def exact(self) -> bool: ...

def _stats_engines() -> StatsEngines: ...
def ols(x: _F64, y: _F64, names: list[str] | None = None) -> OlsFit: ...
def bootstrap_ols(
    x: _F64,
    y: _F64,
    names: list[str] | None,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> OlsBootstrap: ...
def pearson(x: _F64, y: _F64, alternative: str = "two-sided") -> Correlation: ...
def spearman(x: _F64, y: _F64, alternative: str = "two-sided") -> Correlation: ...
def kendall(x: _F64, y: _F64, alternative: str = "two-sided") -> Correlation: ...
def adjust_pvalues(p: _F64, method: str) -> _F64: ...
def bootstrap_mean(
    x: _F64, n_resamples: int, level: float, method: str, seed: int, threads: int | None = None
) -> Interval: ...
def bootstrap_proportion(
    x: _F64, n_resamples: int, level: float, method: str, seed: int, threads: int | None = None
) -> Interval: ...
def bootstrap_diff_means(
    x: _F64,
    y: _F64,
    paired: bool,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> Interval: ...
def bootstrap_groups(
    values: _F64,
    codes: _U32,
    n_groups: int,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> GroupIntervals: ...
def toxicity_matrix(
    scores: _F64,
    threshold: float,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> Toxicity: ...
def toxicity_groups(
    scores: _F64,
    codes: _U32,
    n_prompts: int,
    threshold: float,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> Toxicity: ...
def bootstrap_corr(
    x: _F64,
    y: _F64,
    kind: str,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> Interval: ...
def permutation_corr(
    x: _F64,
    y: _F64,
    kind: str,
    n_resamples: int,
    seed: int,
    alternative: str = "two-sided",
    threads: int | None = None,
) -> PermutationTest: ...
def permutation_diff_means(
    x: _F64,
    y: _F64,
    n_resamples: int,
    seed: int,
    paired: bool = False,
    alternative: str = "two-sided",
    threads: int | None = None,
) -> PermutationTest: ...

# --- scan
_I64 = npt.NDArray[np.int64]

SCAN_UNICODE_VERSION: str

# a Rust class that Python code cannot subclass
@final
class ScanMatcher:
    def __new__(cls, lexicons: list[list[str]], skip_weak: list[bool] | None = None) -> Self: ...
    @property
    def n_lexicons(self) -> int: ...
    @property
    def vocabulary_size(self) -> int: ...

@final
class ScanScores:
    # (lexicons, texts)
    @property
    def count(self) -> _I64: ...
    @property
    def first(self) -> _I64: ...

@final
class PhrasePattern:
    @property
    def tokens(self) -> list[str]: ...
    @property
    def gaps(self) -> list[str | None]: ...
    @property
    def weak(self) -> bool: ...

def scan_texts(
    matcher: ScanMatcher,
    texts: list[str | None] | tuple[str | None, ...],
    threads: int | None = None,
) -> ScanScores: ...
def scan_arrow(
    matcher: ScanMatcher,
    offsets: npt.NDArray[np.generic],  # int32 (string) or int64 (large_string)
    data: npt.NDArray[np.uint8],
    validity: npt.NDArray[np.uint8] | None = None,
    validity_offset: int = 0,
    threads: int | None = None,
) -> ScanScores: ...
def scan_tokenize(text: str) -> list[str]: ...
def scan_pattern(phrase: str) -> PhrasePattern: ...
