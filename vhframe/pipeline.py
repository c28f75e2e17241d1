"""One configured run: build the components, then run the stages in order.

:meth:`Pipeline.run` is the whole flow on one screen; each stage lives in its own module under
:mod:`vhframe.stages` (which says what each reads and writes), the components are made and
checked in :mod:`vhframe.build`, and the run's record of itself in :mod:`vhframe.manifest`.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vhframe import build
from vhframe.build import Components
from vhframe.config import LoadedConfig
from vhframe.context import RunContext
from vhframe.errors import UserError
from vhframe.hookspecs import Closeable
from vhframe.manifest import Manifest
from vhframe.plugins import PluginManager
from vhframe.records import Item, ValueProfile
from vhframe.stages import (
    ProgressFactory,
    StageRun,
    align,
    analyse,
    benign,
    generate,
    judge,
    metrics,
    no_progress,
    report,
    subjects,
    survey,
)
from vhframe.store import Store


@dataclass
class Plan:
    """What a run will do, counted without doing it (``vhframe run --dry-run``)."""

    profiles: int
    trainings: int
    subjects: int
    items: dict[str, int]
    generations: int
    judgments: int
    mitigations: list[str] = field(default_factory=list)
    survey_items: int = 0
    survey_generations: int = 0

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class Pipeline:
    """One configured run. ``build()`` validates everything that can be checked without work."""

    def __init__(
        self,
        loaded: LoadedConfig,
        pm: PluginManager,
        *,
        out_dir: Path | None = None,
        progress: ProgressFactory = no_progress,
    ) -> None:
        self.loaded = loaded
        self.cfg = loaded.config
        self.pm = pm
        self.run_dir = (out_dir or loaded.out_dir()).resolve()
        self.progress = progress
        self.ctx = RunContext(
            seed=self.cfg.run.seed,
            run_dir=self.run_dir,
            cache_dir=loaded.cache_dir(),
            config_dir=loaded.dir,
            device=self.cfg.run.device,
        )
        self.components: Components | None = None

    def build(self) -> Components:
        """The run's components, created and checked once."""
        if self.components is None:
            self.components = build.Builder(self.loaded, self.pm, self.ctx).build()
        return self.components

    def close(self) -> None:
        """Close every component that holds resources; the first failure is raised after
        all have been closed."""
        comps, self.components = self.components, None
        if comps is None:
            return
        failure: Exception | None = None
        for obj in comps.all():
            if isinstance(obj, Closeable):
                try:
                    obj.close()
                except Exception as exc:
                    self.ctx.log.warning("closing %s failed: %s", type(obj).__name__, exc)
                    failure = failure or exc
        if failure is not None:
            raise failure

    def model_identity(self) -> str:
        """What names the base model's weights in cache keys (see :func:`build.model_identity`)."""
        if "model_identity" not in self.ctx.facts:
            self.ctx.facts["model_identity"] = build.model_identity(
                self.loaded, self.build(), self.ctx
            )
        return str(self.ctx.facts["model_identity"])

    def load_profiles(self) -> list[ValueProfile]:
        profiles: list[ValueProfile] = self.build().profiles.load(self.ctx)
        if self.cfg.profiles.limit is not None:
            profiles = profiles[: self.cfg.profiles.limit]
        names = [p.name for p in profiles]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise UserError(f"profiles: duplicate profile names {dupes}")
        return profiles

    def load_items(self) -> dict[str, list[Item]]:
        return {label: bench.load(self.ctx) for label, bench, _ in self.build().benchmarks}

    def plan(self) -> Plan:
        comps = self.build()
        profiles = self.load_profiles()
        items = self.load_items()
        trainings = (len(profiles) if comps.trainer and comps.values else 0) + len(comps.benign)
        n_subjects = trainings
        if "base" in self.cfg.alignment.baselines:
            n_subjects += 1
        if "roleplay" in self.cfg.alignment.baselines:
            n_subjects += len(profiles)
        gens = generate.count(comps, n_subjects, items)
        n_survey = len(comps.survey[1].load(self.ctx)) if comps.survey else 0
        return Plan(
            profiles=len(profiles),
            trainings=trainings,
            subjects=n_subjects,
            items={k: len(v) for k, v in items.items()},
            generations=gens,
            judgments=gens * len(comps.judges),
            mitigations=["none", *[n for n, _ in comps.mitigations]],
            survey_items=n_survey,
            survey_generations=n_survey * n_subjects,
        )

    def run(self) -> dict[str, Any]:
        """Run every stage; what is already stored is not computed again. Components are
        closed at the end, whether the run succeeded or not."""
        try:
            comps = self.build()
            with self._lock():
                store = Store(self.run_dir / "store.sqlite")
                try:
                    result = self._run(comps, store)
                finally:
                    store.close()
        except BaseException:
            with contextlib.suppress(Exception):  # logged; the run's own failure is reported
                self.close()
            raise
        self.close()
        return result

    def _run(self, comps: Components, store: Store) -> dict[str, Any]:
        sr = StageRun(self.loaded, self.ctx, comps, store, self.model_identity(), self.progress)
        sr.load_facts()
        manifest = Manifest(self.run_dir / "manifest.json", self.loaded, self.pm, comps)
        manifest.write("running", self.ctx)
        try:
            profiles = self.load_profiles()
            store.put_many("profile", [(p.key, p.to_dict()) for p in profiles])
            trained = align.run(sr, profiles) + benign.run(sr)
            subs = subjects.run(sr, trained, profiles)
            check, survey_rows = survey.run(sr, subs, profiles)
            items = self.load_items()
            n_gen = generate.run(sr, subs, items)
            n_judged = judge.run(sr, n_gen)
            rates = metrics.run(sr)
            counts = {"subjects": len(subs), "generations": n_gen, "judgments": n_judged}
            doc = analyse.run(sr, subs, rates, check, counts)
            written = report.run(sr, doc)
            report.tables(sr, profiles, subs, items, rates, survey_rows)
        except BaseException:
            manifest.write("failed", self.ctx)
            raise
        manifest.write("finished", self.ctx)
        return {
            "run_dir": str(self.run_dir),
            "reports": [str(p) for p in written],
            "analysis": doc,
        }

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fh = open(self.run_dir / ".lock", "w")  # held for the whole run
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(
                    f"{self.run_dir}: another vhframe run is using this run directory"
                ) from None
            yield
        finally:
            fh.close()
