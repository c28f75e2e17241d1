"""Records: the content hash's exact form, JSON round trips, and the exact messages of
records built from invalid data."""

from __future__ import annotations

import hashlib

import pytest

from vhframe.records import (
    VALUES,
    Example,
    Item,
    RecordError,
    Subject,
    SurveyItem,
    ValueProfile,
    content_hash,
)


def test_content_hash_is_sha256_of_compact_sorted_utf8_json() -> None:
    # the form is part of every stored key: a change would orphan all cached results
    blob = '{"a":null,"b":[1,"é"]}'.encode()
    assert content_hash({"b": [1, "é"], "a": None}) == hashlib.sha256(blob).hexdigest()
    assert content_hash({"b": [1, "é"], "a": None}) == (
        "f8f17faab95c024891d173fa43442b0e52007736a1f36715ac721ab22deeefc5"
    )


def test_to_dict_makes_plain_json() -> None:
    item = Item("b", "1", "c", "p", meta={1: ("x", {"y"}), "s": frozenset({"b", "a"})})
    assert item.to_dict() == {
        "benchmark": "b",
        "id": "1",
        "category": "c",
        "prompt": "p",
        "meta": {"1": ["x", ["y"]], "s": ["a", "b"]},
    }


def test_from_dict_keeps_fields_after_a_missing_one() -> None:
    data = {
        "name": "s",
        "role": "base",
        "base_model": "m",
        "profile": "p",
        "scores": [1, 2],
        "system_prompt": "Be brief.",
    }  # adapter and adapter_hash absent: defaults
    assert Subject.from_dict(data) == Subject(
        name="s", role="base", base_model="m", profile="p", scores=(1, 2), system_prompt="Be brief."
    )


def test_value_profile_scores_bounds_and_mappings() -> None:
    scores = dict(zip(VALUES, (1, 6, 2, 3, 4, 5, 1.5, 2.5, 3.5, 4.5), strict=True))
    p = ValueProfile.from_mapping("t", scores)
    assert (p.name, p.source) == ("t", "")
    assert p.scores == (1.0, 6.0, 2.0, 3.0, 4.0, 5.0, 1.5, 2.5, 3.5, 4.5)
    assert all(type(s) is float for s in p.scores)
    assert p.as_mapping() == {v: float(s) for v, s in scores.items()}
    # given as ints in a list (as from JSON), kept as a tuple of floats
    from_list = ValueProfile("t", [3] * 10)  # type: ignore[arg-type]
    assert from_list.scores == (3.0,) * 10 and type(from_list.scores[0]) is float
    assert ValueProfile.from_mapping("t", scores, source="x").source == "x"
    assert p.key == content_hash(["profile", "t", list(p.scores)])


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        (
            (3.0,) * 9,
            "profile 'p': expected 10 scores (Achievement, Benevolence, Conformity, "
            "Hedonism, Power, Security, Self-direction, Stimulation, Tradition, "
            "Universalism), found 9",
        ),
        (
            (3.0,) * 11,
            "profile 'p': expected 10 scores (Achievement, Benevolence, Conformity, "
            "Hedonism, Power, Security, Self-direction, Stimulation, Tradition, "
            "Universalism), found 11",
        ),
        ((0.99,) + (3.0,) * 9, "profile 'p': Achievement score must be within 1..6, found 0.99"),
        ((3.0,) * 9 + (6.01,), "profile 'p': Universalism score must be within 1..6, found 6.01"),
    ],
)
def test_value_profile_errors_are_exact(scores: tuple[float, ...], message: str) -> None:
    with pytest.raises(RecordError) as e:
        ValueProfile("p", scores)
    assert str(e.value) == message


def test_value_profile_mapping_errors_are_exact() -> None:
    full = {v: 3.0 for v in VALUES}
    with pytest.raises(RecordError) as e:
        ValueProfile.from_mapping("p", {**full, "Kindness": 2.0, "Awe": 1.0})
    assert str(e.value) == (
        f"profile 'p': unknown value name(s) ['Awe', 'Kindness']; expected names from {VALUES}"
    )
    with pytest.raises(RecordError) as e:
        ValueProfile.from_mapping("p", {v: 3.0 for v in VALUES[2:]})
    assert str(e.value) == "profile 'p': missing score(s) for ['Achievement', 'Benevolence']"


def test_example_values_and_split() -> None:
    ex = Example("e1", "c", "in favor of", "p", ("Tradition", "Achievement"), split="valid")
    assert (ex.values, ex.split) == (("Achievement", "Tradition"), "valid")
    assert Example("e2", "c", "against", "p", ()).values == ()
    with pytest.raises(RecordError) as e:
        Example("e3", "c", "against", "p", ("Power", "Kindness", "Awe"))
    assert str(e.value) == "example 'e3': unknown value name(s) ['Kindness', 'Awe']"
    with pytest.raises(RecordError) as e:
        Example("e4", "c", "against", "p", ("Power",), split="dev")
    assert str(e.value) == (
        "example 'e4': split must be one of ('train', 'valid', 'test') or empty, found 'dev'"
    )


def test_survey_item_unknown_value_is_exact() -> None:
    with pytest.raises(RecordError) as e:
        SurveyItem("pvq40", 3, "text", "Kindness")
    assert str(e.value) == "pvq40 item 3: unknown value 'Kindness'"


def test_key_hash_is_content_hash_of_the_keys() -> None:
    import os

    from vhframe.records import content_hash, key_hash

    for _ in range(200):
        a, b = os.urandom(32).hex(), os.urandom(32).hex()
        assert key_hash(a, b) == content_hash([a, b])
        assert key_hash("judgment", a, b) == content_hash(["judgment", a, b])
        assert key_hash("vhframe:safety-prompt", a) == content_hash(["vhframe:safety-prompt", a])
