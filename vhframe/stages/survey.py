"""The alignment check: every subject answers the survey; answers are generated and cached like
benchmark answers (as ``survey_answer`` records), then parsed and scored against the profiles.

Reads the subjects, the profiles and the survey; returns the check for the analysis document
and the rows of the ``survey`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vhframe.context import derive_seed
from vhframe.errors import UserError
from vhframe.records import (
    Decoding,
    GenerationRequest,
    Subject,
    SurveyAnswer,
    SurveyItem,
    ValueProfile,
    content_hash,
)
from vhframe.stages import StageRun
from vhframe.stages.generate import produce
from vhframe.survey import alignment_check

KIND = "survey_answer"


def _seed_unit(subject: Subject, name: str, item: SurveyItem) -> str:
    # the item's part is how the survey item was named when answers were first cached
    # (``survey:<name>``, number, value, text): the seeds, and so the answers, stay as they were
    legacy_item = content_hash(["item", f"survey:{name}", str(item.number), item.value, item.text])
    return content_hash([subject.key, legacy_item, "survey"])


def _answer(key: str, r: GenerationRequest, text: str) -> SurveyAnswer:
    item = r.item
    assert isinstance(item, SurveyItem)
    return SurveyAnswer(
        key=key,
        subject=r.subject.name,
        instrument=item.instrument,
        item=item.number,
        value=item.value,
        seed=r.seed,
        prompt=r.prompt,
        text=text,
    )


def run(
    sr: StageRun, subjects: Sequence[Subject], profiles: Sequence[ValueProfile]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if sr.comps.survey is None:
        return None, []
    name, survey = sr.comps.survey
    items: list[SurveyItem] = survey.load(sr.ctx)
    if not items:
        raise UserError(f"survey {name}: the survey has no items")
    dec = Decoding(**{**survey.decoding.to_dict(), "samples": 1})
    requests = []
    for subject in subjects:
        for it in items:
            requests.append(
                GenerationRequest(
                    subject=subject,
                    item=it,
                    prompt=subject.ask(survey.prompt(it)),
                    decoding=dec,
                    sample=0,
                    seed=derive_seed(sr.cfg.run.seed, _seed_unit(subject, name, it)),
                    mitigation="none",
                )
            )
    keys = [
        k
        for window in produce(
            sr, requests, kind=KIND, make=_answer, label="survey", total=len(requests)
        )
        for k in window
    ]
    stored = sr.store.get_many_ordered(KIND, keys)
    answers: dict[str, list[int | None]] = {}
    rows = []
    for a, r in zip(stored, requests, strict=True):
        asked = r.item
        assert isinstance(asked, SurveyItem)
        parsed = survey.parse(a["text"])
        answers.setdefault(r.subject.name, []).append(parsed)
        rows.append(
            {
                "subject": r.subject.name,
                "survey": name,
                "item": asked.number,
                "value": asked.value,
                "text": a["text"],
                "answer": parsed,
                "generation": a["key"],
            }
        )
    return alignment_check(name, items, answers, subjects, profiles), rows
