"""Named points at which a run can be made to die, so that resuming can be tested everywhere.

``VHFRAME_KILL_AT="stage:n"`` makes the process send itself SIGKILL the ``n``-th time (from 1)
the run passes the point named ``stage``: no ``finally`` block, no flush, no manifest update,
exactly as if the machine had lost power at that moment. The points, in the order a run passes
them:

``align``     after a value-alignment training is stored
``benign``    after a benign fine-tune is stored
``survey``    after survey answers are committed
``generate``  after benchmark answers are committed
``judge``     after judgments are committed
``metrics``   after the metrics are replaced
``analysis``  after the analysis is computed, before anything of it is written
``report``    after each reporter has written its files
``tables``    after each Parquet table is written

Unset (the normal case) a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "VHFRAME_KILL_AT"
STAGES = (
    "align",
    "benign",
    "survey",
    "generate",
    "judge",
    "metrics",
    "analysis",
    "report",
    "tables",
)

_passed: dict[str, int] = {}


def point(stage: str) -> None:
    """Mark that the run has passed ``stage`` once more; die here if told to."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name not in STAGES:
        raise ValueError(f"{ENV}={spec!r}: unknown point {name!r}; known: {', '.join(STAGES)}")
    if name != stage:
        return
    _passed[stage] = _passed.get(stage, 0) + 1
    if _passed[stage] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
