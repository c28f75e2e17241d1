"""Fake components and contract checks, for vhframe's own tests and for plugin authors'.

The components are registered under the plugin name ``testing``, so a config can use them
wherever a real one goes, with no model and no torch::

    [alignment]
    trainer = { use = "testing:adapter" }

    [generation]
    use = "testing:instant"

    [[judges]]
    use = "testing:flag"

They do almost no work, so a run made of them times the pipeline alone (the store, the keys,
the stages), and they are deterministic, so a killed and resumed run can be compared with an
uninterrupted one. Their outputs still carry signal: the instant generator complies with a
harmful prompt more often the higher the subject's score for ``harm_value`` is, and answers a
survey item with the subject's own score for the item's value, so the analysis and the
alignment check have something real to find.

:func:`assert_follows_contract` checks any object against a family's protocol, as the
pipeline does when it creates a component.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vhframe import contracts
from vhframe.context import RunContext
from vhframe.errors import ParamError
from vhframe.hookspecs import FAMILIES, Register, hookimpl
from vhframe.records import (
    VALUES,
    Example,
    Generation,
    GenerationRequest,
    SurveyItem,
    TaskExample,
    ValueProfile,
)

#: what the instant generator says when it refuses and when it complies; the refusal is in
#: the built-in refusal lexicon, so ``vhframe:refusal`` judges these answers as well
REFUSAL = "I cannot help with that."
COMPLIANCE = "Sure, here is what you asked for."


def assert_follows_contract(family: str, obj: Any) -> None:
    """Raise ``AssertionError`` listing every way ``obj`` breaks the ``family`` protocol (or a
    capability it offers, such as ``close``); ``family`` is a key of ``FAMILIES``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    broken = contracts.problems(family, obj)
    if broken:
        raise AssertionError(f"{type(obj).__name__} breaks the {family} contract: {broken}")


def _unit(seed: int, salt: int = 0) -> float:
    """A number in [0, 1) from a request's seed, the same on every machine."""
    x = (seed * 0x9E3779B97F4A7C15 + salt * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 31
    x = (x * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 29
    return x / 2.0**64


class InstantGenerator:
    """``testing:instant``: answers at once, from the request alone.

    A benchmark prompt is refused or complied with; the chance of compliance is
    ``base_rate`` plus ``slope`` for every point of the subject's ``harm_value`` score above 1
    (subjects without scores use ``base_rate``). A survey item is answered with the subject's
    score for the item's value, rounded (3 for subjects without scores). ``batch_size``
    requests go into a batch, in the order given.
    """

    def __init__(
        self,
        batch_size: int = 64,
        harm_value: str = "Power",
        base_rate: float = 0.2,
        slope: float = 0.1,
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ParamError("batch_size", f"expected a positive integer, found {batch_size!r}")
        if harm_value not in VALUES:
            raise ParamError("harm_value", f"expected one of {', '.join(VALUES)}")
        for name, v in (("base_rate", base_rate), ("slope", slope)):
            if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v <= 1:
                raise ParamError(name, f"expected a number from 0 to 1, found {v!r}")
        self.batch_size = batch_size
        self.harm_value = harm_value
        self.base_rate = float(base_rate)
        self.slope = float(slope)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "generator": "testing:instant",
            "harm_value": self.harm_value,
            "base_rate": self.base_rate,
            "slope": self.slope,
        }

    def plan(self, requests: Sequence[GenerationRequest]) -> list[list[GenerationRequest]]:
        n = self.batch_size
        return [list(requests[i : i + n]) for i in range(0, len(requests), n)]

    def generate(self, ctx: RunContext, batch: Sequence[GenerationRequest]) -> list[str]:
        return [self._answer(r) for r in batch]

    def _answer(self, r: GenerationRequest) -> str:
        scores = r.subject.scores
        if isinstance(r.item, SurveyItem):
            score = scores[VALUES.index(r.item.value)] if scores else 3.0
            return str(int(score + 0.5))
        rate = self.base_rate
        if scores:
            rate += self.slope * (scores[VALUES.index(self.harm_value)] - 1.0)
        return COMPLIANCE if _unit(r.seed) < rate else REFUSAL


class _Verdict:
    __slots__ = ("harmful", "label", "score")

    def __init__(self, harmful: bool) -> None:
        self.harmful = harmful
        self.score = 1.0 if harmful else 0.0
        self.label = "harmful" if harmful else "refused"


class FlagJudge:
    """``testing:flag``: an answer is harmful unless it contains ``refusal`` (by default the
    instant generator's refusal)."""

    def __init__(self, refusal: str = REFUSAL) -> None:
        if not isinstance(refusal, str) or not refusal:
            raise ParamError("refusal", f"expected a non-empty string, found {refusal!r}")
        self.refusal = refusal

    def fingerprint(self) -> dict[str, Any]:
        return {"judge": "testing:flag", "refusal": self.refusal}

    def judge(self, ctx: RunContext, generations: Sequence[Generation]) -> list[_Verdict]:
        return [_Verdict(self.refusal not in g.text) for g in generations]


class AdapterTrainer:
    """``testing:adapter``: "trains" by writing ``adapter.json`` (the profile or the task and
    the number of examples) into the adapter folder; the instant generator needs no more."""

    def __init__(self, epochs: int = 1) -> None:
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
            raise ParamError("epochs", f"expected a positive integer, found {epochs!r}")
        self.epochs = epochs

    def fingerprint(self) -> dict[str, Any]:
        return {"trainer": "testing:adapter", "epochs": self.epochs}

    def train(
        self,
        ctx: RunContext,
        base_model: str,
        profile: ValueProfile,
        examples: Sequence[Example],
        out_dir: Path,
    ) -> dict[str, Any]:
        record = {"base_model": base_model, "profile": profile.to_dict(), "examples": len(examples)}
        (out_dir / "adapter.json").write_text(json.dumps(record, sort_keys=True))
        return {"examples": len(examples), "epochs": self.epochs}

    def train_task(
        self,
        ctx: RunContext,
        base_model: str,
        examples: Sequence[TaskExample],
        out_dir: Path,
    ) -> dict[str, Any]:
        record = {"base_model": base_model, "examples": len(examples)}
        (out_dir / "adapter.json").write_text(json.dumps(record, sort_keys=True))
        return {"examples": len(examples), "epochs": self.epochs}


@hookimpl
def register_generators(register: Register) -> None:
    register("instant", InstantGenerator, "answers at once from the request (tests, timing)")


@hookimpl
def register_judges(register: Register) -> None:
    register("flag", FlagJudge, "harmful unless the answer contains a refusal (tests, timing)")


@hookimpl
def register_trainers(register: Register) -> None:
    register("adapter", AdapterTrainer, "writes a small adapter record (tests, timing)")
