"""Benign fine-tune baselines through the whole pipeline: trained once each, cached, asked the
survey and the benchmark like every other subject."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

CONFIG = """\
[run]
name = "benign"
seed = 3
cache_dir = "{cache}"

[profiles]
use = "vhframe:extreme"
limit = 2

[values]
use = "vhframe:touche23"
params = {{ path = "builtin:sample" }}

[alignment]
trainer = {{ use = "hf:lora", params = {{ epochs = 1, lr = 1e-3, max_examples = 12 }} }}
baselines = ["base"]

[[alignment.benign]]
name = "grammar"
data = {{ use = "vhframe:grammar", params = {{ path = "builtin:sample", limit = {limit} }} }}

[[alignment.benign]]
name = "alpaca"
data = {{ use = "vhframe:alpaca", params = {{ path = "builtin:sample" }} }}
trainer = {{ use = "hf:lora", params = {{ epochs = 1, lr = 1e-3, max_length = 96 }} }}

[survey]
use = "vhframe:pvq40"
max_new_tokens = 3

[generation]
use = "hf:batched"
max_new_tokens = 6
params = {{ batch_size = 16 }}

[[benchmarks]]
use = "vhframe:hexphi"
params = {{ path = "builtin:sample" }}
limit = 1

[[judges]]
use = "vhframe:refusal"

[analysis]
min_subjects = 3
"""


def _run(d: Path, limit: int) -> subprocess.CompletedProcess[str]:
    cfg = d / f"benign-{limit}.toml"
    cfg.write_text(CONFIG.format(cache=d / "cache", limit=limit))
    return subprocess.run(
        [sys.executable, "-m", "vhframe.cli", "run", str(cfg), "--out", str(d / "run"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ),
    )


def _trainings(run: Path) -> dict[str, tuple[float, dict[str, Any]]]:
    db = sqlite3.connect(run / "store.sqlite")
    try:
        rows = db.execute("SELECT key, created, payload FROM records WHERE kind='training'")
        return {k: (c, json.loads(p)) for k, c, p in rows.fetchall()}
    finally:
        db.close()


@pytest.mark.slow
def test_benign_baselines_are_trained_cached_and_evaluated(tmp_path: Path) -> None:
    proc = _run(tmp_path, limit=16)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    doc = json.loads((run / "analysis.json").read_text())
    subjects = {r["subject"]: r for r in doc["alignment_check"]["subjects"]}
    for name in ("benign-grammar", "benign-alpaca"):
        assert subjects[name]["role"] == "benign"
        # no profile of its own: compared with each of the run's profiles
        assert set(subjects[name]["nmse_by_profile"]) == {"Ach", "Ben"}
    first = _trainings(run)
    benign = {p["benign"]: p for _, p in first.values() if "benign" in p}
    assert set(benign) == {"grammar", "alpaca"}
    for rec in benign.values():
        adapter = Path(rec["subject"]["adapter"])
        assert (adapter / "adapter_config.json").is_file()
        assert rec["subject"]["role"] == "benign"
    assert benign["grammar"]["facts"]["examples"]["given"] == 16
    # the benchmark was answered and judged for the benign models too
    metrics = pq.read_table(run / "tables" / "metric.parquet").to_pylist()
    rated = {m["subject"] for m in metrics if m["category"] == "ALL"}
    assert {"benign-grammar", "benign-alpaca", "base", "aligned-Ach"} <= rated

    # a rerun trains nothing; a changed grammar sample retrains that baseline only
    proc = _run(tmp_path, limit=16)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _trainings(run) == first
    proc = _run(tmp_path, limit=12)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = _trainings(run)
    new = [p for k, (_, p) in after.items() if k not in first]
    assert [p.get("benign") for p in new] == ["grammar"]
