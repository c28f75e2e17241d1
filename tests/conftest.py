"""Shared fixtures: the real data folder, a private cache, a minimal valid config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VHFRAME_SHARED_DATA", ROOT.parent / "shared" / "data"))


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
