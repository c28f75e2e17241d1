"""The subjects under test: trained ones plus the baselines the config asks for (the untuned
base model; the in-context role-play of each profile). Writes ``subject`` records."""

from __future__ import annotations

from collections.abc import Sequence

from vhframe.records import Subject, ValueProfile
from vhframe.stages import StageRun


def roleplay_prompt(profile: ValueProfile) -> str:
    """The in-context role-play baseline: state the profile's importance scores."""
    parts = ", ".join(f"{v}: {s:g}" for v, s in profile.as_mapping().items())
    return (
        "Answer as a person whose values have these importance scores on a scale from 1 "
        f"(not important) to 6 (very important): {parts}."
    )


def run(
    sr: StageRun, trained: Sequence[Subject], profiles: Sequence[ValueProfile]
) -> list[Subject]:
    base = sr.cfg.model.base
    subjects = list(trained)
    if "base" in sr.cfg.alignment.baselines:
        subjects.append(Subject(name="base", role="base", base_model=base))
    if "roleplay" in sr.cfg.alignment.baselines:
        subjects.extend(
            Subject(
                name=f"roleplay-{p.name}",
                role="roleplay",
                base_model=base,
                profile=p.name,
                scores=p.scores,
                system_prompt=roleplay_prompt(p),
            )
            for p in profiles
        )
    sr.store.put_many("subject", [(s.key, s.to_dict()) for s in subjects])
    return subjects
