"""Judging: every judge's verdict on every generation of the config.

Walks the ``generation`` sequence in windows; writes ``judgment`` records, committed in
chunks of :data:`JUDGE_CHUNK` (what a killed run can lose of a judge's work).
"""

from __future__ import annotations

import os

from vhframe.records import Generation, Judgment, content_hash, key_hash
from vhframe.stages import Committer, StageRun, generate

#: generations handed to a judge at once (one unit of judging work)
JUDGE_CHUNK = int(os.environ.get("VHFRAME_JUDGE_CHUNK", "512"))


def judgment_key(judge_fp: str, generation_key: str) -> str:
    """``content_hash(["judgment", judge_fp, generation_key])``."""
    return key_hash("judgment", judge_fp, generation_key)


def fingerprints(sr: StageRun) -> list[tuple[str, str]]:
    """(judge name, hash of its fingerprint) for each configured judge."""
    return [(name, content_hash(judge.fingerprint())) for name, judge in sr.comps.judges]


def run(sr: StageRun, n_generations: int) -> int:
    """Judge what is not judged yet; returns how many judgments the config has."""
    total = n_generations * len(sr.comps.judges)
    key = content_hash(["judge", sr.stage_keys["generate"], [fp for _, fp in fingerprints(sr)]])
    sr.stage_keys["judge"] = key
    advance = sr.progress("judge", total)
    if sr.finished("judge", key):
        advance(total)
        return total
    for (name, judge), (_, fp) in zip(sr.comps.judges, fingerprints(sr), strict=True):
        committer = Committer(sr, "judgment", "judge")
        for gen_keys in sr.store.sequence_windows(generate.SEQUENCE, generate.PLAN_WINDOW):
            keys = [judgment_key(fp, g) for g in gen_keys]
            have = sr.store.existing("judgment", keys)
            todo = [(k, g) for k, g in zip(keys, gen_keys, strict=True) if k not in have]
            advance(len(keys) - len(todo))
            for i in range(0, len(todo), JUDGE_CHUNK):
                chunk = todo[i : i + JUDGE_CHUNK]
                gens = [
                    Generation.from_dict(p)
                    for p in sr.store.get_many_ordered("generation", [g for _, g in chunk])
                ]
                verdicts = judge.judge(sr.ctx, gens)
                if len(verdicts) != len(chunk):
                    raise RuntimeError(
                        f"judge {name} returned {len(verdicts)} verdicts for {len(chunk)} "
                        "generations"
                    )
                committer.add(
                    [
                        (
                            k,
                            Judgment(
                                key=k,
                                generation=g.key,
                                judge=name,
                                subject=g.subject,
                                benchmark=g.benchmark,
                                category=g.category,
                                mitigation=g.mitigation,
                                harmful=bool(v.harmful),
                                score=float(v.score),
                                label=str(v.label),
                            ).to_dict(),
                        )
                        for (k, _), g, v in zip(chunk, gens, verdicts, strict=True)
                    ],
                )
                advance(len(chunk))
            committer.flush()
    sr.mark_finished("judge", key)
    return total
