"""The analysis: value-vs-harm statistics over the metrics, the alignment check and how
every number was made; writes ``analysis.json``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vhframe import faults
from vhframe.analysis import analyse
from vhframe.files import write_json
from vhframe.records import Metric, Subject
from vhframe.stages import StageRun


def run(
    sr: StageRun,
    subjects: Sequence[Subject],
    metrics: Sequence[Metric],
    check: dict[str, Any] | None,
    counts: dict[str, int],
) -> dict[str, Any]:
    a = sr.cfg.analysis
    doc = analyse(
        subjects,
        metrics,
        alpha=a.alpha,
        min_subjects=a.min_subjects,
        bootstrap=a.bootstrap,
        ci_method=a.ci_method,
        adjust=a.adjust,
        seed=sr.cfg.run.seed,
    )
    if check is not None:
        doc["alignment_check"] = check
    doc["provenance"] = {
        "run": sr.cfg.run.name,
        "seed": sr.cfg.run.seed,
        "config_hash": sr.loaded.hash,
        "base_model": sr.cfg.model.base,
        "generator": sr.comps.generator.fingerprint(),
        "judges": {n: j.fingerprint() for n, j in sr.comps.judges},
        "counts": counts,
        "facts": sr.ctx.facts,
    }
    faults.point("analysis")
    write_json(sr.ctx.run_dir / "analysis.json", doc, default=str)
    return doc
