"""Fixtures: a loopback OpenAI-protocol server and a run context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_fakes import FakeServer

from vhframe.context import RunContext


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(seed=42, run_dir=tmp_path / "run", cache_dir=tmp_path / "cache",
                      config_dir=tmp_path)
