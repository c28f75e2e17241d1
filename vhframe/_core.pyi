"""Typed stub of the Rust extension ``vhframe._core``.

CI checks it against the compiled extension with ``python -m mypy.stubtest vhframe._core``.
"""

from typing import Self, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_THREADS",
    "SCAN_UNICODE_VERSION",
    "ScanMatcher",
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
_OLS = tuple[_F64, _F64, _F64, _F64, _F64, _F64, _F64, _F64, int, int, int]
_CI = tuple[float, float, float, float]

#: The most worker threads a call may ask for.
MAX_THREADS: int

def _stats_engines() -> tuple[str, str]: ...
def ols(x: _F64, y: _F64, names: list[str] | None = None) -> _OLS: ...
def bootstrap_ols(
    x: _F64,
    y: _F64,
    names: list[str] | None,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> tuple[_OLS, _F64, _F64, _F64, int]: ...
def pearson(x: _F64, y: _F64, alternative: str = "two-sided") -> tuple[float, float]: ...
def spearman(x: _F64, y: _F64, alternative: str = "two-sided") -> tuple[float, float]: ...
def kendall(x: _F64, y: _F64, alternative: str = "two-sided") -> tuple[float, float]: ...
def adjust_pvalues(p: _F64, method: str) -> _F64: ...
def bootstrap_mean(
    x: _F64, n_resamples: int, level: float, method: str, seed: int, threads: int | None = None
) -> _CI: ...
def bootstrap_proportion(
    x: _F64, n_resamples: int, level: float, method: str, seed: int, threads: int | None = None
) -> _CI: ...
def bootstrap_diff_means(
    x: _F64,
    y: _F64,
    paired: bool,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> _CI: ...
def bootstrap_groups(
    values: _F64,
    codes: _U32,
    n_groups: int,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> tuple[npt.NDArray[np.uint64], _F64, _F64, _F64, _F64]: ...
def toxicity_matrix(
    scores: _F64,
    threshold: float,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> tuple[_CI, _CI, int]: ...
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
) -> tuple[_CI, _CI, int]: ...
def bootstrap_corr(
    x: _F64,
    y: _F64,
    kind: str,
    n_resamples: int,
    level: float,
    method: str,
    seed: int,
    threads: int | None = None,
) -> _CI: ...
def permutation_corr(
    x: _F64,
    y: _F64,
    kind: str,
    n_resamples: int,
    seed: int,
    alternative: str = "two-sided",
    threads: int | None = None,
) -> tuple[float, float, int, bool]: ...
def permutation_diff_means(
    x: _F64,
    y: _F64,
    n_resamples: int,
    seed: int,
    paired: bool = False,
    alternative: str = "two-sided",
    threads: int | None = None,
) -> tuple[float, float, int, bool]: ...

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

def scan_texts(
    matcher: ScanMatcher,
    texts: list[str | None] | tuple[str | None, ...],
    threads: int | None = None,
) -> tuple[_I64, _I64]: ...
def scan_arrow(
    matcher: ScanMatcher,
    offsets: npt.NDArray[np.generic],  # int32 (string) or int64 (large_string)
    data: npt.NDArray[np.uint8],
    validity: npt.NDArray[np.uint8] | None = None,
    validity_offset: int = 0,
    threads: int | None = None,
) -> tuple[_I64, _I64]: ...
def scan_tokenize(text: str) -> list[str]: ...
def scan_pattern(phrase: str) -> tuple[list[str], list[str | None], bool]: ...
