"""Adapter folders of trainings: private scratch folders, one-rename installs, and finding a
finished training again (unless its folder has gone missing)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from vhframe import faults
from vhframe.records import Subject
from vhframe.stages import StageRun
from vhframe.store import Store


def adapters_dir(run_dir: Path) -> Path:
    """The run's adapter folder, without what a killed training left behind."""
    adapters = run_dir / "adapters"
    adapters.mkdir(parents=True, exist_ok=True)
    for stale in adapters.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return adapters


def stored_training(store: Store, key: str) -> Subject | None:
    """The subject of a finished training, unless its adapter folder has gone missing."""
    rec = store.get("training", key)
    if rec is not None and Path(rec["subject"]["adapter"]).is_dir():
        return Subject.from_dict(rec["subject"])
    return None


def scratch_dir(adapters: Path, key: str) -> Path:
    """An empty private folder for one training; moved into place by :func:`install`."""
    tmp = adapters / f".tmp-{key[:16]}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def install(tmp: Path, final: Path) -> Path:
    """Move a finished training's folder into place in one rename."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def safe_name(name: str) -> str:
    """``name`` as a folder name: anything but letters, digits, ``-_.`` becomes ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def store_training(
    sr: StageRun,
    key: str,
    subject: Subject,
    facts: dict[str, Any],
    about: dict[str, str],
    point: str,
) -> None:
    """Store a finished training as one unit (its subject, the trainer's facts and what it was
    trained for, e.g. the profile), then pass the stage's fault point."""
    sr.store.put("training", key, {"subject": subject.to_dict(), "facts": facts, **about})
    sr.keep_facts()
    faults.point(point)
