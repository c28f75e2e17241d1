"""What every plugin object receives about the run it serves."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ProgressFn = Callable[[int], None]


@dataclass
class RunContext:
    """Run-wide settings and services handed to plugin objects.

    ``seed`` is the run's seed; plugins derive their own seeds from it and the content key of
    the unit they work on (``derive_seed``) so that results do not depend on scheduling.
    ``cache_dir`` holds artefacts shared between runs (built models); ``run_dir`` is this run's.
    ``config_dir`` is where relative paths in the config resolve from.
    """

    seed: int
    run_dir: Path
    cache_dir: Path
    config_dir: Path
    device: str = "cpu"
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("vhframe"))
    # Values recorded in the manifest (e.g. which attention kernel ran); plugins add to it.
    facts: dict[str, Any] = field(default_factory=dict)

    def resolve(self, path: str | Path) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.config_dir / p)


def derive_seed(seed: int, key: str) -> int:
    """A 31-bit seed from the run seed and a hex content key, independent of order of work."""
    return (int(key[:15], 16) ^ (seed * 0x9E3779B1)) & 0x7FFFFFFF
