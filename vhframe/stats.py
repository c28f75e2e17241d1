"""Statistics for vhframe: the typed Python face of the Rust kernels in ``vhframe._core``.

Arrays go in as numpy (converted to contiguous float64 without a copy when they already are),
results come out as frozen dataclasses. Invalid input (NaN/inf, mismatched lengths, too few
observations, singular designs, constant input) raises ``ValueError`` with a specific message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as _sps

from vhframe import _core

__all__ = ["OLSResult", "ols"]

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
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
        q = float(_sps.t.ppf(0.5 + level / 2.0, self.df_resid))
        return self.coef - q * self.se, self.coef + q * self.se


def ols(X: ArrayLike, Y: ArrayLike, names: Sequence[str] | None = None) -> OLSResult:
    """Fit ``Y[:, k] = b0 + X @ b + e`` by least squares for every response column ``k``.

    ``X`` is ``(n, p)`` (a 1-D ``X`` is one predictor); ``Y`` is ``(n,)`` or ``(n, m)``.
    ``names`` labels the predictors (default ``x1..xp``). Equal to statsmodels
    ``OLS(y, add_constant(X)).fit()`` for each response.
    """
    x = _as_f64(X, "X", (1, 2))
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    y = _as_f64(Y, "Y", (1, 2))
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    p = x.shape[1]
    labels = [f"x{j + 1}" for j in range(p)] if names is None else [str(s) for s in names]
    coef, se, t, pv, r2, adj, f, f_p, n, df_resid, df_model = _core.ols(x, y, labels)
    return OLSResult(
        terms=("const", *labels),
        coef=coef,
        se=se,
        t=t,
        p=pv,
        r2=r2,
        adj_r2=adj,
        f=f,
        f_p=f_p,
        n=int(n),
        df_resid=int(df_resid),
        df_model=int(df_model),
    )
