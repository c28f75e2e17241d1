"""Benchmark: the pipeline alone at the paper's scale, with the fake components of
``vhframe.testing`` standing in for the models.

The paper plan (``examples/paper.toml``: 154 ESS-nearest profiles, the role-play and base
baselines, a benign fine-tune, HEx-PHI and BeaverTails, with and without the safety prompt:
638,600 generations and as many judgments, plus 12,400 survey answers) runs with an instant
generator, a flag judge and an adapter-record trainer, so what is timed is vhframe itself:
building requests and keys, the store, the stages, the analysis and the exports. Each run is
a separate ``vhframe run`` process, timed from outside, its peak RSS read from the kernel.

Measured: a first run; a second run of the same config with everything cached; the same at
ten times the plan (every prompt sampled 10 times: 6.4 M generations); a kill in the middle
of judging at that scale, resumed, checked to have lost and duplicated nothing; and a profile
of the first run (where the per-record time goes).

    python benches/bench_pipeline.py [--scale 1,10] [--write]

``--write`` replaces the ``## Pipeline`` section of benches/RESULTS.md. Needs the real data
files (``VHFRAME_SHARED_DATA``, default ../shared/data).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import platform
import pstats
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("VHFRAME_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
RESULTS = ROOT / "benches" / "RESULTS.md"
SECTION = "## Pipeline"

CONFIG = """\
[run]
name = "paper-fakes"
seed = 42

[profiles]
use = "vhframe:ess-nearest"
params = {{ path = "{data}/profiles/ess.csv", k = 10, reading = "faithful" }}

[values]
use = "vhframe:value-table"

[values.params]
path = "{data}/value-alignment/valueEval_10.csv"
split_dir = "{data}/value-alignment/split"

[alignment]
trainer = {{ use = "testing:adapter" }}
baselines = ["base", "roleplay"]

[[alignment.benign]]
name = "grammar"
data = {{ use = "vhframe:grammar", params = {{ path = "{data}/benign/gtrain_10k.csv" }} }}

[survey]
use = "vhframe:pvq40"
params = {{ path = "{data}/pvq/pvq40.csv" }}

[generation]
use = "testing:instant"
samples = {samples}
params = {{ batch_size = 64 }}

[[benchmarks]]
use = "vhframe:hexphi"
params = {{ path = "{data}/benchmarks/hex-phi/hex-phi.csv" }}

[[benchmarks]]
use = "vhframe:beavertails"
params = {{ path = "{data}/benchmarks/beavertails-eval/BeaverTails-Evaluation.csv" }}

[[judges]]
use = "testing:flag"

[[mitigations]]
use = "vhframe:safety-prompt"

[analysis]
alpha = 0.05
bootstrap = 10000
ci_method = "bca"
adjust = "bh"
"""


def write_config(folder: Path, samples: int) -> Path:
    path = folder / f"paper-x{samples}.toml"
    path.write_text(CONFIG.format(data=DATA, samples=samples))
    return path


def timed_run(config: Path, out: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One ``vhframe run`` process: wall time, exit status and peak RSS (from ``wait4``)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vhframe.cli", "run", str(config), "--out", str(out), "-q"],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    return {
        "seconds": seconds,
        "rss_mb": usage.ru_maxrss / 1024,
        "status": os.waitstatus_to_exitcode(status),
        "stderr": err[-2000:],
    }


def counts(run_dir: Path) -> dict[str, int]:
    db = sqlite3.connect(run_dir / "store.sqlite")
    try:
        rows = db.execute("SELECT kind, COUNT(*) FROM records GROUP BY kind").fetchall()
    finally:
        db.close()
    return dict(rows)


#: adapter folders are named inside the run folder that trained them
_ADAPTERS = re.compile(r'[^"\s]*/adapters/')


def outputs(run_dir: Path) -> dict[str, Any]:
    doc = json.loads(_ADAPTERS.sub("adapters/", (run_dir / "analysis.json").read_text()))
    doc["provenance"].pop("facts", None)
    return {"analysis": doc, "metrics": _metric_rows(run_dir)}


def _metric_rows(run_dir: Path) -> list[Any]:
    import pyarrow.parquet as pq

    return sorted(
        json.dumps(r, sort_keys=True)
        for r in pq.read_table(run_dir / "tables" / "metric.parquet").to_pylist()
    )


def profile_run(config: Path, out: Path, top: int = 14) -> str:
    """The first run again, in this process under cProfile: where the time goes."""
    from vhframe.config import load_config
    from vhframe.pipeline import Pipeline
    from vhframe.plugins import get_manager

    prof = cProfile.Profile()
    pipe = Pipeline(load_config(config), get_manager(), out_dir=out)
    prof.enable()
    pipe.run()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="1,10", help="samples per prompt, comma-separated")
    ap.add_argument(
        "--kill-scale", type=int, default=10, help="scale of the kill-and-resume (0: none)"
    )
    ap.add_argument("--profile", action="store_true", help="profile the scale-1 run")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--keep", type=Path, help="keep the run folders here")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"the real data folder {DATA} is missing (set VHFRAME_SHARED_DATA)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="vhframe-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    first_runs: dict[int, dict[str, Any]] = {}
    try:
        for scale in [int(s) for s in args.scale.split(",")]:
            config = write_config(work, scale)
            out = work / f"run-x{scale}"
            shutil.rmtree(out, ignore_errors=True)
            first = timed_run(config, out)
            if first["status"] != 0:
                sys.exit(f"the run failed: {first['stderr']}")
            n = counts(out)
            again = timed_run(config, out)
            first_runs[scale] = {"first": first, "again": again, "counts": n, "out": out}
            records = n.get("generation", 0) + n.get("judgment", 0)
            rows.append((scale, n.get("generation", 0), first, again, records))
            print(
                f"x{scale}: {n.get('generation', 0):,} generations, first {first['seconds']:.1f} s "
                f"({first['rss_mb']:.0f} MB), cached {again['seconds']:.1f} s "
                f"({again['rss_mb']:.0f} MB), {1e6 * first['seconds'] / records:.1f} µs/record",
                flush=True,
            )
        kill = None
        if args.kill_scale:
            kill = kill_and_resume(work, args.kill_scale, first_runs.get(args.kill_scale))
            print(kill["summary"], flush=True)
        prof = ""
        if args.profile:
            prof = profile_run(write_config(work, 1), work / "profiled")
            print(prof)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.write:
        write_results(rows, kill, prof)


def kill_and_resume(work: Path, scale: int, reference: dict[str, Any] | None) -> dict[str, Any]:
    """Kill a run of the given scale half-way through judging, resume it, and check that every
    record is there once and the results equal an uninterrupted run's."""
    config = write_config(work, scale)
    out = work / f"killed-x{scale}"
    shutil.rmtree(out, ignore_errors=True)
    planned = reference["counts"]["generation"] if reference else None
    chunks = (planned or 638_600 * scale) // 2 // 512
    # every chunk of judgments committed on its own, so that the kill lands half-way
    killed = timed_run(
        config, out, {"VHFRAME_KILL_AT": f"judge:{chunks}", "VHFRAME_COMMIT_SECONDS": "0"}
    )
    assert killed["status"] == -signal.SIGKILL, killed["stderr"]
    at_kill = counts(out)
    resumed = timed_run(config, out)
    assert resumed["status"] == 0, resumed["stderr"]
    after = counts(out)
    same = None
    if reference is not None:
        mine, theirs = outputs(out), outputs(reference["out"])
        differing = [k for k in theirs if mine[k] != theirs[k]]
        counts_then = reference["counts"]
        differing += [f"count of {k}" for k in counts_then if after.get(k) != counts_then[k]]
        same = not differing
        if differing:
            print(f"differ after the kill: {differing}", flush=True)
    summary = (
        f"kill at x{scale}: {at_kill.get('judgment', 0):,} of {after.get('judgment', 0):,} "
        f"judgments stored at the kill; resumed in {resumed['seconds']:.1f} s "
        f"({resumed['rss_mb']:.0f} MB); records and results equal to the uninterrupted run: {same}"
    )
    return {
        "killed": killed,
        "at_kill": at_kill,
        "resumed": resumed,
        "after": after,
        "same": same,
        "summary": summary,
    }


def write_results(rows: list[Any], kill: dict[str, Any] | None, prof: str) -> None:
    lines = [
        SECTION,
        "",
        f"`benches/bench_pipeline.py`, {datetime.date.today()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| plan | generations | first run | peak RSS | cached rerun | peak RSS | µs per record |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scale, n, first, again, records in rows:
        lines.append(
            f"| paper ×{scale} | {n:,} | {first['seconds']:.1f} s | {first['rss_mb']:.0f} MB "
            f"| {again['seconds']:.1f} s | {again['rss_mb']:.0f} MB "
            f"| {1e6 * first['seconds'] / records:.1f} |"
        )
    lines += ["", kill["summary"] + "." if kill else "No kill-and-resume in this run.", ""]
    if prof:
        lines += [
            "Profile of the ×1 run (top functions by own time):",
            "",
            "```",
            prof.strip(),
            "```",
            "",
        ]
    text = RESULTS.read_text()
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip() + "\n\n" + "\n".join(lines)
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + "\n".join(lines) + ("\n" + text[end + 1 :] if end >= 0 else "")
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
