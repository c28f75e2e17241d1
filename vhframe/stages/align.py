"""Value alignment: one adapter per profile, trained by the configured trainer.

Reads the profiles and the value dataset; writes one ``training`` record per profile (keyed
by the weights, the trainer's settings, the data and the profile) and its adapter folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vhframe.errors import UserError
from vhframe.records import Example, Subject, ValueProfile, content_hash
from vhframe.stages import StageRun
from vhframe.stages.adapters import (
    adapters_dir,
    install,
    safe_name,
    scratch_dir,
    store_training,
    stored_training,
)


def run(sr: StageRun, profiles: list[ValueProfile]) -> list[Subject]:
    """The aligned subjects, one per profile, in profile order; none without a trainer."""
    trainer, dataset = sr.comps.trainer, sr.comps.values
    if trainer is None or dataset is None:
        return []
    examples: list[Example] = dataset.load(sr.ctx)
    if not examples:
        raise UserError("values: the value dataset yielded no examples")
    data_hash = content_hash([e.to_dict() for e in examples])
    base = sr.cfg.model.base
    trainer_fp = trainer.fingerprint()
    adapters = adapters_dir(sr.ctx.run_dir)

    def unit_key(p: ValueProfile) -> str:
        return content_hash(["training", sr.model_id, trainer_fp, data_hash, p.key])

    done: dict[str, Subject] = {}
    todo: list[ValueProfile] = []
    for p in profiles:
        stored = stored_training(sr.store, unit_key(p))
        if stored is not None:
            done[p.name] = stored
        else:
            todo.append(p)
    advance = sr.progress("align", len(profiles))
    advance(len(done))

    def train(p: ValueProfile) -> tuple[Path, dict[str, Any]]:
        tmp = scratch_dir(adapters, unit_key(p))
        return tmp, trainer.train(sr.ctx, base, p, examples, tmp)

    for p, (tmp, facts) in sr.comps.executor.map(train, todo):
        key = unit_key(p)
        final = install(tmp, adapters / f"{safe_name(p.name)}-{key[:12]}")
        subject = Subject(
            name=f"aligned-{p.name}",
            role="aligned",
            base_model=base,
            adapter=str(final),
            adapter_hash=key,
            profile=p.name,
            scores=p.scores,
        )
        store_training(sr, key, subject, facts, {"profile": p.name}, "align")
        done[p.name] = subject
        advance(1)
    return [done[p.name] for p in profiles]
