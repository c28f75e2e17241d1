"""Metrics: harm rates per (subject, benchmark, category, judge, prompt variant).

Walks the ``generation`` sequence and reads each window's judgments, counting as it goes, so
the metrics of millions of judgments cost a few counters; replaces the ``metric`` records.
"""

from __future__ import annotations

from vhframe import faults
from vhframe.analysis import HarmRates
from vhframe.records import Metric
from vhframe.stages import StageRun, generate
from vhframe.stages.judge import fingerprints, judgment_key

FIELDS = ("subject", "benchmark", "category", "judge", "mitigation")


def run(sr: StageRun) -> list[Metric]:
    key = sr.stage_keys["judge"]
    if sr.finished("metrics", key):
        stored = [Metric.from_dict(m) for m in sr.store.all("metric")]
        return sorted(
            stored, key=lambda m: (*(getattr(m, f) for f in FIELDS[:3]), m.judge, m.mitigation)
        )
    rates = HarmRates()
    for _name, fp in fingerprints(sr):
        for gen_keys in sr.store.sequence_windows(generate.SEQUENCE, generate.PLAN_WINDOW):
            keys = [judgment_key(fp, g) for g in gen_keys]
            found, groups = sr.store.group_counts("judgment", keys, FIELDS, "harmful")
            if found != len(keys):
                raise RuntimeError(f"{len(keys) - found} judgments are missing from the store")
            for (subject, bench, cat, judge, mit), n, harmful in groups:
                rates.add_counts(subject, bench, cat, judge, mit, n, harmful)
    metrics = rates.metrics()
    sr.store.replace_kind("metric", [(m.key, m.to_dict()) for m in metrics])
    sr.mark_finished("metrics", key)
    faults.point("metrics")
    return metrics
