"""``gameday report``: a journal (or timeline) -> HTML + Markdown report, chart and template drafts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gameday.errors import InputError


def report(
    journal: Annotated[Path | None, typer.Argument(help="journal .jsonl")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for report.html, report.md, timeline.png, drafts/")] = Path(
        "report"
    ),
    timeline: Annotated[Path | None, typer.Option("--timeline", help="report on a markdown timeline instead")] = None,
    runbook: Annotated[Path | None, typer.Option("--runbook", help="runbook markdown; default: the journal's")] = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="scoring file overriding weights.yaml")] = None,
    date: Annotated[str | None, typer.Option("--date", help="date of a timeline without one (YYYY-MM-DD)")] = None,
) -> None:
    """Write an HTML and a Markdown report with a timeline chart, the score table and template drafts."""
    from gameday.report.build import build_report

    if (journal is None) == (timeline is None):
        raise InputError(None, "JOURNAL", "give either a journal file or --timeline FILE.md (not both)")
    written = build_report(journal=journal, timeline=timeline, out=out, runbook=runbook, weights=weights, date=date)
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
