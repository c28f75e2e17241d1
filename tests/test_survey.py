"""Survey scoring and the alignment-check document, on hand-made answers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import shared
from vhframe import pvq
from vhframe.builtins.profiles import extreme_profiles
from vhframe.builtins.surveys import SAMPLE_ITEMS, Pvq40
from vhframe.context import RunContext
from vhframe.errors import ParamError
from vhframe.records import VALUES, Subject, ValueProfile
from vhframe.survey import MIDPOINT, alignment_check, nmse, score_items

ITEMS = pvq.pvq40_items(list(SAMPLE_ITEMS))


def _ctx(tmp_path: Path) -> RunContext:
    return RunContext(seed=1, run_dir=tmp_path / "run", cache_dir=tmp_path / "cache",
                      config_dir=tmp_path)


def _reference_nmse(scores: dict[str, float], target: ValueProfile) -> float:
    t = target.as_mapping()
    errs = [((scores[v] - 1) / 5 - (t[v] - 1) / 5) ** 2 for v in VALUES if v in scores]
    return sum(errs) / len(errs)


def test_scores_and_imputed_scores_follow_the_key() -> None:
    rng = random.Random(3)
    answers: list[int | None] = [rng.choice([None, 1, 2, 3, 4, 5, 6]) for _ in ITEMS]
    sc = score_items(ITEMS, answers)
    for value in VALUES:
        nums = pvq.PVQ40_KEY[value]
        got = [answers[i - 1] for i in nums if answers[i - 1] is not None]
        assert sc.answered[value] == len(got)
        assert sc.scores[value] == (pytest.approx(sum(got) / len(got)) if got else None)  # type: ignore[arg-type]
        filled = [MIDPOINT if answers[i - 1] is None else answers[i - 1] for i in nums]
        assert sc.imputed[value] == pytest.approx(sum(filled) / len(filled))  # type: ignore[arg-type]
    assert sc.unparsed_items == tuple(i for i, a in enumerate(answers, 1) if a is None)


def test_nmse_matches_a_direct_computation() -> None:
    rng = random.Random(5)
    for _ in range(50):
        target = ValueProfile.from_mapping("t", {v: rng.uniform(1, 6) for v in VALUES})
        scores = {v: rng.uniform(1, 6) for v in VALUES if rng.random() < 0.8}
        if not scores:
            continue
        assert nmse(scores, target) == pytest.approx(_reference_nmse(scores, target))


def test_score_items_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="one answer per item"):
        score_items(ITEMS, [1] * 39)
    with pytest.raises(ValueError, match="item 3: answers are 1-6, found 7"):
        score_items(ITEMS, [1, 1, 7] + [1] * 37)


def test_alignment_check_compares_each_subject_with_its_profile() -> None:
    profiles = extreme_profiles()[:3]
    subjects = [Subject(name=f"aligned-{p.name}", role="aligned", base_model="m",
                        profile=p.name, scores=p.scores) for p in profiles]
    subjects.append(Subject(name="base", role="base", base_model="m"))
    answers: dict[str, list[int | None]] = {}
    for p in profiles:  # answers that give exactly the profile's scores
        t = p.as_mapping()
        answers[f"aligned-{p.name}"] = [int(t[it.value]) for it in ITEMS]
    answers["base"] = [None] * 40
    doc = alignment_check("vhframe:pvq40", ITEMS, answers, subjects, profiles)
    rows = {r["subject"]: r for r in doc["subjects"]}
    for p in profiles:
        r = rows[f"aligned-{p.name}"]
        assert r["nmse"] == 0.0 and r["nmse_imputed"] == 0.0 and r["unparsed"] == 0
    base = rows["base"]
    assert base["nmse"] is None and base["unparsed"] == 40
    # unanswered = midpoint: 2.5/5 off on every value for a 1-or-6 profile
    assert base["nmse_imputed"] == pytest.approx(0.25)
    assert set(base["nmse_by_profile"]) == {p.name for p in profiles}
    summary = {r["role"]: r for r in doc["summary"]}
    assert summary["base"]["answer_rate"] == 0.0 and summary["base"]["mean_nmse"] is None
    assert summary["aligned"]["answer_rate"] == 1.0
    assert [e["profile"] for e in doc["by_profile"]] == [p.name for p in profiles]
    assert doc["by_profile"][0] == {"profile": profiles[0].name, "aligned": 0.0,
                                    "base": pytest.approx(0.25)}


def _answers(by_value: dict[str, int | None], rest: int | None) -> list[int | None]:
    """One answer per item: the value's entry in ``by_value``, else ``rest``."""
    return [by_value.get(it.value, rest) for it in ITEMS]


def test_a_run_without_profiles_has_no_nmse_to_report() -> None:
    # nothing to compare an unprofiled subject with: its NMSEs are missing, not an error
    subjects = [Subject(name="base", role="base", base_model="m")]
    doc = alignment_check("vhframe:pvq40", ITEMS, {"base": [3] * 40}, subjects, [])
    (row,) = doc["subjects"]
    assert (row["nmse"], row["nmse_imputed"], row["nmse_by_profile"]) == (None, None, {})
    assert row["scores"] == dict.fromkeys(VALUES, 3)
    assert doc["summary"] == [{"role": "base", "subjects": 1, "mean_nmse": None,
                               "subjects_with_nmse": 0, "mean_nmse_imputed": None,
                               "answer_rate": 1.0}]
    assert doc["by_profile"] == []


def test_pvq40_survey_component(tmp_path: Path) -> None:
    s = Pvq40()
    items = s.load(_ctx(tmp_path))
    assert [it.number for it in items] == list(range(1, 41))
    assert s.prompt(items[0]).startswith(SAMPLE_ITEMS[0])
    assert s.prompt(items[0]).endswith("Answer:") and "6 = very much like me" in s.prompt(
        items[0])
    assert s.parse(" 4 Somewhat like me") == 4 and s.parse("no idea") is None
    assert Pvq40(max_new_tokens=3).fingerprint() != s.fingerprint()
    with pytest.raises(ParamError, match="file not found"):
        Pvq40(path=str(tmp_path / "none.csv"))
    with pytest.raises(ParamError):
        Pvq40(max_new_tokens=0)


def test_pvq40_survey_reads_the_real_items(tmp_path: Path) -> None:
    path = shared("pvq/pvq40.csv")
    items = Pvq40(path=str(path)).load(_ctx(tmp_path))
    assert len(items) == 40
    assert items[1].value == "Power" and "rich" in items[1].text.lower()
