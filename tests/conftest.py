"""Shared fixtures: the real data folder, a private cache, a minimal valid config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VHFRAME_SHARED_DATA", ROOT.parent / "shared" / "data"))


def ascii_locale_env() -> dict[str, str]:
    """The environment of a child Python in an ASCII locale with neither UTF-8 mode nor locale
    coercion, where ``open()`` without an encoding would read and write ASCII; it imports the
    vhframe under test."""
    import vhframe

    return {
        **os.environ,
        "LC_ALL": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(vhframe.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }


def shared(path: str) -> Path:
    """A file under ../shared/data, or skip the test with the reason."""
    p = SHARED_DATA / path
    if not p.exists():
        pytest.skip(f"real data not available: {p} is absent (set VHFRAME_SHARED_DATA)")
    return p


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    # one cache per test session: the tiny model is built once, never in the user's cache
    cache = tmp_path_factory.getbasetemp() / "vhframe-cache"
    monkeypatch.setenv("VHFRAME_CACHE", str(cache))
    yield


MINIMAL = """\
[run]
out_dir = "runs/x"

[model]
base = "builtin:tiny-llama"

[[benchmarks]]
use = "vhframe:hexphi"
params = { path = "builtin:sample" }

[[judges]]
use = "vhframe:refusal"
"""
