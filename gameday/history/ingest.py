"""Read what the store keeps -- journals, past incidents' timelines, post-incident reviews -- into plain records.

Everything is read and checked here, before the store is opened: a bad file among several is refused in one line
naming it, and nothing of the batch is written.  Scores and metrics come from the scorer and
:mod:`gameday.metrics`, never from a definition of our own.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gameday.errors import InputError, JournalError
from gameday.journal import Event, EventType, events_frame, journal_meta, read_journal

E = EventType
#: journal source -> what the store calls it.  Only ``incident`` rows are the runbook's incidents (its count,
#: its repeats); drills are exercises, ``sim`` a simulated baseline, ``generated`` an example made up by a script.
KINDS = {"drill": "drill", "timeline": "incident", "incident": "incident", "sim": "sim", "generated": "generated"}
#: Above this many incidents a journal is a simulated batch: its metrics are stored, its incidents not scored.
SCORE_AT_MOST = 50


@dataclass
class IncidentRecord:
    incident: str
    started_at: datetime
    severity: str | None
    fault: str | None
    score: float | None = None
    compliant: bool | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    checks: list[tuple[str, str, str]] = field(default_factory=list)  # (id, title, status)
    roles: list[tuple[str, str]] = field(default_factory=list)  # (role, person)

    @property
    def month(self) -> str:
        return f"{self.started_at.astimezone(UTC):%Y-%m}"


@dataclass
class JournalRecord:
    """One journal (a drill's, a simulated baseline's) or one imported timeline, with its incidents."""

    key: str
    content_hash: str
    source: str
    kind: str
    name: str
    path: str
    team: str | None
    scenario: str | None
    events: list[Event]
    incidents: list[IncidentRecord]
    review: Path | None = None  # the review file its postmortem_filed event names, when it exists


@dataclass
class ReviewRecord:
    incident: str
    content_hash: str
    path: str
    title: str
    root_cause: str
    actions: list[Any]  # gameday.scoring.postmortem.ActionItem


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


def read_journal_file(path: Path, runbook: Any = None) -> JournalRecord:
    """A journal file as a record; anything that is not a journal is an error naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JournalError(path, None, f"cannot read journal: {exc.strerror or exc}") from None
    events = read_journal(path)
    if not events or events[0].type is not E.journal_started:
        raise JournalError(path, "line 1", "not a gameday journal (its first event must be journal_started)")
    first_line = raw.split(b"\n", 1)[0]
    return _record(events, key=digest(first_line), content_hash=digest(raw), path=path, runbook=runbook)


def read_timeline_file(path: Path, runbook: Any = None, day: str | None = None) -> JournalRecord:
    """A past incident's timeline (the runbook's "Incident Timeline" table) through the scorer's importer."""
    from gameday.scoring.timeline import timeline_events

    events = timeline_events(path, date=day)
    raw = path.read_bytes()
    incident = events[0].incident
    return _record(events, key=f"timeline:{incident}", content_hash=digest(raw), path=path, runbook=runbook)


def _record(events: list[Event], *, key: str, content_hash: str, path: Path, runbook: Any) -> JournalRecord:
    from gameday.metrics import metrics_frame
    from gameday.scoring.engine import resolve_runbook, score_events

    meta = journal_meta(events)
    source = str(meta.get("source") or "unknown")
    if source not in KINDS:
        raise JournalError(path, "line 1: data.source", f"unknown source {source!r}; expected one of "
                                                        f"{', '.join(KINDS)}")
    scenario = meta.get("scenario") if isinstance(meta.get("scenario"), dict) else {}
    frame = metrics_frame(events_frame(events, journal=key))
    by_incident: dict[str, list[Event]] = {}
    for event in events:
        by_incident.setdefault(event.incident, []).append(event)
    scores: dict[str, Any] = {}
    if len(frame) <= SCORE_AT_MOST:
        rb = runbook or resolve_runbook(None, meta, path.parent)
        result = score_events(events, rb, journal=str(path), base_dir=path.parent)
        scores = {i.incident: i for i in result.incidents}
    incidents = []
    for row in frame.itertuples(index=False):
        own = by_incident.get(row.incident, [])
        scored = scores.get(row.incident)
        severity = (scored.severity_used if scored is not None else None) or row.severity
        incidents.append(IncidentRecord(
            incident=row.incident, started_at=_started(own, events[0]), severity=severity,
            fault=_fault(own, scenario), score=scored.score if scored is not None else None,
            compliant=scored.compliant if scored is not None else None,
            metrics={m: (None if _nan(getattr(row, m)) else float(getattr(row, m))) for m in _metric_ids()},
            checks=[(c.id, c.title, c.status.value) for c in scored.checks] if scored is not None else [],
            roles=[(role, person) for role, people in scored.roles.items() for person in people]
            if scored is not None else [],
        ))
    if not incidents:
        raise JournalError(path, None, "holds no incident (no fault, alert, declaration or close)")
    review = _review_path(events, path)
    return JournalRecord(key=key, content_hash=content_hash, source=source, kind=KINDS[source],
                         name=events[0].incident if len(incidents) == 1 else path.stem, path=str(path),
                         team=str(meta["team"]) if meta.get("team") else None,
                         scenario=str(scenario.get("name")) if scenario.get("name") else None,
                         events=events, incidents=incidents, review=review)


def _metric_ids() -> list[str]:
    from gameday.metrics import METRICS

    return [m.id for m in METRICS]


def _nan(value: Any) -> bool:
    return value is None or value != value


def _started(own: list[Event], first: Event) -> datetime:
    """When the incident began (gameday.metrics' *started*: the fault or incident start, else its first
    lifecycle event), as a date for the monthly counts."""
    from gameday.metrics import LIFECYCLE

    for kinds in ({E.fault_injected, E.incident_started}, LIFECYCLE):
        for event in own:
            if event.type in kinds:
                return event.ts
    return own[0].ts if own else first.ts


def _fault(own: list[Event], scenario: dict[str, Any]) -> str | None:
    for event in own:
        if event.type is E.fault_injected and event.data.get("fault"):
            return str(event.data["fault"])
    fault = scenario.get("fault")
    return str(fault.get("type")) if isinstance(fault, dict) and fault.get("type") else None


def _review_path(events: list[Event], journal: Path) -> Path | None:
    for event in events:
        if event.type is E.postmortem_filed and event.data.get("path"):
            candidate = Path(str(event.data["path"]))
            candidate = candidate if candidate.is_absolute() else journal.parent / candidate
            if candidate.is_file():
                return candidate
    return None


def is_review(path: Path) -> bool:
    """A post-incident review opens with the template's ``# Post-Incident Review`` heading."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return False
    return re.search(r"^#\s+Post-Incident Review\b", head, re.MULTILINE) is not None


def read_review_file(path: Path, incident: str | None = None) -> ReviewRecord:
    """A post-incident review: its incident (the heading's id, else ``incident``), root cause and action items."""
    from gameday.runbook.markdown import parse_sections, repair
    from gameday.scoring.postmortem import action_items, root_cause

    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot read review: {getattr(exc, 'strerror', None) or exc}") from None
    root = parse_sections(repair(text))
    title = next((s.title for s in root.walk() if s.level == 1), "")
    named = re.search(r"Post-Incident Review:?\s*(\S+)", title)
    ident = (named.group(1) if named else None) or incident
    if not ident:
        raise InputError(path, "title", "names no incident ('# Post-Incident Review: <incident id>')")
    actions = action_items(root)  # an item without a real due date is kept undated (listed last), as scored
    return ReviewRecord(incident=ident, content_hash=digest(raw), path=str(path), title=title,
                        root_cause=root_cause(root), actions=actions)


def parse_month(text: str) -> date:
    """``YYYY-MM`` -> the first of that month; anything else names the option."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InputError(None, "--month", f"not a month: {text!r} (use YYYY-MM)")
    return date(int(match.group(1)), int(match.group(2)), 1)


def event_frame(record: JournalRecord) -> Any:
    """The journal's events as the ``events`` table's columns (runbook minutes already scaled): a DataFrame, so a
    simulated baseline of thousands of incidents goes in as one insert."""
    frame = events_frame(record.events, journal=record.key)
    frame.insert(0, "key", record.key)
    frame["data"] = frame["data"].map(lambda d: json.dumps(d, sort_keys=True, default=str))
    return frame[["key", "incident", "seq", "ts", "t", "runbook_minutes", "type", "actor", "data"]]
