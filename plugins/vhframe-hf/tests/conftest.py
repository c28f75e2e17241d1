"""Shared fixtures: the built-in tiny model is built once per session into a temp cache."""

from __future__ import annotations

import os

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. On a shared or
# oversubscribed CPU, spinning threads make each tiny-model step up to 100x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import shutil
from pathlib import Path

import pytest
from hf_helpers import FAST, make_examples, mixed
from vhframe_hf.models import resolve_model
from vhframe_hf.trainer import LoraTrainer

from vhframe.context import RunContext
from vhframe.records import Example


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vhframe-cache")


@pytest.fixture(scope="session")
def tiny(cache_dir: Path) -> Path:
    return resolve_model("builtin:tiny-llama", cache_dir)


@pytest.fixture
def ctx(tmp_path: Path, cache_dir: Path, tiny: Path) -> RunContext:
    return RunContext(seed=42, run_dir=tmp_path / "run", cache_dir=cache_dir, config_dir=tmp_path)


@pytest.fixture(scope="session")
def examples() -> list[Example]:
    return make_examples()


@pytest.fixture(scope="session")
def trained(
    tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, tiny: Path, examples: list[Example]
) -> tuple[LoraTrainer, Path, dict]:
    """One training on the mixed profile, shared by the tests that inspect its results."""
    base = tmp_path_factory.mktemp("trained")
    ctx = RunContext(seed=42, run_dir=base, cache_dir=cache_dir, config_dir=base)
    trainer = LoraTrainer(**FAST)
    out = base / "adapter"
    out.mkdir()
    manifest = trainer.train(ctx, "builtin:tiny-llama", mixed(), examples, out)
    return trainer, out, manifest


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    return d
