"""The shipped example configs stay valid, and the paper config plans the study's size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, shared

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("vhframe_hf", reason="the vhframe-hf plugin is not installed")


def _vhframe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vhframe.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=dict(os.environ),
    )


def test_quickstart_config_validates() -> None:
    proc = _vhframe("validate", "examples/quickstart.toml")
    assert proc.returncode == 0, proc.stderr


def test_paper_config_plans_the_full_study() -> None:
    shared("profiles/ess.csv")
    if SHARED_DATA.resolve() != (ROOT.parent / "shared" / "data").resolve():
        pytest.skip("the paper config's data paths assume ../shared/data beside the checkout")
    proc = _vhframe("run", "examples/paper.toml", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    flat = " ".join(proc.stdout.split())
    # 154 profiles and VIM trainings + 1 benign; 154 aligned + 154 role-play + base + benign
    # subjects; (330 + 700) prompts x 310 subjects x 2 prompt variants; 40 survey items each
    for fragment in (
        "profiles │ 154",
        "trainings │ 155",
        "subjects │ 310",
        "items: vhframe:hexphi │ 330",
        "items: vhframe:beavertails │ 700",
        "generations │ 638600",
        "judgments │ 638600",
        "survey │ 40 items, 12400 answers",
    ):
        assert fragment in flat, (fragment, flat)
