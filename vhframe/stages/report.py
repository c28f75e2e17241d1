"""Reports and tables: each configured reporter writes its files from the analysis document;
the config's records are exported as Parquet tables, the large ones streamed window by
window from the store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from vhframe import faults
from vhframe.build import Builder
from vhframe.config import Config, LoadedConfig, ReportSettings
from vhframe.context import RunContext
from vhframe.errors import UserError
from vhframe.files import read_json
from vhframe.hookspecs import Closeable
from vhframe.plugins import PluginManager
from vhframe.records import Generation, Item, Judgment, Subject, ValueProfile
from vhframe.stages import StageRun, generate
from vhframe.stages.judge import fingerprints, judgment_key
from vhframe.store import flat_schema, json_table, write_parquet


def run(sr: StageRun, doc: dict[str, Any]) -> list[Path]:
    written: list[Path] = []
    for _name, reporter in sr.comps.reporters:
        written.extend(reporter.write(sr.ctx, doc, sr.ctx.run_dir / "report"))
        faults.point("report")
    return written


def tables(
    sr: StageRun,
    profiles: Sequence[ValueProfile],
    subjects: Sequence[Subject],
    items: dict[str, list[Item]],
    metrics: Sequence[Any],
    survey_rows: list[dict[str, Any]],
) -> list[Path]:
    """This config's records only: the store may also hold those of earlier configs."""

    gen_schema, judgment_schema = flat_schema(Generation), flat_schema(Judgment)

    def generations() -> Iterator[pa.Table]:
        for keys in sr.store.sequence_windows(generate.SEQUENCE, generate.PLAN_WINDOW):
            yield json_table(sr.store.get_json_ordered("generation", keys), gen_schema)

    def judgments() -> Iterator[pa.Table]:
        for _name, fp in fingerprints(sr):
            for keys in sr.store.sequence_windows(generate.SEQUENCE, generate.PLAN_WINDOW):
                raw = sr.store.get_json_ordered("judgment", [judgment_key(fp, k) for k in keys])
                yield json_table(raw, judgment_schema)

    out = sr.ctx.run_dir / "tables"
    # the two large tables are written again only when their records changed
    unchanged = {
        name
        for name, stage in (("generation", "generate"), ("judgment", "judge"))
        if (out / f"{name}.parquet").is_file()
        and sr.finished(f"table:{name}", sr.stage_keys[stage])
    }
    tables: dict[str, Any] = {
        "profile": [[p.to_dict() for p in profiles]],
        "subject": [[s.to_dict() for s in subjects]],
        "item": [[it.to_dict() for its in items.values() for it in its]],
        "generation": generations(),
        "judgment": judgments(),
        "metric": [[m.to_dict() for m in metrics]],
        "survey": [survey_rows],
    }
    written = write_parquet(out, {k: v for k, v in tables.items() if k not in unchanged})
    for name, stage in (("generation", "generate"), ("judgment", "judge")):
        if name not in unchanged:
            sr.mark_finished(f"table:{name}", sr.stage_keys[stage])
    return written + [out / f"{name}.parquet" for name in sorted(unchanged)]


def rewrite(run_dir: Path, pm: PluginManager) -> list[Path]:
    """Write a finished run's reports again from its ``analysis.json``, with the reporters its
    config names (``vhframe report``); the config is the one stored in the run's manifest."""
    doc_path = run_dir / "analysis.json"
    if not doc_path.is_file():
        raise UserError(f"{doc_path}: not found; is {run_dir} a finished run directory?")
    doc = read_json(doc_path)
    manifest_path = run_dir / "manifest.json"
    manifest = read_json(manifest_path) if manifest_path.is_file() else {}
    raw = manifest.get("config", {})
    try:
        config = Config.model_validate(raw) if raw else None
    except ValidationError as exc:
        raise UserError(f"{manifest_path}: the run's config is not valid here: {exc}") from None
    names = config.report.reporters if config else ReportSettings().reporters
    source = Path(manifest.get("config_file") or manifest_path)
    loaded = LoadedConfig(config or Config.model_construct(), source, "", raw)
    ctx = RunContext(seed=0, run_dir=run_dir, cache_dir=run_dir, config_dir=source.parent)
    builder = Builder(loaded, pm, ctx)
    written: list[Path] = []
    for i, name in enumerate(names):
        reporter = builder.create("reporters", name, f"report.reporters[{i}]")
        try:
            written.extend(reporter.write(ctx, doc, run_dir / "report"))
        finally:
            if isinstance(reporter, Closeable):
                reporter.close()
    return written
