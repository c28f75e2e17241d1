"""Config → components: every plugin object a run needs, created and checked before any work.

Each component is made by its plugin's factory from the config's ``params`` (checked against
the factory's signature first, so an unknown or missing parameter names its key path), then
checked against its family's protocol (:mod:`vhframe.contracts`). Errors name the config key.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from vhframe import contracts
from vhframe.config import ComponentRef, LoadedConfig
from vhframe.context import RunContext
from vhframe.errors import ConfigError, ParamError, UserError
from vhframe.hookspecs import (
    Benchmark,
    Executor,
    Generator,
    Judge,
    Mitigation,
    ModelChecker,
    ModelIdentifier,
    ProfileSource,
    Reporter,
    Survey,
    TaskDataset,
    TaskTrainer,
    Trainer,
    ValueDataset,
)
from vhframe.plugins import PluginError, PluginManager
from vhframe.records import Decoding

#: parameters that name files: relative ones resolve from the config's folder
PATH_KEYS = ("path", "lexicon")
PATH_SUFFIXES = ("_path", "_file", "_dir")


@dataclass
class Components:
    """The plugin objects of one run, each under the name the config gives it."""

    profiles: ProfileSource
    values: ValueDataset | None
    trainer: Trainer | None
    generator: Generator
    #: (config name, benchmark, decoding its generations use)
    benchmarks: list[tuple[str, Benchmark, Decoding]]
    judges: list[tuple[str, Judge]]
    mitigations: list[tuple[str, Mitigation]]
    executor: Executor
    reporters: list[tuple[str, Reporter]]
    survey: tuple[str, Survey] | None = None
    #: benign fine-tunes: (name, task dataset, trainer)
    benign: list[tuple[str, TaskDataset, Trainer]] = field(default_factory=list)

    def all(self) -> Iterator[Any]:
        """Every distinct component object (a trainer shared by benign baselines once)."""
        seen: set[int] = set()
        objs: list[Any] = [self.profiles, self.values, self.trainer, self.generator]
        objs += [b for _, b, _ in self.benchmarks] + [j for _, j in self.judges]
        objs += [m for _, m in self.mitigations] + [self.executor]
        objs += [r for _, r in self.reporters] + ([self.survey[1]] if self.survey else [])
        objs += [x for _, d, t in self.benign for x in (d, t)]
        for obj in objs:
            if obj is not None and id(obj) not in seen:
                seen.add(id(obj))
                yield obj

    def model_loaders(self) -> list[Any]:
        """The components that load the base model, in the order that names it."""
        return [c for c in (self.trainer, self.generator, *(t for _, _, t in self.benign)) if c]


class Builder:
    """Creates the components of one loaded config."""

    def __init__(self, loaded: LoadedConfig, pm: PluginManager, ctx: RunContext) -> None:
        self.loaded = loaded
        self.pm = pm
        self.ctx = ctx

    def params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Component parameters with relative file paths resolved from the config's folder."""
        out = {}
        for k, v in params.items():
            is_path = k in PATH_KEYS or k.endswith(PATH_SUFFIXES)
            if is_path and isinstance(v, str) and not v.startswith("builtin:"):
                v = str(self.loaded.resolve(v))
            out[k] = v
        return out

    def create(self, family: str, ref: ComponentRef | str, key: str) -> Any:
        """One component of ``family`` from the config entry at ``key``, contract-checked."""
        name, params = (ref, {}) if isinstance(ref, str) else (ref.use, ref.params)
        use_key = key if isinstance(ref, str) else f"{key}.use"
        try:
            comp = self.pm.get(family, name)
        except PluginError as exc:
            raise self.loaded.error(use_key, str(exc)) from None
        bad = param_errors(self.loaded, comp.factory, name, key, params)
        if bad:
            raise bad[0]
        try:
            obj = comp.factory(**self.params(params))
        except ParamError as exc:
            raise self.loaded.error(f"{key}.params.{exc.param}", str(exc)) from None
        except (UserError, TypeError, ValueError) as exc:
            raise self.loaded.error(f"{key}.params", str(exc)) from None
        broken = contracts.problems(family, obj)
        if broken:
            raise self.loaded.error(
                use_key,
                f"{name} (plugin {comp.plugin!r}) does not follow the {family} contract: "
                + "; ".join(broken),
            )
        return obj

    def create_each(
        self, family: str, refs: Sequence[ComponentRef], key: str
    ) -> list[tuple[str, Any]]:
        """Components of a config array, each named at most once."""
        out: list[tuple[str, Any]] = []
        for i, ref in enumerate(refs):
            if ref.use in {n for n, _ in out}:
                raise self.loaded.error(f"{key}[{i}].use", f"{ref.use} is listed twice")
            out.append((ref.use, self.create(family, ref, f"{key}[{i}]")))
        return out

    def build(self) -> Components:
        try:
            self.pm.check()
        except PluginError as exc:
            raise UserError(f"plugins: {exc}") from None
        cfg = self.loaded.config
        if cfg.alignment.trainer is not None and cfg.values is None:
            raise self.loaded.error(
                "values", "alignment.trainer is set, so a [values] dataset is required"
            )
        trainer = (
            self.create("trainers", cfg.alignment.trainer, "alignment.trainer")
            if cfg.alignment.trainer
            else None
        )
        comps = Components(
            profiles=self.create(
                "profiles",
                ComponentRef(use=cfg.profiles.use, params=cfg.profiles.params),
                "profiles",
            ),
            values=self.create("value_datasets", cfg.values, "values") if cfg.values else None,
            trainer=trainer,
            generator=self.create(
                "generators",
                ComponentRef(use=cfg.generation.use, params=cfg.generation.params),
                "generation",
            ),
            benchmarks=self._benchmarks(),
            judges=self.create_each("judges", cfg.judges, "judges"),
            mitigations=self.create_each("mitigations", cfg.mitigations, "mitigations"),
            executor=self.create("executors", cfg.executor, "executor"),
            reporters=[
                (n, self.create("reporters", n, f"report.reporters[{i}]"))
                for i, n in enumerate(cfg.report.reporters)
            ],
            survey=self._survey(),
            benign=self._benign(trainer),
        )
        # only the components that load the model know what a valid reference is (a local
        # folder for transformers, a served name for an API)
        for comp in comps.model_loaders():
            if isinstance(comp, ModelChecker):
                try:
                    comp.check_model(self.ctx, cfg.model.base)
                except ValueError as exc:
                    raise self.loaded.error("model.base", str(exc)) from None
        return comps

    def _benchmarks(self) -> list[tuple[str, Benchmark, Decoding]]:
        gen = self.loaded.config.generation
        out: list[tuple[str, Benchmark, Decoding]] = []
        for i, ref in enumerate(self.loaded.config.benchmarks):
            if ref.use in {n for n, _, _ in out}:
                raise self.loaded.error(f"benchmarks[{i}].use", f"{ref.use} is listed twice")
            bench = self.create("benchmarks", ref, f"benchmarks[{i}]")
            d = bench.decoding
            dec = Decoding(
                temperature=gen.temperature,
                top_p=gen.top_p,
                max_new_tokens=ref.max_new_tokens or gen.max_new_tokens or d.max_new_tokens,
                samples=ref.samples or gen.samples or d.samples,
            )
            out.append((ref.use, bench, dec))
        return out

    def _survey(self) -> tuple[str, Survey] | None:
        s = self.loaded.config.survey
        if s is None:
            return None
        inst = self.create("surveys", ComponentRef(use=s.use, params=s.params), "survey")
        if s.max_new_tokens is not None:
            inst.decoding = Decoding(
                **{**inst.decoding.to_dict(), "max_new_tokens": s.max_new_tokens}
            )
        return (s.use, inst)

    def _benign(self, default_trainer: Any) -> list[tuple[str, TaskDataset, Trainer]]:
        cfg = self.loaded.config
        out: list[tuple[str, TaskDataset, Trainer]] = []
        for i, b in enumerate(cfg.alignment.benign):
            key = f"alignment.benign[{i}]"
            if b.name in {n for n, _, _ in out}:
                raise self.loaded.error(
                    f"{key}.name", f"benign baseline {b.name!r} is listed twice"
                )
            data = self.create("task_datasets", b.data, f"{key}.data")
            if b.trainer is not None:
                trainer = self.create("trainers", b.trainer, f"{key}.trainer")
                where, name = f"{key}.trainer.use", b.trainer.use
            elif default_trainer is not None:
                trainer = default_trainer
                assert cfg.alignment.trainer is not None
                where, name = "alignment.trainer.use", cfg.alignment.trainer.use
            else:
                raise self.loaded.error(
                    key,
                    f"a benign baseline needs a trainer: set {key}.trainer or alignment.trainer",
                )
            if not isinstance(trainer, TaskTrainer):
                raise self.loaded.error(
                    where, f"{name} cannot train benign baselines (it has no train_task)"
                )
            out.append((b.name, data, cast(Trainer, trainer)))
        return out


def param_errors(
    loaded: LoadedConfig,
    factory: Callable[..., Any],
    name: str,
    key: str,
    params: dict[str, Any],
) -> list[ConfigError]:
    """Parameters of ``params`` the factory does not take (with the nearest name it does) and
    required ones that are missing, each at its key path."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        return []  # it takes any keyword: only the factory itself can tell
    accepted = [n for n in sig.parameters if n != "self"]
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    missing = [
        n
        for n, p in sig.parameters.items()
        if p.default is inspect.Parameter.empty and p.kind in named and n not in params
    ]
    errors = []
    for k in params:
        if k in accepted:
            continue
        message = f"unknown parameter for {name}"
        close = difflib.get_close_matches(k, accepted, n=1)
        if close and close[0] in missing:
            missing.remove(close[0])  # one mistake, one message
            message += f"; did you mean {close[0]!r}, which is required?"
        elif close:
            message += f"; did you mean {close[0]!r}?"
        else:
            message += f"; accepted: {', '.join(accepted) or 'none'}"
        errors.append(loaded.error(f"{key}.params.{k}", message))
    errors.extend(
        loaded.error(f"{key}.params.{n}", f"required parameter of {name} is missing")
        for n in missing
    )
    return errors


def model_identity(loaded: LoadedConfig, comps: Components, ctx: RunContext) -> str:
    """What names the base model's weights in cache keys: the identity the first loading
    component reports (a hash of a local folder's files), else the reference itself."""
    ref = loaded.config.model.base
    for comp in comps.model_loaders():
        if isinstance(comp, ModelIdentifier):
            try:
                return str(comp.model_identity(ctx, ref))
            except ValueError as exc:
                raise loaded.error("model.base", str(exc)) from None
    return ref
