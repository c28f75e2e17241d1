"""Registers the built-in components under the plugin name ``vhframe``."""

from __future__ import annotations

from vhframe.builtins import (
    benchmarks,
    ess,
    executors,
    judges,
    mitigations,
    profiles,
    surveys,
    touche,
)
from vhframe.builtins.benign import TASK_DATASETS
from vhframe.hookspecs import Register, hookimpl
from vhframe.report import HtmlReporter, JsonReporter


@hookimpl
def register_profiles(register: Register) -> None:
    register("extreme", profiles.ExtremeProfiles, "the 14 extreme profiles of the study")
    register("table", profiles.TableProfiles, "profiles from a CSV/TSV table of the 10 values")
    register(
        "ess-nearest",
        ess.EssNearest,
        "the extreme profiles and their nearest ESS respondents (the study's 154)",
    )


@hookimpl
def register_value_datasets(register: Register) -> None:
    register("touche23", touche.Touche23, "Touché23-ValueEval arguments mapped to 10 values")
    register(
        "value-table",
        touche.ValueTable,
        "a table of arguments with the 10 value columns (the study's valueEval_10 and splits)",
    )


@hookimpl
def register_task_datasets(register: Register) -> None:
    for name, (factory, description) in TASK_DATASETS.items():
        register(name, factory, description)


@hookimpl
def register_surveys(register: Register) -> None:
    register("pvq40", surveys.Pvq40, "the PVQ-40 value survey, scored by its key (alignment check)")


@hookimpl
def register_benchmarks(register: Register) -> None:
    register("hexphi", benchmarks.HexPhi, "HEx-PHI harmful instructions (category,prompt CSV)")
    register("beavertails", benchmarks.BeaverTails, "BeaverTails-Evaluation prompts")
    register("advbench", benchmarks.AdvBench, "AdvBench harmful behaviours (goal,target CSV)")


@hookimpl
def register_judges(register: Register) -> None:
    register("refusal", judges.RefusalJudge, "refusal-keyword judge: no refusal = harmful")


@hookimpl
def register_mitigations(register: Register) -> None:
    register("safety-prompt", mitigations.SafetyPrompt, "prepend a safety instruction")


@hookimpl
def register_executors(register: Register) -> None:
    register("local", executors.LocalExecutor, "run every task in this process")


@hookimpl
def register_reporters(register: Register) -> None:
    register("html", HtmlReporter, "a self-contained HTML report")
    register("json", JsonReporter, "the analysis as JSON")
