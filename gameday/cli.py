"""The ``gameday`` command: the core's own commands plus whatever the installed packages register.

The simulator and the drills add their commands through ``gameday.commands`` entry points (see
:mod:`gameday.plugins`; ``pyproject.toml`` names them), so the core never imports them.  Every expected
failure is a :class:`GamedayError`: printed as one line on stderr, exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from gameday.errors import GamedayError
from gameday.terminal import make_console

if TYPE_CHECKING:
    from gameday.runbook import Runbook

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

console = make_console()


def runbook_group(app: typer.Typer) -> typer.Typer:
    """The ``gameday runbook`` group of ``app``, for plug-ins that add ``runbook`` sub-commands (the drills'
    ``runbook commands``) from their ``gameday.commands`` entry point."""
    for info in app.registered_groups:
        if info.name == "runbook" and info.typer_instance is not None:
            return info.typer_instance
    raise LookupError("this gameday app has no runbook command group")


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
    _print_world(runbook)


def _print_world(runbook: Runbook) -> None:
    """Where the runbook's commands act (gameday.runbook.world), and which facts it left to the defaults."""
    w = runbook.world
    lines = [
        f"World ({len(runbook.commands)} commands):",
        f"  namespace   {w.namespace}",
        f"  deployment  deployment/{w.backend_deployment} (-l {w.selector})",
        f"  monitoring  svc/{w.prometheus_service}:{w.prometheus_port}, "
        f"svc/{w.alertmanager_service}:{w.alertmanager_port} in {w.monitoring_namespace}",
        f"  prometheus  {w.prometheus_url}",
        f"  grafana     {w.grafana_url}",
        f"  health      {w.health_url}",
        f"  defaults (the runbook does not name them): {', '.join(w.defaults)}" if w.defaults
        else "  defaults: none (the runbook names every fact)",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True, markup=False)


def _minutes(value: float | None, text: str) -> str:
    return f"{value:g} min" if value is not None else (text or "—")


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="scenario, policy, sweep or scoring YAML files (by their kind:), "
                                                     "runbooks (.md), journals (.jsonl)")],
    runbook: Annotated[Path | None, typer.Option(
        "--runbook", help="the runbook the names are checked against; default: the shipped one")] = None,
    promql: Annotated[bool, typer.Option(
        "--promql/--no-promql", help="check PromQL with Prometheus's parser (promtool)")] = True,
) -> None:
    """Validate files: shape, the names they give (severities, roles, faults, remediations, alerts, metrics)
    and their PromQL; exit 2 on the first bad one."""
    from gameday.validation import Validator

    validator = Validator(runbook, promql=promql)
    for path in files:
        typer.echo(f"{path}: ok ({validator.validate(path)})")


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
    """Core commands, then every ``gameday.commands`` entry point (the simulator's, the drills', ...)."""
    from gameday.plugins import COMMANDS, STALE_INSTALL, group
    from gameday.scoring.cli import register as register_scoring

    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    if "score" not in names:
        register_scoring(app)
    if "history" not in names:
        from gameday.history.cli import register as register_history

        register_history(app)
    plugins = group(COMMANDS)
    if not plugins:
        Console(stderr=True).print(STALE_INSTALL, highlight=False, soft_wrap=True)
    for entry in plugins:
        entry.load()(app)


def _run_startup_hooks() -> None:
    from gameday.plugins import STARTUP, load

    for hook in load(STARTUP).values():
        hook()


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
    except KeyboardInterrupt:  # Ctrl-C before a command took over the signal (start-up): no traceback
        err.print("[bold red]interrupted[/]", highlight=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
