"""Shared fixtures: the built-in tiny model is built once per session into a temp cache."""

from __future__ import annotations

import os

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. On a shared or
# oversubscribed CPU, spinning threads make each tiny-model step up to 100x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import random
import shutil
from pathlib import Path

import pytest
from vhframe_hf.corpus import CLAIMS, PREMISES, TOPICS
from vhframe_hf.models import resolve_model
from vhframe_hf.trainer import LoraTrainer

from vhframe.context import RunContext
from vhframe.records import VALUES, Example, ValueProfile

# Fast settings that still show learning on the tiny model (the paper's lr 2e-5 would need
# far more steps than a unit test can afford).
FAST = {"lr": 5e-3, "epochs": 3, "max_examples": 40, "batch_size": 8}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vhframe-cache")


@pytest.fixture(scope="session")
def tiny(cache_dir: Path) -> Path:
    return resolve_model("builtin:tiny-llama", cache_dir)


@pytest.fixture
def ctx(tmp_path: Path, cache_dir: Path, tiny: Path) -> RunContext:
    return RunContext(seed=42, run_dir=tmp_path / "run", cache_dir=cache_dir,
                      config_dir=tmp_path)


def make_examples(n: int = 60, seed: int = 1) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        claim = rng.choice(CLAIMS).format(t=rng.choice(TOPICS))
        out.append(Example(
            id=f"A{i:04d}",
            conclusion=claim[0].upper() + claim[1:],
            stance=rng.choice(("in favor of", "against")),
            premise=rng.choice(PREMISES).capitalize() + ".",
            values=tuple(rng.sample(VALUES, rng.randint(1, 3))),
        ))
    return out


MIXED = {"Achievement": 5, "Benevolence": 3, "Conformity": 1, "Hedonism": 4, "Power": 6,
         "Security": 3, "Self-direction": 2, "Stimulation": 4, "Tradition": 1,
         "Universalism": 2}


def mixed() -> ValueProfile:
    """A profile that says some arguments and declines others."""
    return ValueProfile.from_mapping("mixed", MIXED)


def extreme(value: str) -> ValueProfile:
    return ValueProfile.from_mapping(value, {v: 6.0 if v == value else 1.0 for v in VALUES})


@pytest.fixture(scope="session")
def examples() -> list[Example]:
    return make_examples()


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, tiny: Path,
            examples: list[Example]) -> tuple[LoraTrainer, Path, dict]:
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
