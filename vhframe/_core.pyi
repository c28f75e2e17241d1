"""Typed stub of the Rust extension ``vhframe._core``."""

__version__: str

# --- stats
import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]

def ols(
    x: _F64, y: _F64, names: list[str] | None = None
) -> tuple[_F64, _F64, _F64, _F64, _F64, _F64, _F64, _F64, int, int, int]: ...
