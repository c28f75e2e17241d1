"""The records that flow through a run, from profiles to metrics.

Every record is a frozen dataclass that turns into plain JSON (``to_dict``) and back
(``from_dict``), so the store can keep it and a plugin in another process can receive it.
Each record that a stage produces has a ``key``: a content hash of everything that
determines it, which is how a resumed run knows what it has already done.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

#: The ten Schwartz basic values, always in this order.
VALUES: tuple[str, ...] = (
    "Achievement",
    "Benevolence",
    "Conformity",
    "Hedonism",
    "Power",
    "Security",
    "Self-direction",
    "Stimulation",
    "Tradition",
    "Universalism",
)

#: Higher-order groups of the Schwartz circumplex.
VALUE_GROUPS: dict[str, tuple[str, ...]] = {
    "Openness to change": ("Self-direction", "Stimulation"),
    "Self-enhancement": ("Achievement", "Hedonism", "Power"),
    "Conservation": ("Conformity", "Security", "Tradition"),
    "Self-transcendence": ("Benevolence", "Universalism"),
}

#: The 20 level-2 values of the Touché23-ValueEval taxonomy, in the order of its label files'
#: columns; each but Face and Humility refines the basic value its name starts with.
LEVEL2_LABELS: tuple[str, ...] = (
    "Self-direction: thought",
    "Self-direction: action",
    "Stimulation",
    "Hedonism",
    "Achievement",
    "Power: dominance",
    "Power: resources",
    "Face",
    "Security: personal",
    "Security: societal",
    "Tradition",
    "Conformity: rules",
    "Conformity: interpersonal",
    "Humility",
    "Benevolence: caring",
    "Benevolence: dependability",
    "Universalism: concern",
    "Universalism: nature",
    "Universalism: tolerance",
    "Universalism: objectivity",
)

SCORE_MIN = 1.0
SCORE_MAX = 6.0


def content_hash(payload: Any) -> str:
    """A stable hex digest of a JSON-serialisable payload (sorted keys, no whitespace)."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def key_hash(*keys: str) -> str:
    """``content_hash(list(keys))`` for keys that JSON writes as they are (content hashes, plain
    names: no quote, backslash or control character), without the JSON encoder: the stages
    derive millions of keys from other keys this way."""
    blob = '["' + '","'.join(keys) + '"]'
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class RecordError(ValueError):
    """A record was built from invalid data."""


class Record:
    """Mixin: JSON round trip for the frozen dataclasses below."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name, _ in _layout(type(self))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from ``to_dict`` output, nested records included (for other processes)."""
        kwargs: dict[str, Any] = {}
        for name, members in _layout(cls):
            if name not in data:
                continue
            value = data[name]
            if members and isinstance(value, Mapping):
                record_type = _pick(members, value)
                if record_type is not None:
                    value = record_type.from_dict(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)


# Records are made and stored by the million: what each class's fields are is worked out once
# (resolving the string annotations costs far more than building a record).
Layout = tuple[tuple[str, tuple[type["Record"], ...]], ...]
_LAYOUTS: dict[type, Layout] = {}
_REQUIRED: dict[type, frozenset[str]] = {}


def _layout(cls: type) -> Layout:
    """Each field's name and the record classes its value may rebuild into."""
    if cls in _LAYOUTS:
        return _LAYOUTS[cls]
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name)
        if isinstance(hint, type) and issubclass(hint, Record):
            members: tuple[type[Record], ...] = (hint,)
        else:
            members = tuple(
                t for t in typing.get_args(hint) if isinstance(t, type) and issubclass(t, Record)
            )
        out.append((f.name, members))
    _LAYOUTS[cls] = tuple(out)
    return _LAYOUTS[cls]


def _required(cls: type) -> frozenset[str]:
    if cls not in _REQUIRED:
        _REQUIRED[cls] = frozenset(
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
    return _REQUIRED[cls]


def _pick(members: tuple[type[Record], ...], value: Mapping[str, Any]) -> type[Record] | None:
    """The record class a mapping rebuilds into: the only one, or, for a union of records,
    the member whose fields it has (``instrument`` tells a survey item from a benchmark
    item)."""
    if len(members) == 1:
        return members[0]
    for t in members:
        if _required(t) <= value.keys():
            return t
    return None


_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data: records as dicts, tuples as lists, sets sorted."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (frozenset, set)):
        return sorted(_plain(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    return value


@dataclass(frozen=True)
class ValueProfile(Record):
    """A target value profile: one score in [1, 6] per Schwartz value, in ``VALUES`` order."""

    kind: ClassVar[str] = "profile"
    name: str
    scores: tuple[float, ...]
    source: str = ""

    def __post_init__(self) -> None:
        scores = tuple(float(s) for s in self.scores)
        object.__setattr__(self, "scores", scores)
        if len(scores) != len(VALUES):
            raise RecordError(
                f"profile {self.name!r}: expected {len(VALUES)} scores ({', '.join(VALUES)}), "
                f"found {len(scores)}"
            )
        for value, score in zip(VALUES, scores, strict=True):
            if not (SCORE_MIN <= score <= SCORE_MAX):
                raise RecordError(
                    f"profile {self.name!r}: {value} score must be within "
                    f"{SCORE_MIN:g}..{SCORE_MAX:g}, found {score:g}"
                )

    @classmethod
    def from_mapping(cls, name: str, scores: Mapping[str, float], source: str = "") -> Self:
        """Build from ``{value name: score}``; unknown or missing names are errors."""
        unknown = sorted(set(scores) - set(VALUES))
        if unknown:
            raise RecordError(
                f"profile {name!r}: unknown value name(s) {unknown}; expected names from {VALUES}"
            )
        missing = [v for v in VALUES if v not in scores]
        if missing:
            raise RecordError(f"profile {name!r}: missing score(s) for {missing}")
        return cls(name=name, scores=tuple(float(scores[v]) for v in VALUES), source=source)

    def as_mapping(self) -> dict[str, float]:
        return dict(zip(VALUES, self.scores, strict=True))

    @property
    def key(self) -> str:
        return content_hash(["profile", self.name, list(self.scores)])


#: The fixed dataset splits an :class:`Example` can belong to; ``""`` means "no split given".
SPLITS: tuple[str, ...] = ("train", "valid", "test")


@dataclass(frozen=True)
class Example(Record):
    """One value-labelled argument (Touché23-ValueEval style).

    ``split`` is the dataset's fixed split the argument belongs to: ``"train"``, ``"valid"``,
    ``"test"``, or ``""`` when the dataset has none (trainers then hold out their own
    validation share).
    """

    kind: ClassVar[str] = "example"
    id: str
    conclusion: str
    stance: str
    premise: str
    values: tuple[str, ...]
    split: str = ""

    def __post_init__(self) -> None:
        unknown = [v for v in self.values if v not in VALUES]
        if unknown:
            raise RecordError(f"example {self.id!r}: unknown value name(s) {unknown}")
        object.__setattr__(self, "values", tuple(v for v in VALUES if v in self.values))
        if self.split and self.split not in SPLITS:
            raise RecordError(
                f"example {self.id!r}: split must be one of {SPLITS} or empty, found {self.split!r}"
            )


@dataclass(frozen=True)
class TaskExample(Record):
    """One supervised example of a benign task (instruction following, grammar correction,
    dialogue summarisation), already in its format's prompt template: trainers take the loss
    on ``target`` only. ``source`` names the format (``alpaca``, ``dolly``, ...)."""

    kind: ClassVar[str] = "task_example"
    id: str
    prompt: str
    target: str
    source: str = ""


@dataclass(frozen=True)
class SurveyItem(Record):
    """One item of a value survey (e.g. a PVQ-40 portrait) and the value it measures."""

    kind: ClassVar[str] = "survey_item"
    instrument: str
    number: int
    text: str
    value: str

    def __post_init__(self) -> None:
        if self.value not in VALUES:
            raise RecordError(f"{self.instrument} item {self.number}: unknown value {self.value!r}")

    @property
    def key(self) -> str:
        return content_hash(["survey_item", self.instrument, self.number, self.text, self.value])

    @property
    def where(self) -> str:
        """How messages name the item."""
        return f"survey item {self.instrument}/{self.number}"


@dataclass(frozen=True)
class Item(Record):
    """One benchmark prompt. ``category`` is the harm category that metrics group by."""

    kind: ClassVar[str] = "item"
    benchmark: str
    id: str
    category: str
    prompt: str
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    @functools.cached_property
    def key(self) -> str:
        return content_hash(["item", self.benchmark, self.id, self.category, self.prompt])

    @property
    def where(self) -> str:
        """How messages name the item."""
        return f"item {self.benchmark}/{self.id}"


@dataclass(frozen=True)
class Subject(Record):
    """A model under test: a base model, optionally with an adapter and a system prompt.

    ``kind`` is one of ``aligned`` (value-aligned adapter), ``base`` (untuned), ``roleplay``
    (in-context profile statement) or ``benign`` (benign fine-tune).
    """

    kind: ClassVar[str] = "subject"
    name: str
    role: str
    base_model: str
    adapter: str | None = None
    adapter_hash: str | None = None
    profile: str | None = None
    scores: tuple[float, ...] | None = None
    system_prompt: str = ""

    # computed once: every request of the subject puts it in its key
    def ask(self, prompt: str) -> str:
        """The text the subject's model sees for ``prompt``: its system prompt, if any, first."""
        return f"{self.system_prompt}\n{prompt}" if self.system_prompt else prompt

    @functools.cached_property
    def key(self) -> str:
        return content_hash(
            [
                "subject",
                self.name,
                self.role,
                self.base_model,
                self.adapter_hash,
                self.profile,
                self.system_prompt,
            ]
        )


@dataclass(frozen=True)
class Decoding(Record):
    """Decoding settings for one benchmark's generations."""

    kind: ClassVar[str] = "decoding"
    temperature: float = 0.1
    top_p: float = 0.75
    max_new_tokens: int = 64
    samples: int = 1


@dataclass(frozen=True)
class GenerationRequest(Record):
    """What a generator is asked for: one sample of one prompt for one subject. ``item`` is
    the benchmark item or the survey item the prompt asks."""

    kind: ClassVar[str] = "request"
    subject: Subject
    item: Item | SurveyItem
    prompt: str
    decoding: Decoding
    sample: int
    seed: int
    mitigation: str = "none"

    @property
    def key(self) -> str:
        return content_hash(
            [
                "generation",
                self.subject.key,
                self.item.key,
                self.prompt,
                self.decoding.to_dict(),
                self.sample,
                self.seed,
                self.mitigation,
            ]
        )


@dataclass(frozen=True)
class Generation(Record):
    """A generated continuation with the request's identifying fields."""

    kind: ClassVar[str] = "generation"
    key: str
    subject: str
    benchmark: str
    item_id: str
    category: str
    mitigation: str
    sample: int
    seed: int
    prompt: str
    text: str


@dataclass(frozen=True)
class SurveyAnswer(Record):
    """A subject's generated answer to one survey item (parsed when the survey is scored)."""

    kind: ClassVar[str] = "survey_answer"
    key: str
    subject: str
    instrument: str
    item: int
    value: str
    seed: int
    prompt: str
    text: str


@dataclass(frozen=True)
class Judgment(Record):
    """A judge's verdict on one generation. ``harmful`` drives the harm-rate metrics."""

    kind: ClassVar[str] = "judgment"
    key: str
    generation: str
    judge: str
    subject: str
    benchmark: str
    category: str
    mitigation: str
    harmful: bool
    score: float
    label: str = ""


@dataclass(frozen=True)
class Metric(Record):
    """One aggregated number: a metric of a subject on a benchmark category."""

    kind: ClassVar[str] = "metric"
    key: str
    subject: str
    benchmark: str
    category: str
    judge: str
    mitigation: str
    name: str
    value: float
    n: int


def keyed(records: Sequence[Any]) -> dict[str, Any]:
    """Index records by their ``key``."""
    return {r.key: r for r in records}
