"""The stages of a run, one module each, in the order data flows through them.

===========  =======================================  ========================================
stage        reads                                    writes (store kinds)
===========  =======================================  ========================================
align        profiles, the value dataset              ``training``; aligned subjects
benign       the task datasets                        ``training``; benign subjects
subjects     trained subjects, the baselines setting  ``subject``
survey       subjects, the survey                     ``survey_answer``; the alignment check
generate     subjects, benchmark items, mitigations   ``item``, ``generation``; the key sequence
judge        the generation sequence                  ``judgment``
metrics      the judgments of the sequence            ``metric``
analyse      subjects, metrics                        ``analysis.json``
report       the analysis document, the sequence      ``report/``, ``tables/``
===========  =======================================  ========================================

A stage is a function of a :class:`StageRun` (what every stage shares: the context, the
config, the components, the store) and of what earlier stages returned. It reads its inputs
from the store in windows, writes each unit of work (one training, one batch, one chunk) in
one transaction keyed by a content hash, and first asks the store what already exists: a
killed run resumes where it stopped, and a changed setting recomputes only what depends on
it. Adding a stage (a second generation pass after an analysis, say) means adding a module
and one line of :meth:`vhframe.pipeline.Pipeline.run`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from vhframe import faults
from vhframe.build import Components
from vhframe.config import Config, LoadedConfig
from vhframe.context import RunContext
from vhframe.store import Store

ProgressFactory = Callable[[str, int], Callable[[int], None]]

#: units of work finished within this many seconds of the last commit are committed together
#: (a killed run loses at most that much work): a unit that takes longer, such as a model's
#: batch, is committed on its own, and thousands of instant ones do not each pay for a commit
COMMIT_SECONDS = float(os.environ.get("VHFRAME_COMMIT_SECONDS", "1.0"))


def no_progress(label: str, total: int) -> Callable[[int], None]:
    return lambda n: None


@dataclass
class StageRun:
    """What every stage of one run shares."""

    loaded: LoadedConfig
    ctx: RunContext
    comps: Components
    store: Store
    #: the name of the base model's weights in cache keys (:func:`vhframe.build.model_identity`)
    model_id: str
    progress: ProgressFactory = no_progress
    #: the stage keys of the stages run so far (see :meth:`finished`), for the stages after
    stage_keys: dict[str, str] = field(default_factory=dict)
    #: the facts as last stored, so that a unit of work that learnt nothing new costs no write
    _stored_facts: str | None = field(default=None, repr=False)

    @property
    def cfg(self) -> Config:
        return self.loaded.config

    def load_facts(self) -> None:
        """Take over what earlier attempts learnt while computing the records this one finds
        stored (the attention kernel that wrote the generations, say): it still describes
        them."""
        self._stored_facts = self.store.get_meta("facts")
        for k, v in json.loads(self._stored_facts or "{}").items():
            self.ctx.facts.setdefault(k, v)

    def finished(self, stage: str, key: str) -> bool:
        """Whether ``stage`` last finished in this store with exactly the inputs ``key`` names
        (a content hash of everything its results depend on): then its results are all stored
        and it need not even look for them."""
        return self.store.get_meta(f"finished:{stage}") == key

    def mark_finished(self, stage: str, key: str) -> None:
        self.store.set_meta(f"finished:{stage}", key)

    def keep_facts(self) -> None:
        """Store the run's facts as soon as work that they describe is stored, so that a
        killed attempt's facts reach the attempt that resumes it."""
        text = json.dumps(self.ctx.facts, sort_keys=True, default=str)
        if text != self._stored_facts:
            self.store.set_meta("facts", text)
            self._stored_facts = text


class Committer:
    """Stores finished units of work of one kind, committing whole units only: at once when
    :data:`COMMIT_SECONDS` have passed since the last commit, else with the next one (and
    always at :meth:`flush`). Each commit stores the run's facts with the records they
    describe and passes the fault point ``label``."""

    def __init__(self, sr: StageRun, kind: str, label: str) -> None:
        self.sr = sr
        self.kind = kind
        self.label = label
        self.rows: list[tuple[str, dict[str, Any]]] = []
        self.last = time.monotonic()

    def add(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> None:
        self.rows.extend(rows)
        if time.monotonic() - self.last >= COMMIT_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.sr.store.put_many(self.kind, self.rows)
            self.rows = []
            self.sr.keep_facts()
            faults.point(self.label)
        self.last = time.monotonic()
