"""What ``vhframe validate`` checks beyond the config's own keys, and ``vhframe run`` checks
before any work: the components the config names and their parameters, then the data files
they read. Each stage reports every problem it finds in one pass.

Component parameters are checked against the factories' signatures here, all at once, by the
rule the pipeline's build applies (:func:`vhframe.build.param_errors`); the build then runs, so
a check that only it makes (a bad parameter value, a missing file) is reported as a run would
report it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vhframe.build import param_errors
from vhframe.config import Config, LoadedConfig, by_line
from vhframe.errors import ConfigError, UserError, combine
from vhframe.plugins import PluginError, PluginManager

if TYPE_CHECKING:
    from vhframe.pipeline import Pipeline

#: (family, config key, component name, params); params is None for a name-only component
Named = tuple[str, str, str, dict[str, Any] | None]


def named_components(cfg: Config) -> list[Named]:
    """Every component a config names, with the family and key it is built under."""
    out: list[Named] = [
        *(
            ("benchmarks", f"benchmarks[{i}]", b.use, b.params)
            for i, b in enumerate(cfg.benchmarks)
        ),
        *(("judges", f"judges[{i}]", j.use, j.params) for i, j in enumerate(cfg.judges)),
        *(
            ("mitigations", f"mitigations[{i}]", m.use, m.params)
            for i, m in enumerate(cfg.mitigations)
        ),
    ]
    if cfg.alignment.trainer is not None:
        t = cfg.alignment.trainer
        out.append(("trainers", "alignment.trainer", t.use, t.params))
    for i, b in enumerate(cfg.alignment.benign):
        key = f"alignment.benign[{i}]"
        out.append(("task_datasets", f"{key}.data", b.data.use, b.data.params))
        if b.trainer is not None:
            out.append(("trainers", f"{key}.trainer", b.trainer.use, b.trainer.params))
    if cfg.survey is not None:
        out.append(("surveys", "survey", cfg.survey.use, cfg.survey.params))
    out.append(("profiles", "profiles", cfg.profiles.use, cfg.profiles.params))
    if cfg.values is not None:
        out.append(("value_datasets", "values", cfg.values.use, cfg.values.params))
    out.append(("generators", "generation", cfg.generation.use, cfg.generation.params))
    out.append(("executors", "executor", cfg.executor.use, cfg.executor.params))
    out.extend(
        ("reporters", f"report.reporters[{i}]", n, None) for i, n in enumerate(cfg.report.reporters)
    )
    return out


def component_errors(loaded: LoadedConfig, pm: PluginManager) -> list[ConfigError]:
    """Unknown components, unknown parameters and missing required parameters of every
    component the config names, in the order of the file's lines."""
    errors: list[ConfigError] = []
    for family, key, name, params in named_components(loaded.config):
        use_key = key if params is None else f"{key}.use"
        try:
            comp = pm.get(family, name)
        except PluginError as exc:
            errors.append(loaded.error(use_key, _unknown_component(pm, family, name, str(exc))))
            continue
        errors.extend(param_errors(loaded, comp.factory, name, key, params or {}))
    return by_line(errors)


def _unknown_component(pm: PluginManager, family: str, name: str, message: str) -> str:
    close = difflib.get_close_matches(name, list(pm.registry.get(family, {})), n=1)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    # a right name in the wrong place: a trainer given as the generator, say
    for other, comps in pm.registry.items():
        if other != family and name in comps:
            return f"{message}; {name} is a {other} component"
    return message


def data_errors(pipe: Pipeline) -> list[UserError]:
    """Read every data file the built components name, as a run reads them, and return the
    problems found. ``plan()`` reads the profiles, benchmark items and survey exactly as
    ``run --dry-run`` does; the value and task datasets, which a run reads only when it trains,
    are read too when it would train on them."""
    comps = pipe.build()
    errors: list[UserError] = []

    def attempt(read: Callable[..., object], *args: Any) -> None:
        try:
            read(*args)
        except UserError as exc:
            if str(exc) not in {str(e) for e in errors}:
                errors.append(exc)

    attempt(pipe.plan)
    if errors:
        # the plan stops at its first unreadable source: read the others one by one, so that
        # one pass names every one of them
        attempt(pipe.load_profiles)
        for _label, bench, _dec in comps.benchmarks:
            attempt(bench.load, pipe.ctx)
        if comps.survey is not None:
            attempt(comps.survey[1].load, pipe.ctx)
    if comps.values is not None and comps.trainer is not None:  # as a run: only to train
        attempt(comps.values.load, pipe.ctx)
    for _name, dataset, _trainer in comps.benign:
        attempt(dataset.load, pipe.ctx)
    return errors


def check(pipe: Pipeline) -> None:
    """Raise every problem of a configured run that can be found without doing its work:
    the components and their parameters, then (once they build) the data they read."""
    file = str(pipe.loaded.path)
    errors: list[UserError] = [*component_errors(pipe.loaded, pipe.pm)]
    if errors:
        raise combine(errors, file=file)
    pipe.build()
    errors = data_errors(pipe)
    if errors:
        raise combine(errors, file=file)
