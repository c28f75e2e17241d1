"""Benchmark generation, and the engine every generating stage shares.

Reads the subjects, each benchmark's items and the mitigations; writes ``item`` records, one
``generation`` record per request, and the ``generation`` sequence: this config's generation
keys in request order, which the judge, metrics and report stages walk in windows.

Requests are made lazily, in the order benchmark → subject → prompt variant → item → sample,
and handed to the generator in windows of at most :data:`PLAN_WINDOW`; only one window's
requests and texts are in memory at a time.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from vhframe.build import Components
from vhframe.context import derive_seed
from vhframe.records import (
    Generation,
    GenerationRequest,
    Item,
    Subject,
    content_hash,
    key_hash,
)
from vhframe.stages import Committer, StageRun

#: requests handed to the generator's ``plan`` at once: bounds memory, and is large enough
#: that batches cut at a window's edges cost little
PLAN_WINDOW = int(os.environ.get("VHFRAME_PLAN_WINDOW", "16384"))
#: the store sequence of this config's benchmark generations
SEQUENCE = "generation"
#: how requests are made from subjects, items and mitigations: raise it when that changes, so
#: that a finished stage is not taken for the new one's
FORMAT = 1

#: (record key, request, generated text) → the record stored for it
MakeRecord = Callable[[str, GenerationRequest, str], Any]


def produce(
    sr: StageRun,
    requests: Iterable[GenerationRequest],
    *,
    kind: str,
    make: MakeRecord,
    label: str,
    total: int,
) -> Iterator[list[str]]:
    """Generate what is not stored yet, window by window; yields each window's record keys
    in request order once all of them are stored."""
    gen_fp = content_hash([sr.comps.generator.fingerprint(), sr.model_id])
    advance = sr.progress(label, total)
    it = iter(requests)
    while window := list(itertools.islice(it, PLAN_WINDOW)):
        keys = [key_hash(r.key, gen_fp) for r in window]
        have = sr.store.existing(kind, keys)
        if len(have) < len(keys):
            _generate_window(sr, window, keys, have, kind, make, label, advance)
        else:
            advance(len(window))
        yield keys


def _generate_window(
    sr: StageRun,
    window: list[GenerationRequest],
    keys: list[str],
    have: set[str],
    kind: str,
    make: MakeRecord,
    label: str,
    advance: Callable[[int], None],
) -> None:
    generator = sr.comps.generator
    committer = Committer(sr, kind, label)
    key_of = {id(r): k for r, k in zip(window, keys, strict=True)}
    batches = generator.plan(window)
    planned = sum(len(b) for b in batches)
    if planned != len(window) or any(id(r) not in key_of for b in batches for r in b):
        raise RuntimeError(f"generator plan covers {planned} of {len(window)} requests")
    for batch in batches:
        batch_keys = [key_of[id(r)] for r in batch]
        if all(k in have for k in batch_keys):
            advance(len(batch))
            continue
        # the whole batch runs again so that its composition, and so its numerics, match an
        # uninterrupted run; stored rows are kept as they are
        texts = generator.generate(sr.ctx, batch)
        if len(texts) != len(batch):
            raise RuntimeError(f"generator returned {len(texts)} texts for {len(batch)}")
        committer.add(
            (k, make(k, r, t).to_dict()) for k, r, t in zip(batch_keys, batch, texts, strict=True)
        )
        have.update(batch_keys)
        advance(len(batch))
    committer.flush()


def _generation(key: str, r: GenerationRequest, text: str) -> Generation:
    item = r.item
    assert isinstance(item, Item)
    return Generation(
        key=key,
        subject=r.subject.name,
        benchmark=item.benchmark,
        item_id=item.id,
        category=item.category,
        mitigation=r.mitigation,
        sample=r.sample,
        seed=r.seed,
        prompt=r.prompt,
        text=text,
    )


def requests(
    sr: StageRun, subjects: Sequence[Subject], items: dict[str, list[Item]]
) -> Iterator[GenerationRequest]:
    """Every benchmark request of the config, lazily, in a fixed order."""
    variants: list[tuple[str, Any]] = [("none", None), *sr.comps.mitigations]
    seed = sr.cfg.run.seed
    for label, bench, dec in sr.comps.benchmarks:
        for subject in subjects:
            for mit_name, mit in variants:
                for item in items[label]:
                    text = item.prompt if mit is None else mit.apply(item.prompt, item, subject)
                    prompt = subject.ask(bench.template(text))
                    for sample in range(dec.samples):
                        unit = content_hash([subject.key, item.key, mit_name, sample])
                        yield GenerationRequest(
                            subject=subject,
                            item=item,
                            prompt=prompt,
                            decoding=dec,
                            sample=sample,
                            seed=derive_seed(seed, unit),
                            mitigation=mit_name,
                        )


def count(comps: Components, n_subjects: int, items: dict[str, list[Item]]) -> int:
    """How many benchmark requests the config makes."""
    variants = 1 + len(comps.mitigations)
    per_subject = sum(len(items[label]) * dec.samples for label, _, dec in comps.benchmarks)
    return per_subject * n_subjects * variants


def stage_key(sr: StageRun, subjects: Sequence[Subject], items: dict[str, list[Item]]) -> str:
    """Everything the config's generation keys depend on: when it is unchanged since the stage
    last finished, every answer is stored and the sequence lists them."""
    from vhframe import __version__

    return content_hash(
        [
            "generate",
            FORMAT,
            __version__,
            sr.model_id,
            sr.comps.generator.fingerprint(),
            sr.cfg.run.seed,
            [s.key for s in subjects],
            [
                [label, bench.fingerprint(), dec.to_dict(), [it.key for it in items[label]]]
                for label, bench, dec in sr.comps.benchmarks
            ],
            [[name, m.fingerprint()] for name, m in sr.comps.mitigations],
        ]
    )


def run(sr: StageRun, subjects: Sequence[Subject], items: dict[str, list[Item]]) -> int:
    """Generate every benchmark answer; returns how many the config has."""
    for its in items.values():
        sr.store.put_many("item", [(it.key, it.to_dict()) for it in its])
    total = count(sr.comps, len(subjects), items)
    key = stage_key(sr, subjects, items)
    sr.stage_keys["generate"] = key
    if sr.finished("generate", key) and sr.store.sequence_length(SEQUENCE) == total:
        sr.progress("generate", total)(total)
        return total
    sr.store.sequence_reset(SEQUENCE)
    pos = 0
    for keys in produce(
        sr,
        requests(sr, subjects, items),
        kind="generation",
        make=_generation,
        label="generate",
        total=total,
    ):
        sr.store.sequence_extend(SEQUENCE, pos, keys)
        pos += len(keys)
    if pos != total:
        raise RuntimeError(f"made {pos} benchmark requests where {total} were planned")
    sr.mark_finished("generate", key)
    return pos
