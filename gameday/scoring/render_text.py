"""The terminal view of a score (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from gameday.metrics import METRICS
from gameday.scoring.result import IncidentScore, JournalScore, Status

_STYLE = {Status.passed: "green", Status.failed: "bold red", Status.not_applicable: "dim"}


def print_score(result: JournalScore, console: Console) -> None:
    for incident in result.incidents:
        _print_incident(incident, console)
    for note in result.notes:
        console.print(f"[dim]{note}[/]")
    if len(result.incidents) > 1:
        console.print(f"[bold]Aggregate score: {_score(result.score)}[/] over {len(result.incidents)} incidents")
        titles = {m.id: f"{m.title} ({m.span})" for m in METRICS}
        for metric_id, value in result.metric_means.items():
            console.print(f"Mean {titles.get(metric_id, metric_id)}: {value:.1f} runbook min")
        if result.compliance is not None:
            console.print(f"Compliance: {result.compliance:.0%} of incidents met every runbook target that applies")


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}/100"


def _print_incident(incident: IncidentScore, console: Console) -> None:
    sev = incident.severity_used or "unknown severity"
    table = Table(title=f"Incident {incident.incident} ({incident.source}, {sev}) — score {_score(incident.score)}",
                  expand=True)
    # the sentences (observed, feedback) get the room; result and weight never wrap
    for column, ratio in (("check", 3), ("result", None), ("weight", None), ("expected", 3), ("observed", 4),
                          ("feedback", 5)):
        table.add_column(column, overflow="fold", ratio=ratio, no_wrap=ratio is None)
    for check in incident.checks:
        style = _STYLE[check.status]
        table.add_row(check.title, f"[{style}]{check.status.value}[/]", f"{check.weight:g}", check.expected,
                      check.observed, check.feedback)
    console.print(table)
    skipped = incident.not_applicable
    if skipped:
        console.print(
            f"[dim]{len(skipped)} check(s) not applicable and excluded from the score "
            f"({incident.points:g} of {incident.possible:g} applicable points earned): "
            + ", ".join(c.id for c in skipped) + "[/]"
        )
    metrics = Table(title="Metrics (runbook minutes, from → to: see the README's metrics glossary)")
    for column in ("metric", "from → to", "minutes", "target", "met"):
        metrics.add_column(column)
    for metric in incident.metrics:
        met = "—" if metric.met is None else ("[green]yes[/]" if metric.met else "[red]no[/]")
        metrics.add_row(
            metric.title,
            metric.span,
            "—" if metric.minutes is None else f"{metric.minutes:.1f}",
            metric.target_text or ("—" if metric.target_minutes is None else f"< {metric.target_minutes:g}"),
            met,
        )
    console.print(metrics)
    if incident.compliant is not None:
        verdict = "[green]yes[/]" if incident.compliant else "[red]no[/]"
        console.print(f"Compliant with the runbook's targets: {verdict} "
                      "[dim](every target that applies met; a milestone not recorded counts as not met)[/]")
    if incident.actors:
        people = Table(title="Responders")
        for column in ("actor", "roles", "events", "first event (runbook min after journal start)", "what"):
            people.add_column(column, overflow="fold")
        for actor in incident.actors:
            what = ", ".join(f"{k}×{v}" for k, v in sorted(actor.by_type.items()))
            people.add_row(actor.actor, ", ".join(actor.roles), str(actor.events),
                           "—" if actor.first_minutes is None else f"{actor.first_minutes:.1f}", what)
        console.print(people)
