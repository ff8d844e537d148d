"""``gameday score`` (and ``gameday report``, registered alongside): journals and timelines -> scores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gameday.errors import InputError


def score(
    journal: Annotated[Path | None, typer.Argument(help="journal .jsonl to score")] = None,
    timeline: Annotated[
        Path | None, typer.Option("--timeline", help="score a markdown incident timeline table instead")
    ] = None,
    runbook: Annotated[Path | None, typer.Option("--runbook", help="runbook markdown; default: the journal's")] = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="scoring file overriding weights.yaml")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full result as JSON")] = False,
    junit: Annotated[Path | None, typer.Option("--junit", help="also write JUnit XML here")] = None,
    date: Annotated[str | None, typer.Option("--date", help="date of a timeline without one (YYYY-MM-DD)")] = None,
    min_score: Annotated[
        float | None, typer.Option("--min-score", help="exit 1 if the score is below this (for CI)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only the score line (for scripts)")] = False,
) -> None:
    """Score a drill/sim journal, or a past incident's timeline, against the runbook (0-100)."""
    from gameday.scoring.engine import score_journal, score_timeline
    from gameday.scoring.junit import write_junit
    from gameday.scoring.render_text import print_score

    if (journal is None) == (timeline is None):
        raise InputError(None, "JOURNAL", "give either a journal file or --timeline FILE.md (not both)")
    if timeline is not None:
        result = score_timeline(timeline, runbook, weights, date=date)
    else:
        assert journal is not None
        result = score_journal(journal, runbook, weights)
    if junit is not None:
        write_junit(result, junit)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    elif quiet:
        shown = "n/a" if result.score is None else f"{result.score:g}/100"
        typer.echo(f"{result.journal}: score {shown} over {len(result.incidents)} incident(s)")
    else:
        from gameday.terminal import make_console

        print_score(result, make_console())
        if junit is not None:
            typer.echo(f"JUnit XML: {junit}")
    if min_score is not None and (result.score is None or result.score < min_score):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("score")(score)
    from gameday.report.cli import register as register_report

    register_report(app)
