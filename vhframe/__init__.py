"""vhframe: measure the unintended harms of value-aligned language models."""

from __future__ import annotations

import importlib.metadata as _md

from vhframe.context import RunContext, derive_seed
from vhframe.hookspecs import hookimpl
from vhframe.records import VALUE_GROUPS, VALUES

try:
    __version__ = _md.version("vhframe")
except _md.PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"

__all__ = ["VALUES", "VALUE_GROUPS", "RunContext", "__version__", "derive_seed", "hookimpl"]
