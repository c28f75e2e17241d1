"""End to end: the quick start, determinism, and kill-and-resume with SIGKILL.

These run the real pipeline with the real tiny model (built locally) in subprocesses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("vhframe_hf", reason="the vhframe-hf plugin is not installed")

SMALL = """\
[run]
name = "small"
seed = 7

[model]
base = "builtin:tiny-llama"

[profiles]
use = "vhframe:extreme"
limit = 4

[values]
use = "vhframe:touche23"
params = { path = "builtin:sample" }

[alignment]
trainer = { use = "hf:lora", params = { epochs = 1, lr = 1e-3, max_examples = 16 } }
baselines = ["base", "roleplay"]

[survey]
use = "vhframe:pvq40"
max_new_tokens = 4

[generation]
use = "hf:batched"
max_new_tokens = 12
samples = 2
params = { batch_size = 4 }

[[benchmarks]]
use = "vhframe:hexphi"
params = { path = "builtin:sample", limit = 1 }

[[judges]]
use = "vhframe:refusal"

[[mitigations]]
use = "vhframe:safety-prompt"

[analysis]
min_subjects = 3
"""


def _vhframe(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vhframe.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=dict(os.environ),
    )


def _records(run_dir: Path, kind: str) -> dict[str, Any]:
    db = sqlite3.connect(run_dir / "store.sqlite")
    try:
        rows = db.execute("SELECT key, payload FROM records WHERE kind=?", (kind,)).fetchall()
    finally:
        db.close()
    return {k: json.loads(p) for k, p in rows}


def _results(run_dir: Path) -> dict[str, Any]:
    out = {kind: _records(run_dir, kind) for kind in ("generation", "judgment", "metric")}
    trainings = _records(run_dir, "training")
    out["training"] = {k: v["facts"] for k, v in trainings.items()}
    return out


@pytest.fixture(scope="module")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cfg")
    path = d / "small.toml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def reference_run(small_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = _vhframe("run", str(small_config), "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # kept as it is: later tests run other configs into ``out``
    shutil.copytree(out, out.parent / "pristine")
    return out


@pytest.mark.slow
def test_small_run_outputs(reference_run: Path) -> None:
    gens = _records(reference_run, "generation")
    answers = _records(reference_run, "survey_answer")
    # 4 aligned + base + 4 roleplay subjects, 11 prompts, 2 samples, 2 prompt variants
    assert len(gens) == 9 * 11 * 2 * 2
    assert len(_records(reference_run, "judgment")) == len(gens)
    # every subject answered the 40 survey items once; the answers are not judged
    assert len(answers) == 9 * 40
    assert pq.read_table(reference_run / "tables" / "survey.parquet").num_rows == 9 * 40
    manifest = json.loads((reference_run / "manifest.json").read_text())
    assert manifest["attempts"][-1]["status"] == "finished"
    assert manifest["seed"] == 7 and manifest["config_hash"]
    assert manifest["torch"] and "hf" in manifest["plugins"]
    assert manifest["facts"].get("attention") in {"sdpa", "eager"}
    for kind in ("judgment", "metric", "subject", "profile", "item"):
        table = pq.read_table(reference_run / "tables" / f"{kind}.parquet")
        assert table.num_rows == len(_records(reference_run, kind))
    assert pq.read_table(reference_run / "tables" / "generation.parquet").num_rows == len(gens)
    report = (reference_run / "report" / "report.html").read_text()
    assert "Value × category" in report and "aligned subjects (4)" in report
    doc = json.loads((reference_run / "report" / "report.json").read_text())
    aligned = [a for a in doc["analyses"] if a["role"] == "aligned" and a["mitigation"] == "none"]
    assert len(aligned) == 1
    # 4 subjects cannot support 11 coefficients: the report must say so, not invent numbers
    assert "ols" in aligned[0]
    assert any(
        "skipped" in v
        for v in [aligned[0]["ols"], *aligned[0]["ols"].get("by_category", {}).values()]
    )
    assert {row["category"] for row in doc["mitigations"]} >= {"ALL"}
    check = doc["alignment_check"]
    assert check["items"] == 40 and len(check["subjects"]) == 9
    assert {r["role"] for r in check["summary"]} == {"aligned", "base", "roleplay"}
    assert len(check["by_profile"]) == 4
    assert "Alignment check" in report


@pytest.mark.slow
def test_same_seed_same_results(reference_run: Path, small_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    proc = _vhframe("run", str(small_config), "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _results(out) == _results(reference_run)


@pytest.mark.slow
def test_rerun_recomputes_nothing(reference_run: Path, small_config: Path) -> None:
    def stamps() -> dict[str, float]:
        db = sqlite3.connect(reference_run / "store.sqlite")
        try:
            return dict(
                db.execute(
                    "SELECT key, created FROM records WHERE kind IN "
                    "('generation', 'judgment', 'training')"
                ).fetchall()
            )
        finally:
            db.close()

    before = stamps()
    proc = _vhframe("run", str(small_config), "--out", str(reference_run), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert stamps() == before
    manifest = json.loads((reference_run / "manifest.json").read_text())
    assert [a["status"] for a in manifest["attempts"]] == ["finished", "finished"]


#: points inside the stages where the real model's work happens, in the order a run passes
#: them (``vhframe.faults``): a trained adapter, survey and benchmark answers from real batches,
#: verdicts on them. Every other point (metrics, analysis, report, tables) is model-independent
#: and is killed at in tests/test_stages.py with the fake components. Judgments are made 100 at
#: a time and every unit is committed on its own, so that a kill can land between two units, and
#: requests are planned 50 at a time so that every stage walks several windows.
KILLS = [
    ("align", 2),
    ("survey", 3),
    ("generate", 4),
    ("judge", 2),
]
KILL_ENV = {
    "VHFRAME_JUDGE_CHUNK": "100",
    "VHFRAME_PLAN_WINDOW": "50",
    "VHFRAME_COMMIT_SECONDS": "0",
}


def _run_killed_at(config: Path, out: Path, point: str, nth: int) -> None:
    env = {**os.environ, **KILL_ENV, "VHFRAME_KILL_AT": f"{point}:{nth}"}
    proc = subprocess.run(
        [sys.executable, "-m", "vhframe.cli", "run", str(config), "--out", str(out), "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == -signal.SIGKILL, (
        f"the run was to die at {point}:{nth} but ended with {proc.returncode}: "
        f"{proc.stderr[-3000:]}"
    )


_ADAPTER_DIR = re.compile(r'[^"\s]*/adapters/')


def _outputs(run_dir: Path) -> dict[str, Any]:
    """Everything a finished run hands its user, with adapter folders named relative to the
    run (a copied run's records point into the folder it was copied from)."""

    def norm(text: str) -> Any:
        return json.loads(_ADAPTER_DIR.sub("adapters/", text))

    out: dict[str, Any] = {
        "analysis": norm((run_dir / "analysis.json").read_text()),
        "report.json": norm((run_dir / "report" / "report.json").read_text()),
        "report.html": _ADAPTER_DIR.sub(
            "adapters/", (run_dir / "report" / "report.html").read_text()
        ),
    }
    tables = sorted(p.name for p in (run_dir / "tables").iterdir())
    out["table names"] = tables
    for name in tables:
        rows = pq.read_table(run_dir / "tables" / name).to_pylist()
        out[name] = norm(json.dumps(rows, sort_keys=True, default=str))
    kinds = ("profile", "subject", "item", "survey_answer", "generation", "judgment", "metric")
    for kind in (*kinds, "training"):
        out[f"store:{kind}"] = norm(json.dumps(_records(run_dir, kind), sort_keys=True))
    return out


def _created(run_dir: Path) -> dict[tuple[str, str], float]:
    db = sqlite3.connect(run_dir / "store.sqlite")
    try:
        rows = db.execute("SELECT kind, key, created FROM records").fetchall()
    finally:
        db.close()
    return {(kind, key): created for kind, key, created in rows}


@pytest.fixture(scope="module")
def killed_runs(small_config: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One run killed inside every stage in turn: after each kill the run folder is copied
    aside (the state a user finds after a crash at that point), then the run is started again
    to die at the next point. Each copy is resumed on its own by the tests below."""
    base = tmp_path_factory.mktemp("killed")
    live = base / "live"
    states: dict[str, Path] = {}
    for point, nth in KILLS:
        _run_killed_at(small_config, live, point, nth)
        states[point] = base / f"at-{point}"
        shutil.copytree(live, states[point])
    return states


@pytest.mark.slow
@pytest.mark.parametrize(("point", "nth"), KILLS, ids=[p for p, _ in KILLS])
def test_sigkill_then_resume_equals_uninterrupted(
    reference_run: Path, killed_runs: dict[str, Path], small_config: Path, point: str, nth: int
) -> None:
    reference = _outputs(reference_run.parent / "pristine")
    out = killed_runs[point]
    before = _created(out)
    partial = {
        kind: _records(out, kind)
        for kind in ("training", "survey_answer", "generation", "judgment")
    }
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["attempts"][-1]["status"] == "running", "the kill left no trace"
    if point in ("align", "survey", "generate", "judge"):
        # the kill landed inside the stage: some of its records are there, not all
        kind = {
            "align": "training",
            "survey": "survey_answer",
            "generate": "generation",
            "judge": "judgment",
        }[point]
        assert 0 < len(partial[kind]) < len(reference[f"store:{kind}"]), (
            f"the kill at {point}:{nth} did not land inside the stage"
        )

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vhframe.cli",
            "run",
            str(small_config),
            "--out",
            str(out),
            "--quiet",
        ],
        cwd=ROOT,
        env={**os.environ, **KILL_ENV},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    after = _created(out)
    # nothing that was stored before the kill was computed again or changed
    for kind, rows in partial.items():
        stored = _records(out, kind)
        assert {k: stored[k] for k in rows} == rows, kind
    assert {k: after[k] for k in before if k[0] != "metric"} == {
        k: t for k, t in before.items() if k[0] != "metric"
    }
    resumed = _outputs(out)
    assert resumed.keys() == reference.keys()
    for name in reference:
        assert resumed[name] == reference[name], f"{name} differs after a kill at {point}:{nth}"
    statuses = [a["status"] for a in json.loads((out / "manifest.json").read_text())["attempts"]]
    assert statuses[-1] == "finished" and statuses.count("running") >= 1
    assert not list((out / "adapters").glob(".tmp-*"))


@pytest.mark.slow
def test_dry_run_prints_the_plan(small_config: Path) -> None:
    proc = _vhframe("run", str(small_config), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    flat = " ".join(proc.stdout.split())
    assert "trainings │ 4" in flat or "trainings 4" in flat
    assert "396" in flat  # generations: 9 subjects × 11 prompts × 2 samples × 2 variants
    assert "40 items, 360 answers" in flat


@pytest.mark.slow
def test_quickstart(tmp_path: Path) -> None:
    out = tmp_path / "qs"
    proc = _vhframe("run", "examples/quickstart.toml", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "report:" in proc.stdout
    doc = json.loads((out / "report" / "report.json").read_text())
    aligned = [a for a in doc["analyses"] if a["role"] == "aligned" and a["mitigation"] == "none"]
    assert aligned and len(aligned[0]["subjects"]) == 14
    ols = aligned[0]["ols"]
    assert ols["method"]["n"] == 14
    for cat, res in ols["by_category"].items():
        assert ("coef" in res and len(res["coef"]) == 11) or "skipped" in res, cat
    assert (out / "report" / "report.html").stat().st_size > 2000
    check = {r["role"]: r for r in doc["alignment_check"]["summary"]}
    assert check["aligned"]["subjects"] == 14 and check["aligned"]["answer_rate"] > 0.9


@pytest.mark.slow
def test_changed_setting_reuses_the_store(
    reference_run: Path, small_config: Path, tmp_path: Path
) -> None:
    stored = _records(reference_run, "generation")
    cfg = tmp_path / "no-mitigation.toml"
    cfg.write_text(SMALL.replace('[[mitigations]]\nuse = "vhframe:safety-prompt"\n', ""))
    proc = _vhframe("run", str(cfg), "--out", str(reference_run), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # nothing new was generated: every unmitigated answer was already stored
    assert _records(reference_run, "generation") == stored
    table = pq.read_table(reference_run / "tables" / "generation.parquet")
    assert table.num_rows == len(stored) // 2
    assert set(table.column("mitigation").to_pylist()) == {"none"}
