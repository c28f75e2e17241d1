"""``vhframe run|validate|plugins|report``.

User errors (bad config, bad data, plugin problems) print one message each, all those found in
one pass, and exit with status 2; tracebacks are kept for bugs.
"""

from __future__ import annotations

import json
import os
import sys
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from vhframe.errors import ConfigErrors, UserError

# OpenMP threads that spin while idle starve each other, and everything else, on a small or
# busy CPU (a tiny model's layer ran ~100x slower); it must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure the unintended harms of value-aligned language models.",
)
err = Console(stderr=True)
out = Console()


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except UserError as exc:
        for one in exc.errors if isinstance(exc, ConfigErrors) else [exc]:
            err.print(f"[bold red]error:[/] {escape(str(one))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    if not enabled:
        yield lambda label, total: lambda n: None
        return
    progress = Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )

    def stage(label: str, total: int) -> Callable[[int], None]:
        task = progress.add_task(label, total=total)
        return lambda n: progress.advance(task, n)

    with progress:
        yield stage


def _pipeline(config: Path, out_dir: Path | None, progress: Any = None) -> Any:
    """The configured run, checked as ``validate`` checks it: every problem of the config,
    its components and its data is raised before any work starts."""
    from vhframe.checks import check
    from vhframe.config import load_config
    from vhframe.pipeline import Pipeline
    from vhframe.plugins import get_manager

    loaded = load_config(config)
    kwargs: dict[str, Any] = {"out_dir": out_dir}
    if progress is not None:
        kwargs["progress"] = progress
    pipe = Pipeline(loaded, get_manager(), **kwargs)
    check(pipe)
    return pipe


ConfigArg = Annotated[Path, typer.Argument(help="TOML config file", show_default=False)]
OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="run directory (default: run.out_dir)")
]


@app.command()
def run(
    config: ConfigArg,
    out_dir: OutOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan and stop")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    open_report: Annotated[
        bool, typer.Option("--open", help="open the HTML report in a browser when done")
    ] = False,
) -> None:
    """Run a study end to end; a killed run resumes where it stopped."""
    with _user_errors():
        if dry_run:
            pipe = _pipeline(config, out_dir)
            try:
                _print_plan(pipe.plan().to_dict(), pipe.run_dir)
            finally:
                pipe.close()
            return
        with _progress(not quiet) as progress:
            pipe = _pipeline(config, out_dir, progress)
            result = pipe.run()
    out.print(f"[green]done[/]: {result['run_dir']}")
    for path in result["reports"]:
        out.print(f"  report: {path}")
    html_reports = [p for p in result["reports"] if p.endswith(".html")]
    if html_reports and (open_report or pipe.cfg.report.open):
        webbrowser.open(Path(html_reports[0]).resolve().as_uri())


def _print_plan(plan: dict[str, Any], run_dir: Path) -> None:
    table = Table(title=f"plan for {run_dir}", show_header=False)
    table.add_row("profiles", str(plan["profiles"]))
    table.add_row("trainings", str(plan["trainings"]))
    table.add_row("subjects", str(plan["subjects"]))
    for name, n in plan["items"].items():
        table.add_row(f"items: {name}", str(n))
    table.add_row("prompt variants", ", ".join(plan["mitigations"]))
    table.add_row("generations", str(plan["generations"]))
    table.add_row("judgments", str(plan["judgments"]))
    if plan.get("survey_items"):
        table.add_row(
            "survey", f"{plan['survey_items']} items, {plan['survey_generations']} answers"
        )
    out.print(table)


@app.command()
def validate(config: ConfigArg) -> None:
    """Check a config (keys, types, plugin names, parameters, data files) without running it;
    every problem found is reported."""
    with _user_errors():
        _pipeline(config, None).close()
    out.print(f"[green]ok[/]: {config}")


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """List installed plugins, their versions and what they register."""
    from vhframe.plugins import get_manager

    pm = get_manager()
    info = pm.describe()
    if as_json:
        sys.stdout.write(json.dumps({"plugins": info, "collisions": pm.collisions}, indent=2))
        sys.stdout.write("\n")
        return
    table = Table(title="vhframe plugins")
    for col in ("plugin", "version", "registers", "status"):
        table.add_column(col)
    for p in info:
        regs = "\n".join(f"{fam}: {', '.join(names)}" for fam, names in p["components"].items())
        status = f"[red]{escape(p['error'])}[/]" if p["error"] else "[green]ok[/]"
        table.add_row(p["name"], p["version"], regs or "–", status)
    out.print(table)
    for c in pm.collisions:
        err.print(f"[bold red]collision:[/] {escape(c)}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory", show_default=False)],
    open_report: Annotated[bool, typer.Option("--open", help="open in a browser")] = False,
) -> None:
    """Write a finished run's reports again from its analysis.json, with the reporters its
    config names."""
    from vhframe.plugins import get_manager
    from vhframe.stages.report import rewrite

    with _user_errors():
        paths = rewrite(run_dir, get_manager())
    for p in paths:
        out.print(f"report: {p}")
    pages = [p for p in paths if p.suffix == ".html"]
    if open_report and pages:
        webbrowser.open(pages[0].resolve().as_uri())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
