"""The ``gameday`` command.  Each package contributes its own commands through ``register(app)``.

Every expected failure is a :class:`GamedayError`: printed as one line on stderr, exit code 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gameday.errors import GamedayError

app = typer.Typer(
    name="gameday",
    help="Incident-response game days: runbook as data, simulation, drills, scoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
runbook_app = typer.Typer(help="Read the runbook model.", no_args_is_help=True)
journal_app = typer.Typer(help="Event journals: export to tidy tables.", no_args_is_help=True)
app.add_typer(runbook_app, name="runbook")
app.add_typer(journal_app, name="journal")

console = Console()

#: Packages that add commands; each module has ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "sim.cli",
    "drills.cli",
    "gameday.scoring.cli",
    "drills.k8s.cli",
    "drills.warroom.cli",
    "gameday.demo",
)
#: Run before any command: e.g. revert faults a killed drill left behind.
STARTUP_HOOKS: tuple[str, ...] = ("drills.recovery:recover_on_start",)


@runbook_app.command("show")
def runbook_show(
    path: Annotated[Path | None, typer.Argument(help="runbook markdown; default: the shipped one")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the whole model as JSON")] = False,
) -> None:
    """Parse a markdown runbook and show what gameday understood."""
    from gameday.runbook import load_runbook

    runbook = load_runbook(path)
    if as_json:
        typer.echo(runbook.model_dump_json(indent=2))
        return
    table = Table(title=f"{runbook.title} — severities")
    for column in ("severity", "respond within", "updates every", "channels"):
        table.add_column(column)
    for sev in runbook.severities:
        table.add_row(
            f"{sev.name} {sev.label}",
            _minutes(sev.response_minutes, sev.response_text),
            _minutes(sev.update_interval_minutes, sev.update_text),
            ", ".join(sev.update_channels),
        )
    console.print(table)
    console.print(f"Roles: {', '.join(f'{r.name} ({r.abbreviation})' for r in runbook.roles)}")
    console.print(f"Workflow: {len(runbook.workflow.nodes)} nodes, {len(runbook.workflow.edges)} edges")
    ladder = " → ".join(f"L{lv.level} {lv.role} (+{lv.after_minutes:g} min)" for lv in runbook.escalation.technical)
    console.print(f"Escalation: {ladder}")
    t = runbook.targets
    mttr = ", ".join(f"{k} {v:g} min" for k, v in t.mttr_minutes.items())
    console.print(f"Targets: MTTD {t.mttd_minutes:g} min, MTTA {t.mtta_minutes:g} min, MTTR {mttr}")
    console.print(
        f"Stability watch {runbook.stability_minutes:g} min; review within {runbook.postmortem_within_hours:g} h"
    )


def _minutes(value: float | None, text: str) -> str:
    return f"{value:g} min" if value is not None else (text or "—")


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="scenario or policy YAML files")]) -> None:
    """Validate scenario/policy files (by their ``kind:``); exit 2 on the first bad one."""
    from gameday.files import load_any

    for path in files:
        model = load_any(path)
        typer.echo(f"{path}: ok ({getattr(model, 'kind', type(model).__name__)} {getattr(model, 'name', '')})")


@app.command()
def schema(kind: Annotated[str, typer.Argument(help="scenario | policy")]) -> None:
    """Print the JSON Schema of a file kind, for editor autocompletion."""
    from gameday.files import model_for

    typer.echo(json.dumps(model_for(kind).model_json_schema(), indent=2))


@journal_app.command("export")
def journal_export(
    journals: Annotated[list[Path], typer.Argument(help="journal .jsonl files")],
    out: Annotated[Path, typer.Option("--out", help="table file: .parquet or .csv")],
) -> None:
    """Write one tidy table (one row per event) from one or more journals."""
    from gameday.journal import load_frame, write_table

    frame = load_frame(*journals)
    write_table(frame, out)
    typer.echo(f"{out}: {len(frame)} events from {len(journals)} journal(s)")


@journal_app.command("metrics")
def journal_metrics(
    journals: Annotated[list[Path], typer.Argument(help="journal .jsonl files")],
    out: Annotated[Path, typer.Option("--out", help="table file: .parquet or .csv")],
) -> None:
    """Write one row per incident with every metric (see the README's metrics glossary)."""
    from gameday.journal import write_table
    from gameday.metrics import load_metrics

    frame = load_metrics(*journals)
    write_table(frame, out)
    typer.echo(f"{out}: {len(frame)} incidents from {len(journals)} journal(s)")


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name.split(".")[0]) is None:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            importlib.import_module(name).register(app)


def _run_startup_hooks() -> None:
    for hook in STARTUP_HOOKS:
        module_name, _, func = hook.partition(":")
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            getattr(importlib.import_module(module_name), func)()


def main() -> None:
    """Console entry point: one line and exit 2 for user errors (click handles usage errors itself)."""
    err = Console(stderr=True)
    try:
        _register_commands()
        _run_startup_hooks()
        app()
    except GamedayError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
