"""Benign fine-tunes: one adapter per ``[[alignment.benign]]`` baseline.

The same caching and atomic installs as value alignment, keyed by the weights, the trainer's
settings and the task data; writes ``training`` records and adapter folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vhframe.errors import UserError
from vhframe.hookspecs import TaskTrainer, Trainer
from vhframe.records import Subject, TaskExample, content_hash
from vhframe.stages import StageRun
from vhframe.stages.adapters import (
    adapters_dir,
    install,
    safe_name,
    scratch_dir,
    store_training,
    stored_training,
)

Task = tuple[str, Trainer, list[TaskExample], str]


def run(sr: StageRun) -> list[Subject]:
    """The benign subjects, in config order."""
    if not sr.comps.benign:
        return []
    base = sr.cfg.model.base
    adapters = adapters_dir(sr.ctx.run_dir)
    todo: list[Task] = []
    done: dict[str, Subject] = {}
    for name, dataset, trainer in sr.comps.benign:
        examples: list[TaskExample] = dataset.load(sr.ctx)
        if not examples:
            raise UserError(f"alignment.benign {name!r}: the task dataset yielded no examples")
        data = content_hash([e.to_dict() for e in examples])
        key = content_hash(["benign", sr.model_id, trainer.fingerprint(), data])
        stored = stored_training(sr.store, key)
        if stored is not None:
            done[name] = stored
        else:
            todo.append((name, trainer, examples, key))
    advance = sr.progress("benign", len(sr.comps.benign))
    advance(len(done))

    def train(task: Task) -> tuple[Path, dict[str, Any]]:
        _name, trainer, examples, key = task
        assert isinstance(trainer, TaskTrainer)  # checked when the components were built
        tmp = scratch_dir(adapters, key)
        return tmp, trainer.train_task(sr.ctx, base, examples, tmp)

    for (name, _trainer, _examples, key), (tmp, facts) in sr.comps.executor.map(train, todo):
        final = install(tmp, adapters / f"benign-{safe_name(name)}-{key[:12]}")
        subject = Subject(
            name=f"benign-{name}",
            role="benign",
            base_model=base,
            adapter=str(final),
            adapter_hash=key,
        )
        store_training(sr, key, subject, facts, {"benign": name}, "benign")
        done[name] = subject
        advance(1)
    return [done[name] for name, _, _ in sr.comps.benign]
