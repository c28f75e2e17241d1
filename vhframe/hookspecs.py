"""The hooks through which plugins extend vhframe, and the contract of what they register.

A plugin is a module (or object) with functions marked ``@hookimpl``. Each hook below is a
*registration* hook: it receives a ``register`` callable and calls it once per component::

    from vhframe import hookimpl

    @hookimpl
    def register_judges(register):
        register("my-judge", MyJudge, description="flags answers that ...")

``register(name, factory, description="")`` files ``factory`` under ``"<plugin>:<name>"``,
where ``<plugin>`` is the plugin's name (its entry-point name in the ``vhframe`` group). A name
that already contains ``:`` is taken as fully qualified. Two plugins registering the same full
name is an error that names both. A config selects a component by its full name and passes the
table of parameters it gives as keyword arguments to ``factory``; the factory must reject
unknown or invalid parameters with ``ValueError`` or ``TypeError`` (the message is shown to the
user with the config key path).

Every object a factory returns follows the protocol of its family, defined here. All
methods receive the :class:`~vhframe.context.RunContext` of the run. Objects may keep state for
the life of a run (a loaded model, tokenised data): the pipeline makes one instance per
configured component per run and calls ``close()`` on it at the end when it has one.

Some components offer more than their family's protocol; each such capability is a small
protocol of its own below (:class:`Closeable`, :class:`ModelChecker`, :class:`ModelIdentifier`,
:class:`TaskTrainer`), checked like the families' when the component is created and used only
where a component has it.

Everything that determines an output must be visible to the pipeline so that results can be
cached by content: components expose ``fingerprint()``, a JSON-serialisable description of the
settings that change their outputs (not paths to caches, not thread counts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import pluggy

from vhframe.context import RunContext
from vhframe.records import (
    Decoding,
    Example,
    Generation,
    GenerationRequest,
    Item,
    Subject,
    SurveyItem,
    TaskExample,
    ValueProfile,
)

PROJECT = "vhframe"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]
T = TypeVar("T")
R = TypeVar("R")


# --------------------------------------------------------------------------- contracts


@runtime_checkable
class ProfileSource(Protocol):
    """Produces target value profiles (e.g. the 14 extreme profiles, ESS-nearest profiles)."""

    def fingerprint(self) -> dict[str, Any]: ...

    def load(self, ctx: RunContext) -> list[ValueProfile]:
        """Return the profiles, in a deterministic order. Invalid data raises ``ValueError``
        naming the file and line."""
        ...


@runtime_checkable
class ValueDataset(Protocol):
    """Produces value-labelled arguments that trainers align models with."""

    def fingerprint(self) -> dict[str, Any]: ...

    def load(self, ctx: RunContext) -> list[Example]: ...


@runtime_checkable
class TaskDataset(Protocol):
    """Produces supervised examples of a benign task for the benign fine-tuning baselines
    (Alpaca, Dolly, Grammar, SAMSum formats), each already in its format's prompt template.
    Invalid data raises ``vhframe.errors.DataError`` naming the file and line."""

    def fingerprint(self) -> dict[str, Any]: ...

    def load(self, ctx: RunContext) -> list[TaskExample]: ...


@runtime_checkable
class Survey(Protocol):
    """A value survey that measures which values a subject holds (e.g. PVQ-40).

    The pipeline asks every subject each item (the subject's system prompt, if any, comes
    first), parses each answer with ``parse`` and averages the answers per value; answers
    that do not parse are counted and reported, never dropped silently. Scores are on the
    profiles' 1-6 scale.
    """

    decoding: Decoding

    def fingerprint(self) -> dict[str, Any]: ...

    def load(self, ctx: RunContext) -> list[SurveyItem]: ...

    def prompt(self, item: SurveyItem) -> str:
        """The text the model sees for ``item``."""
        ...

    def parse(self, text: str) -> int | None:
        """The 1-6 answer in a reply, or ``None`` when it has none."""
        ...


@runtime_checkable
class Trainer(Protocol):
    """Aligns a base model to a value profile, writing an adapter directory.

    ``train`` writes everything into ``out_dir`` (which it may assume is empty and private);
    the pipeline moves it into place only when ``train`` returns, so a killed training leaves
    nothing half-written behind. It returns JSON-serialisable facts about the training
    (losses, best epoch, number of examples) that are stored with the subject.
    """

    def fingerprint(self) -> dict[str, Any]: ...

    def train(
        self,
        ctx: RunContext,
        base_model: str,
        profile: ValueProfile,
        examples: Sequence[Example],
        out_dir: Path,
    ) -> dict[str, Any]: ...


@runtime_checkable
class Generator(Protocol):
    """Turns generation requests into text.

    The pipeline streams a stage's requests in a deterministic order, in consecutive windows
    of at most ``vhframe.stages.generate.PLAN_WINDOW`` requests (so that a run of millions of
    requests never holds them all): it calls ``plan`` once per window and then ``generate`` on
    each batch ``plan`` returns that is not already stored; each batch's results are committed
    together. ``plan`` must depend only on the requests it is given, and a request's text must
    depend only on the request itself (its ``seed`` in particular), so that a resumed run
    reproduces an uninterrupted one.
    """

    def fingerprint(self) -> dict[str, Any]: ...

    def plan(self, requests: Sequence[GenerationRequest]) -> list[list[GenerationRequest]]: ...

    def generate(self, ctx: RunContext, batch: Sequence[GenerationRequest]) -> list[str]: ...


@runtime_checkable
class Verdict(Protocol):
    harmful: bool
    score: float
    label: str


@runtime_checkable
class Judge(Protocol):
    """Scores generations. ``judge`` returns one verdict per generation, in order.

    A verdict has ``harmful`` (drives harm rates), ``score`` (judge-specific scale, e.g. 1-5
    for a rubric judge, 0/1 for a keyword judge) and a short ``label``.
    """

    def fingerprint(self) -> dict[str, Any]: ...

    def judge(self, ctx: RunContext, generations: Sequence[Generation]) -> list[Verdict]: ...


@runtime_checkable
class Mitigation(Protocol):
    """Rewrites a prompt before generation (e.g. prepends a safety instruction).

    ``apply`` gets the benchmark prompt *before* the benchmark's template is applied, plus the
    item and subject, and returns the new prompt.
    """

    def fingerprint(self) -> dict[str, Any]: ...

    def apply(self, prompt: str, item: Item, subject: Subject) -> str: ...


@runtime_checkable
class Benchmark(Protocol):
    """A set of prompts with harm categories, a prompt template and default decoding."""

    decoding: Decoding

    def fingerprint(self) -> dict[str, Any]: ...

    def load(self, ctx: RunContext) -> list[Item]: ...

    def template(self, prompt: str) -> str:
        """The text the model sees for ``prompt`` (e.g. ``QUESTION: ... ANSWER:``)."""
        ...


@runtime_checkable
class Executor(Protocol):
    """Runs independent tasks, possibly elsewhere. ``map`` yields ``(task, result)`` pairs as
    they complete, in any order; an exception in a task propagates from the iterator."""

    def fingerprint(self) -> dict[str, Any]: ...

    def map(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[tuple[T, R]]: ...


@runtime_checkable
class Reporter(Protocol):
    """Writes a report of a finished analysis into ``out_dir`` and returns the paths written.

    ``results`` is the JSON-serialisable analysis document (see ``vhframe.analysis``)."""

    def fingerprint(self) -> dict[str, Any]: ...

    def write(self, ctx: RunContext, results: dict[str, Any], out_dir: Path) -> list[Path]: ...


# --------------------------------------------------------------------------- capabilities


@runtime_checkable
class Closeable(Protocol):
    """Holds resources (a loaded model, a client, a file): the pipeline calls ``close()`` once
    at the end of a run, whether the run succeeded or failed."""

    def close(self) -> None: ...


@runtime_checkable
class ModelChecker(Protocol):
    """A trainer or generator that can tell, cheaply (no model loading), whether ``ref`` (the
    config's ``model.base``) is a model it can load; a ``ValueError`` it raises is reported at
    that key before any work starts (e.g. a local model folder that does not exist)."""

    def check_model(self, ctx: RunContext, ref: str) -> None: ...


@runtime_checkable
class ModelIdentifier(Protocol):
    """A trainer or generator that can name the weights ``ref`` points at (e.g. a hash of a
    local folder's files): cache keys use that name in place of the reference, so a model
    folder replaced in place is never mistaken for the old one."""

    def model_identity(self, ctx: RunContext, ref: str) -> str: ...


@runtime_checkable
class TaskTrainer(Protocol):
    """A trainer that can also make benign baselines (``[[alignment.benign]]``): the contract
    of :meth:`Trainer.train` with :class:`~vhframe.records.TaskExample` records and no
    profile."""

    def train_task(
        self,
        ctx: RunContext,
        base_model: str,
        examples: Sequence[TaskExample],
        out_dir: Path,
    ) -> dict[str, Any]: ...


#: Capabilities a component of any family may have; each is checked when present.
CAPABILITIES: tuple[type, ...] = (Closeable, ModelChecker, ModelIdentifier, TaskTrainer)


# --------------------------------------------------------------------------- hooks


class Hooks:
    """Registration hooks, one per component family. Each receives ``register``."""

    @hookspec
    def register_profiles(self, register: Register) -> None:
        """Register :class:`ProfileSource` factories."""

    @hookspec
    def register_value_datasets(self, register: Register) -> None:
        """Register :class:`ValueDataset` factories."""

    @hookspec
    def register_task_datasets(self, register: Register) -> None:
        """Register :class:`TaskDataset` factories."""

    @hookspec
    def register_surveys(self, register: Register) -> None:
        """Register :class:`Survey` factories."""

    @hookspec
    def register_trainers(self, register: Register) -> None:
        """Register :class:`Trainer` factories."""

    @hookspec
    def register_generators(self, register: Register) -> None:
        """Register :class:`Generator` factories."""

    @hookspec
    def register_judges(self, register: Register) -> None:
        """Register :class:`Judge` factories."""

    @hookspec
    def register_mitigations(self, register: Register) -> None:
        """Register :class:`Mitigation` factories."""

    @hookspec
    def register_benchmarks(self, register: Register) -> None:
        """Register :class:`Benchmark` factories."""

    @hookspec
    def register_executors(self, register: Register) -> None:
        """Register :class:`Executor` factories."""

    @hookspec
    def register_reporters(self, register: Register) -> None:
        """Register :class:`Reporter` factories."""


#: Family name (as used in configs and ``vhframe plugins``) → (hook name, contract).
FAMILIES: dict[str, tuple[str, type]] = {
    "profiles": ("register_profiles", ProfileSource),
    "value_datasets": ("register_value_datasets", ValueDataset),
    "task_datasets": ("register_task_datasets", TaskDataset),
    "surveys": ("register_surveys", Survey),
    "trainers": ("register_trainers", Trainer),
    "generators": ("register_generators", Generator),
    "judges": ("register_judges", Judge),
    "mitigations": ("register_mitigations", Mitigation),
    "benchmarks": ("register_benchmarks", Benchmark),
    "executors": ("register_executors", Executor),
    "reporters": ("register_reporters", Reporter),
}
