"""Put it together: split a journal into incidents, run every check and metric, weigh, aggregate."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from statistics import fmean

from gameday.errors import JournalError, RunbookLookupError
from gameday.journal import Event, EventType, journal_meta, read_journal
from gameday.references import check_journal
from gameday.runbook import Runbook, load_runbook
from gameday.scoring.catalogue import CHECKS
from gameday.scoring.metrics import compute_metrics
from gameday.scoring.registry import Context
from gameday.scoring.result import ActorSummary, IncidentScore, JournalScore, Status
from gameday.scoring.view import IncidentView, person_name, split_incidents
from gameday.scoring.weights import DEFAULT_WEIGHTS, ScoringConfig, load_weights


def resolve_runbook(explicit: str | Path | None, meta: dict, base_dir: Path | None = None) -> Runbook:
    """``--runbook`` wins; then the runbook the journal names (if it still exists, relative paths taken
    from the journal's folder); then the shipped one."""
    if explicit:
        return load_runbook(explicit)
    named = meta.get("runbook")
    if named:
        candidate = Path(str(named))
        if not candidate.is_absolute() and base_dir is not None and (base_dir / candidate).is_file():
            candidate = base_dir / candidate
        if candidate.is_file():
            return load_runbook(str(candidate))
    return load_runbook()


def _expected_severity(view: IncidentView) -> str | None:
    expected = view.scenario.get("expected_severity")
    if expected:
        return str(expected).upper()
    started = view.first(EventType.incident_started)
    if started is not None and started.data.get("severity"):
        return str(started.data["severity"]).upper()
    return None


def _actors(view: IncidentView, roles: dict[str, list[str]]) -> list[ActorSummary]:
    by_actor: dict[str, Counter] = {}
    first: dict[str, float] = {}
    for event in view.events:
        name = person_name(event.actor)
        by_actor.setdefault(name, Counter())[event.type.value] += 1
        first.setdefault(name, round(view.minutes(event), 3))
    people_roles: dict[str, list[str]] = {}
    for role, people in roles.items():
        for person in people:
            people_roles.setdefault(person, []).append(role)
            by_actor.setdefault(person, Counter())
    return [
        ActorSummary(
            actor=name,
            roles=people_roles.get(name, []),
            events=sum(counts.values()),
            by_type=dict(counts),
            first_minutes=first.get(name),
        )
        for name, counts in by_actor.items()
    ]


def score_incident(view: IncidentView, runbook: Runbook, config: ScoringConfig) -> IncidentScore:
    expected = _expected_severity(view)
    declared = view.declared_severity()
    severity = expected or declared
    ctx = Context(view, runbook, config, expected, declared, severity)
    weights = config.weights.model_dump()
    checks = []
    for check in CHECKS:
        result = check(ctx)
        checks.append(result.model_copy(update={"weight": float(weights[result.id])}))
    applicable = [c for c in checks if c.status is not Status.not_applicable]
    possible = sum(c.weight for c in applicable)
    points = sum(c.weight for c in applicable if c.status is Status.passed)
    roles = view.roles()
    metrics, compliant = compute_metrics(view, runbook, severity)
    return IncidentScore(
        incident=view.incident,
        source=view.source,
        severity_expected=expected,
        severity_declared=declared,
        severity_used=severity,
        score=round(100.0 * points / possible, 1) if possible else None,
        points=points,
        possible=possible,
        checks=checks,
        metrics=metrics,
        compliant=compliant,
        actors=_actors(view, roles),
        roles=roles,
    )


def score_events(
    events: list[Event],
    runbook: Runbook,
    config: ScoringConfig | None = None,
    *,
    journal: str = "",
    base_dir: Path | None = None,
    weights_source: str = "",
) -> JournalScore:
    config = config or load_weights()
    check_journal(events, runbook, journal or None)  # the severities, roles and faults it names exist
    views = split_incidents(events, base_dir or Path("."))
    try:
        incidents = [score_incident(view, runbook, config) for view in views]
    except RunbookLookupError as exc:  # the journal names what the runbook lacks (a hand-edited SEV-9)
        raise JournalError(journal or None, exc.field, f"{exc.problem} in {exc.path}") from None
    scores = [i.score for i in incidents if i.score is not None]
    values: dict[str, list[float]] = {}
    for incident in incidents:
        for metric in incident.metrics:
            if metric.minutes is not None:
                values.setdefault(metric.id, []).append(metric.minutes)
    notes = []
    if not incidents:
        notes.append("no incident events found in the journal")
    if len(incidents) > 1:
        notes.append(f"{len(incidents)} incidents scored separately; the score is their mean")
    return JournalScore(
        journal=journal,
        runbook=runbook.source,
        weights=weights_source or str(DEFAULT_WEIGHTS),
        incidents=incidents,
        score=round(fmean(scores), 1) if scores else None,
        metric_means={k: round(fmean(v), 3) for k, v in values.items()},
        compliance=fmean(bool(i.compliant) for i in incidents) if incidents else None,
        notes=notes,
    )


def score_journal(
    path: str | Path,
    runbook: str | Path | Runbook | None = None,
    weights: str | Path | None = None,
) -> JournalScore:
    """Score a ``.jsonl`` journal file (the API behind ``gameday score``)."""
    path = Path(path)
    events = read_journal(path)
    rb = runbook if isinstance(runbook, Runbook) else resolve_runbook(runbook, journal_meta(events), path.parent)
    return score_events(
        events, rb, load_weights(weights), journal=str(path), base_dir=path.parent,
        weights_source=str(weights or DEFAULT_WEIGHTS),
    )


def score_timeline(
    path: str | Path,
    runbook: str | Path | Runbook | None = None,
    weights: str | Path | None = None,
    *,
    date: str | None = None,
) -> JournalScore:
    """Score a past incident from a markdown timeline table (``gameday score --timeline``)."""
    from gameday.scoring.timeline import timeline_events

    path = Path(path)
    events = timeline_events(path, date=date)
    rb = runbook if isinstance(runbook, Runbook) else resolve_runbook(runbook, {})
    return score_events(
        events, rb, load_weights(weights), journal=str(path), base_dir=path.parent,
        weights_source=str(weights or DEFAULT_WEIGHTS),
    )
