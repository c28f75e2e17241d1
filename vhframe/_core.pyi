"""Typed stub of the Rust extension ``vhframe._core``."""

__version__: str

# --- stats
import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]

def ols(
    x: _F64, y: _F64, names: list[str] | None = None
) -> tuple[_F64, _F64, _F64, _F64, _F64, _F64, _F64, _F64, int, int, int]: ...

# --- scan
_I64 = npt.NDArray[np.int64]

SCAN_UNICODE_VERSION: str

class ScanMatcher:
    def __init__(self, lexicons: list[list[str]]) -> None: ...
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
