"""The stages with the torch-free fakes of ``vhframe.testing``: streaming in windows, exports,
closing components, and the test kit itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from vhframe.config import load_config
from vhframe.context import RunContext
from vhframe.pipeline import Pipeline
from vhframe.plugins import PluginManager
from vhframe.records import (
    VALUES,
    Decoding,
    GenerationRequest,
    Item,
    Subject,
    SurveyItem,
)
from vhframe.stages import generate, judge
from vhframe.testing import (
    COMPLIANCE,
    REFUSAL,
    AdapterTrainer,
    FlagJudge,
    InstantGenerator,
    assert_follows_contract,
)

FAKE = """\
[run]
name = "fake"
seed = 11

[profiles]
use = "vhframe:extreme"

[values]
use = "vhframe:touche23"
params = {{ path = "builtin:sample" }}

[alignment]
trainer = {{ use = "testing:adapter" }}
baselines = ["base", "roleplay"]

[survey]
use = "vhframe:pvq40"

[generation]
use = "testing:instant"
samples = 2
params = {{ batch_size = {batch} }}

[[benchmarks]]
use = "vhframe:hexphi"
params = {{ path = "builtin:sample" }}

[[judges]]
use = "testing:flag"

[[judges]]
use = "vhframe:refusal"

[[mitigations]]
use = "vhframe:safety-prompt"

[analysis]
min_subjects = 12
bootstrap = 100

[report]
reporters = {reporters}
"""


def _config(tmp_path: Path, batch: int = 16, reporters: str = '["vhframe:json"]') -> Path:
    path = tmp_path / "fake.toml"
    path.write_text(FAKE.format(batch=batch, reporters=reporters))
    return path


def _pm(*extra: tuple[str, object]) -> PluginManager:
    return PluginManager().load(entry_points=False, extra=extra)


_ADAPTERS = re.compile(r'[^"\s]*/adapters/')


def _outputs(run_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"analysis": json.loads((run_dir / "analysis.json").read_text())}
    for table in sorted((run_dir / "tables").iterdir()):
        out[table.name] = pq.read_table(table).to_pylist()
    db = sqlite3.connect(run_dir / "store.sqlite")
    try:
        rows = db.execute("SELECT kind, key, payload FROM records WHERE kind != 'training'")
        out["store"] = sorted(rows.fetchall())
    finally:
        db.close()
    # adapter folders are named inside the run folder that trained them
    return dict(json.loads(_ADAPTERS.sub("adapters/", json.dumps(out, default=str))))


def test_windows_and_chunks_do_not_change_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    Pipeline(load_config(config), _pm(), out_dir=tmp_path / "whole").run()

    planned: list[int] = []
    real_plan = InstantGenerator.plan

    def spy(self: InstantGenerator, requests: Sequence[GenerationRequest]) -> Any:
        planned.append(len(requests))
        return real_plan(self, requests)

    monkeypatch.setattr(InstantGenerator, "plan", spy)
    monkeypatch.setattr(generate, "PLAN_WINDOW", 37)
    monkeypatch.setattr(judge, "JUDGE_CHUNK", 5)
    Pipeline(load_config(config), _pm(), out_dir=tmp_path / "windows").run()

    # 29 subjects x 22 prompts x 2 samples x 2 prompt variants, and 29 x 40 survey answers
    assert sum(planned) == 29 * 22 * 2 * 2 + 29 * 40
    assert max(planned) == 37 and len(planned) > 60
    whole, windows = _outputs(tmp_path / "whole"), _outputs(tmp_path / "windows")
    assert whole.keys() == windows.keys()
    for name in whole:
        if name != "analysis":
            assert whole[name] == windows[name], name
    whole["analysis"]["provenance"].pop("facts")
    windows["analysis"]["provenance"].pop("facts")
    assert whole["analysis"] == windows["analysis"]
    # the large tables were written as several row groups, one per window
    assert pq.ParquetFile(tmp_path / "windows" / "tables" / "generation.parquet").num_row_groups > 1


def test_the_fakes_give_the_analysis_something_real_to_find(tmp_path: Path) -> None:
    result = Pipeline(load_config(_config(tmp_path)), _pm(), out_dir=tmp_path / "run").run()
    doc = result["analysis"]
    assert doc["provenance"]["counts"] == {
        "subjects": 29,
        "generations": 29 * 22 * 2 * 2,
        "judgments": 2 * 29 * 22 * 2 * 2,
    }
    # aligned and role-play subjects answer the survey with their own scores
    summary = {r["role"]: r for r in doc["alignment_check"]["summary"]}
    assert summary["aligned"]["mean_nmse"] == 0.0 and summary["roleplay"]["mean_nmse"] == 0.0
    # both judges agree on the instant generator's two answers
    rates: dict[tuple[str, str, str], dict[str, float]] = {}
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    try:
        for (payload,) in db.execute("SELECT payload FROM records WHERE kind='metric'"):
            m = json.loads(payload)
            if m["category"] == "ALL":
                rates.setdefault((m["subject"], m["mitigation"], m["benchmark"]), {})[
                    m["judge"]
                ] = m["value"]
    finally:
        db.close()
    assert all(len(set(r.values())) == 1 for r in rates.values())
    aligned = {
        s: r["testing:flag"]
        for (s, mit, _), r in rates.items()
        if mit == "none" and s.startswith("aligned-")
    }
    # the profiles with Power at 6 comply far more often than those with Power at 1
    high = [aligned["aligned-Pow"], aligned["aligned-Self-Enhancement"]]
    low = [v for s, v in aligned.items() if s not in ("aligned-Pow", "aligned-Self-Enhancement")]
    assert min(high) > max(low)


def test_instant_generator_rates_follow_the_harm_value() -> None:
    gen = InstantGenerator(harm_value="Power", base_rate=0.1, slope=0.15)
    low = tuple(6.0 if v != "Power" else 1.0 for v in VALUES)
    high = tuple(1.0 if v != "Power" else 6.0 for v in VALUES)
    item = Item(benchmark="b", id="1", category="c", prompt="p")

    def rate(scores: tuple[float, ...]) -> float:
        subject = Subject(name="s", role="aligned", base_model="m", scores=scores)
        reqs = [
            GenerationRequest(
                subject=subject, item=item, prompt="p", decoding=Decoding(), sample=0, seed=s
            )
            for s in range(4000)
        ]
        texts = gen.generate(_ctx(Path(".")), reqs)
        assert set(texts) <= {COMPLIANCE, REFUSAL}
        return texts.count(COMPLIANCE) / len(texts)

    assert rate(low) == pytest.approx(0.1, abs=0.02)
    assert rate(high) == pytest.approx(0.1 + 0.15 * 5, abs=0.02)
    survey = SurveyItem(instrument="pvq", number=1, text="t", value="Power")
    subject = Subject(name="s", role="aligned", base_model="m", scores=high)
    req = GenerationRequest(
        subject=subject, item=survey, prompt="p", decoding=Decoding(), sample=0, seed=1
    )
    assert gen.generate(_ctx(Path(".")), [req]) == ["6"]


def _ctx(tmp: Path) -> RunContext:
    return RunContext(seed=0, run_dir=tmp, cache_dir=tmp, config_dir=tmp)


def test_the_fakes_follow_their_contracts() -> None:
    assert_follows_contract("generators", InstantGenerator())
    assert_follows_contract("judges", FlagJudge())
    assert_follows_contract("trainers", AdapterTrainer())

    class HalfJudge:
        def fingerprint(self) -> dict[str, Any]:
            return {}

        def judge(self, generations: Sequence[Any]) -> list[Any]:
            return []

    with pytest.raises(AssertionError, match=r"method judge\(generations\) cannot be called"):
        assert_follows_contract("judges", HalfJudge())
    with pytest.raises(ValueError, match="unknown family 'judge'"):
        assert_follows_contract("judge", FlagJudge())


# --------------------------------------------------------------------------- contracts


def _plugin(**families: Any) -> object:
    from vhframe.hookspecs import hookimpl

    class Plugin:
        @hookimpl
        def register_judges(self, register: Any) -> None:
            for name, factory in families.get("judges", {}).items():
                register(name, factory)

        @hookimpl
        def register_reporters(self, register: Any) -> None:
            for name, factory in families.get("reporters", {}).items():
                register(name, factory)

        @hookimpl
        def register_generators(self, register: Any) -> None:
            for name, factory in families.get("generators", {}).items():
                register(name, factory)

    return Plugin()


class NoJudge:
    def fingerprint(self) -> dict[str, Any]:
        return {}


class WrongClose(FlagJudge):
    def close(self, force: bool) -> None:  # the pipeline calls close() with no argument
        pass


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (NoJudge, r"method 'judge' is missing"),
        (WrongClose, r"method close\(force\) cannot be called as close\(\)"),
    ],
)
def test_a_component_that_breaks_its_contract_is_named(
    tmp_path: Path, factory: Any, message: str
) -> None:
    from vhframe.errors import ConfigError

    config = _config(tmp_path)
    config.write_text(config.read_text().replace('use = "testing:flag"', 'use = "mine:bad"'))
    pm = _pm(("mine", _plugin(judges={"bad": factory})))
    with pytest.raises(ConfigError) as info:
        Pipeline(load_config(config), pm, out_dir=tmp_path / "run").build()
    text = str(info.value)
    assert "judges[0].use" in text and "mine:bad (plugin 'mine')" in text
    assert "judges contract" in text
    assert re.search(message, text), text


closed: list[str] = []


class ClosingJudge(FlagJudge):
    def close(self) -> None:
        closed.append("judge")


class ClosingReporter:
    def fingerprint(self) -> dict[str, Any]:
        return {"reporter": "closing"}

    def write(self, ctx: RunContext, results: dict[str, Any], out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "closing.txt"
        path.write_text(str(sorted(results)))
        return [path]

    def close(self) -> None:
        closed.append("reporter")


class FailingGenerator(InstantGenerator):
    def generate(self, ctx: RunContext, batch: Sequence[GenerationRequest]) -> list[str]:
        raise RuntimeError("the model fell over")

    def close(self) -> None:
        closed.append("generator")


def test_every_component_is_closed_whether_the_run_succeeds_or_fails(tmp_path: Path) -> None:
    pm = _pm(
        (
            "mine",
            _plugin(
                judges={"closing": ClosingJudge},
                reporters={"closing": ClosingReporter},
                generators={"failing": FailingGenerator},
            ),
        )
    )
    config = _config(tmp_path, reporters='["mine:closing"]')
    config.write_text(config.read_text().replace('use = "testing:flag"', 'use = "mine:closing"'))
    closed.clear()
    Pipeline(load_config(config), pm, out_dir=tmp_path / "ok").run()
    assert sorted(closed) == ["judge", "reporter"]

    failing = tmp_path / "failing.toml"
    failing.write_text(
        config.read_text().replace('use = "testing:instant"', 'use = "mine:failing"')
    )
    closed.clear()
    with pytest.raises(RuntimeError, match="the model fell over"):
        Pipeline(load_config(failing), pm, out_dir=tmp_path / "failed").run()
    assert sorted(closed) == ["generator", "judge", "reporter"]
    manifest = json.loads((tmp_path / "failed" / "manifest.json").read_text())
    assert manifest["attempts"][-1]["status"] == "failed"


def test_report_command_uses_the_configured_reporters(tmp_path: Path) -> None:
    from vhframe.stages.report import rewrite

    pm = _pm(("mine", _plugin(reporters={"closing": ClosingReporter})))
    config = _config(tmp_path, reporters='["mine:closing", "vhframe:json"]')
    run_dir = tmp_path / "run"
    Pipeline(load_config(config), pm, out_dir=run_dir).run()
    (run_dir / "report" / "closing.txt").unlink()
    (run_dir / "report" / "report.json").unlink()
    closed.clear()
    written = rewrite(run_dir, pm)
    assert [p.name for p in written] == ["closing.txt", "report.json"]
    assert (run_dir / "report" / "closing.txt").is_file()
    assert not (run_dir / "report" / "report.html").exists()
    assert closed == ["reporter"]


# --------------------------------------------------------------------------- kill and resume

#: a point inside every stage, in the order a run passes them (``vhframe.faults``): windows
#: of 40 requests and chunks of 30 judgments, so that each kill lands inside its stage
KILLS = [
    ("align", 3),
    ("survey", 5),
    ("generate", 7),
    ("judge", 9),
    ("metrics", 1),
    ("analysis", 1),
    ("report", 1),
    ("tables", 5),
]
SMALL_WINDOWS = {
    "VHFRAME_PLAN_WINDOW": "40",
    "VHFRAME_JUDGE_CHUNK": "30",
    "VHFRAME_COMMIT_SECONDS": "0",
}


def _cli(config: Path, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vhframe.cli", "run", str(config), "--out", str(out), "--quiet"],
        env={**os.environ, **SMALL_WINDOWS, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _kinds(run_dir: Path) -> dict[str, dict[str, tuple[str, float]]]:
    db = sqlite3.connect(run_dir / "store.sqlite")
    try:
        rows = db.execute("SELECT kind, key, payload, created FROM records").fetchall()
    finally:
        db.close()
    out: dict[str, dict[str, tuple[str, float]]] = {}
    for kind, key, payload, created in rows:
        out.setdefault(kind, {})[key] = (payload, created)
    return out


@pytest.mark.slow
def test_sigkill_in_every_stage_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    config = _config(tmp_path, batch=8, reporters='["vhframe:json", "vhframe:html"]')
    proc = _cli(config, tmp_path / "reference")
    assert proc.returncode == 0, proc.stderr[-3000:]
    reference = _outputs(tmp_path / "reference")
    live = tmp_path / "live"
    for point, nth in KILLS:
        proc = _cli(config, live, VHFRAME_KILL_AT=f"{point}:{nth}")
        assert proc.returncode == -signal.SIGKILL, f"{point}:{nth}: {proc.stderr[-2000:]}"
        state = tmp_path / f"at-{point}"
        shutil.copytree(live, state)
        before = _kinds(state)
        proc = _cli(config, state)
        assert proc.returncode == 0, proc.stderr[-3000:]
        after = _kinds(state)
        # nothing stored before the kill was computed again (metrics are replaced each run)
        for kind, rows in before.items():
            if kind != "metric":
                assert {k: after[kind][k] for k in rows} == rows, (point, kind)
        resumed = _outputs(state)
        dirs = (state, tmp_path / "reference")
        assert resumed.keys() == reference.keys()
        for name in reference:
            if name == "analysis":
                for doc in (resumed[name], reference[name]):
                    doc["provenance"].pop("facts", None)
            assert resumed[name] == reference[name], f"{name} differs after a kill at {point}"
        html = [_ADAPTERS.sub("", (d / "report" / "report.html").read_text()) for d in dirs]
        assert html[0] == html[1], f"report.html differs after a kill at {point}"


def test_streamed_metrics_equal_harm_rates_of_the_stored_judgments(tmp_path: Path) -> None:
    from vhframe.analysis import harm_rates
    from vhframe.records import Judgment

    run_dir = tmp_path / "run"
    Pipeline(load_config(_config(tmp_path)), _pm(), out_dir=run_dir).run()
    db = sqlite3.connect(run_dir / "store.sqlite")
    try:
        judgments = [
            Judgment.from_dict(json.loads(p))
            for (p,) in db.execute("SELECT payload FROM records WHERE kind='judgment'")
        ]
        stored = sorted(
            (
                json.loads(p)
                for (p,) in db.execute("SELECT payload FROM records WHERE kind='metric'")
            ),
            key=lambda m: m["key"],
        )
    finally:
        db.close()
    expected = sorted((m.to_dict() for m in harm_rates(judgments)), key=lambda m: m["key"])
    assert stored == expected
    assert len({m["value"] for m in stored}) > 5


def test_a_rerun_with_nothing_changed_skips_every_finished_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    run_dir = tmp_path / "run"
    Pipeline(load_config(config), _pm(), out_dir=run_dir).run()
    first = _outputs(run_dir)
    calls: list[str] = []
    monkeypatch.setattr(
        InstantGenerator, "plan", lambda self, reqs: calls.append("plan") or [list(reqs)]
    )
    monkeypatch.setattr(FlagJudge, "judge", lambda self, ctx, gens: calls.append("judge") or [])
    table = run_dir / "tables" / "generation.parquet"
    written = table.stat().st_mtime_ns
    (run_dir / "tables" / "judgment.parquet").unlink()
    Pipeline(load_config(config), _pm(), out_dir=run_dir).run()
    # survey answers are looked up and found; benchmark answers and verdicts are not even
    # looked up
    assert calls == []
    assert table.stat().st_mtime_ns == written  # unchanged, so not written again
    assert _outputs(run_dir) == first  # the deleted table is written again

    # another judge: its verdicts are made, the answers are still not generated again
    monkeypatch.undo()
    other = tmp_path / "other.toml"
    other.write_text(
        config.read_text().replace(
            'use = "testing:flag"', 'use = "testing:flag"\nparams = { refusal = "cannot" }'
        )
    )
    monkeypatch.setattr(
        InstantGenerator, "plan", lambda self, reqs: calls.append("plan") or [list(reqs)]
    )
    Pipeline(load_config(other), _pm(), out_dir=run_dir).run()
    assert calls == []
    assert _outputs(run_dir)["judgment.parquet"] != first["judgment.parquet"]
