"""Turn a markdown incident timeline (the runbook's "Incident Timeline" table) into journal events.

This is how past real incidents are scored: each row's text is matched against a few phrase rules
("alert ... firing", "declared SEV-1", "rollback", "restored", "closed") and becomes one or more events at
that time.  "Service restored" is the verification (time to restore); the incident is resolved when it
is closed after the stability watch, as the runbook's own incident says (15:30 "INCIDENT RESOLVED").
Rows no rule understands are kept as ``note`` events so nothing is silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gameday.errors import InputError
from gameday.journal import Event, EventType
from gameday.runbook.markdown import parse_sections, repair, tables_in

E = EventType
#: Time-zone abbreviations seen in runbooks ("Time (KST)"); anything else must be an IANA name or UTC.
ZONES = {"KST": "Asia/Seoul", "JST": "Asia/Tokyo", "UTC": "UTC", "GMT": "UTC", "CET": "Europe/Berlin",
         "EST": "America/New_York", "PST": "America/Los_Angeles", "IST": "Asia/Kolkata"}

Rule = tuple[re.Pattern[str], EventType, Callable[[re.Match[str], str], dict[str, Any]]]


_ACTION_KINDS = {"hotfix": "hotfix", "restart": "restart", "restarted": "restart", "scale": "scale",
                 "scaled": "scale", "failover": "failover"}


def _text(_: re.Match[str], row: str) -> dict[str, Any]:
    return {"text": row}


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


#: Whom a row says was told: capitalised words ("VP Product", "Customer Support Lead"), not users or customers.
_WHO = r"(?!users\b|customers\b|stakeholders\b)((?-i:[A-Z][\w-]*(?: [A-Z][\w-]*){0,3}))"

RULES: list[Rule] = [
    (_rx(r"\bdeploy(ed|ment)?\b.*\b(start|began|rolled out|released)|\b(impact|outage|errors?) (began|started)"),
     E.incident_started, _text),
    (_rx(r"\balert\b"), E.alert_firing,
     lambda m, row: {"text": row, "alertname": (re.findall(r"alert:?\s*([A-Z][A-Za-z0-9]+)", row) or [""])[0]}),
    (_rx(r"\b(detected|user reports?|reported by)\b"), E.detected, lambda m, row: {"text": row, "via": "timeline"}),
    (_rx(r"\bpag(ed|ing)\b"), E.paged, _text),
    (_rx(r"\backnowledged\b|\backed\b"), E.acknowledged, _text),
    (_rx(r"declared\s*(?:as\s*)?(SEV-?\s*\d)"), E.severity_declared,
     lambda m, row: {"text": row, "severity": "SEV-" + re.sub(r"\D", "", m.group(1))}),
    (_rx(r"\bwar room\b"), E.war_room_created, _text),
    (_rx(r"\b(status update|status page|update #?\d+ posted|stakeholders? (notified|updated))"), E.status_update,
     _text),
    # Phase 4 (gameday.journal's communication events): what a past incident's table says was sent
    (_rx(r"\bstatus page\b[^.;]*?(?:\b(?:to|as|now|reads?)|:)\s*[\"'“]?((?-i:[A-Z][a-z]+))\b"), E.status_page,
     lambda m, row: {"message": row, "status": m.group(1)}),
    (_rx(r"\b(initial|first) (user |customer |external )?(notification|notice)|\b(users|customers) "
         r"(notified|informed|told)\b(?!.*\b(restored|resolved)\b)"), E.external_notice,
     lambda m, row: {"message": row, "kind": "initial"}),
    (_rx(r"\bresolution (notification|notice)|\b(users|customers) (notified|informed|told)\b.*\b(restored|resolved)"),
     E.external_notice, lambda m, row: {"message": row, "kind": "resolution"}),
    (_rx(rf"\b(?:notified|informed|told|escalated to)[: ]+(?:the )?{_WHO}|{_WHO} (?:was )?(?:notified|informed)\b"),
     E.notified, lambda m, row: {"message": row, "who": (m.group(1) or m.group(2)).strip()}),
    (_rx(r"\bdeclar(ed|ation)\b.*\bin #[\w-]+|\bdeclaration (posted|message)\b"), E.declaration_posted,
     lambda m, row: {"message": row, "channel": (re.findall(r"#[\w-]+", row) or [None])[0]}),
    (_rx(r"\b(root cause identified|hypothes[ie]s|suspect(ed)?)\b"), E.hypothesis, _text),
    (_rx(r"\b(rollback|rolled back|revert(ed)?)\b"), E.action, lambda m, row: {"text": row, "kind": "rollback"}),
    (_rx(r"\b(hotfix|restart(ed)?|scaled?|failover)\b"), E.action,
     lambda m, row: {"text": row, "kind": _ACTION_KINDS.get(m.group(1).lower(), "fix")}),
    (_rx(r"\b(mitigat\w*|error rate (dropping|falling|recover\w*)|pods healthy)\b"), E.mitigated, _text),
    # "Service restored, monitoring stability" is the verification the stability watch starts from; the
    # runbook posts "INCIDENT RESOLVED" only when the watch held, at close (see gameday.metrics).
    (_rx(r"\b(verif\w*|restored|recovered|monitoring stability)\b"), E.verified, _text),
    (_rx(r"\bresolved\b"), E.resolved, _text),
    (_rx(r"\bclosed\b"), E.closed, _text),
    (_rx(r"\b(post-?mortem|post-incident review) (filed|published|written)\b"), E.postmortem_filed, _text),
]


def _zone(header: str) -> ZoneInfo:
    match = re.search(r"\(([^)]+)\)", header)
    name = match.group(1).strip() if match else "UTC"
    try:
        return ZoneInfo(ZONES.get(name.upper(), name))
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _parse_time(cell: str) -> tuple[date | None, time]:
    match = re.match(r"^\s*(?:(\d{4}-\d{2}-\d{2})[ T])?(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$", cell)
    if not match:
        raise ValueError(cell)
    day = date.fromisoformat(match.group(1)) if match.group(1) else None
    return day, time(int(match.group(2)), int(match.group(3)), int(match.group(4) or 0))


def timeline_events(path: str | Path, *, date: str | None = None) -> list[Event]:
    """Events of the timeline at ``path`` (``t`` = seconds since its first row, time_scale 1)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot read timeline: {getattr(exc, 'strerror', None) or exc}") from None
    root = parse_sections(repair(text))
    table, heading = None, ""
    for section in root.walk():
        for candidate in tables_in(section.tokens):  # this section's own tables, not its children's
            if candidate.column("time") is not None and candidate.column("event", "what") is not None:
                table, heading = candidate, section.title
                break
        if table:
            break
    if table is None:
        raise InputError(path, "timeline", "no table with 'Time' and 'Event' columns")
    incident_match = re.search(r"(\d{4}-\d{2}-\d{2}(?:-\w+)?)", heading)
    incident = incident_match.group(1) if incident_match else path.stem
    day_text = date or (incident_match.group(1)[:10] if incident_match else None)
    time_col = table.column("time")
    event_col = table.column("event", "what")
    assert time_col is not None and event_col is not None
    zone = _zone(table.header[time_col])
    try:
        current_day = datetime.strptime(day_text, "%Y-%m-%d").date() if day_text else None
    except ValueError:
        raise InputError(path, "--date", f"not a date: {day_text!r} (use YYYY-MM-DD)") from None

    moments: list[tuple[datetime, str]] = []
    previous: datetime | None = None
    for number, row in enumerate(table.rows, start=1):
        try:
            row_day, clock = _parse_time(row[time_col])
        except (ValueError, IndexError):
            raise InputError(path, f"timeline row {number}", f"cannot read time {row[time_col]!r} (HH:MM)") from None
        if row_day is not None:
            current_day = row_day
        if current_day is None:
            raise InputError(path, "date", "no date in the heading or the rows; pass --date YYYY-MM-DD")
        moment = datetime.combine(current_day, clock, tzinfo=zone)
        if previous is not None and moment < previous:  # the table crossed midnight
            moment += timedelta(days=1)
            current_day = moment.date()
        previous = moment
        moments.append((moment, row[event_col] if event_col < len(row) else ""))
    if not moments:
        raise InputError(path, "timeline", "the table has no rows")

    start = moments[0][0]
    events: list[Event] = []

    def add(kind: EventType, at: datetime, data: dict[str, Any], actor: str = "timeline") -> None:
        events.append(Event(ts=at.astimezone(UTC), t=(at - start).total_seconds(), seq=len(events),
                            incident=incident, type=kind, actor=actor, data=data))

    add(E.journal_started, start, {"source": "timeline", "time_scale": 1.0, "runbook": "",
                                    "timeline": str(path), "timezone": str(zone)}, actor="gameday")
    for moment, row_text in moments:
        matched = False
        for pattern, kind, build in RULES:
            found = pattern.search(row_text)
            if found:
                add(kind, moment, build(found, row_text))
                matched = True
        if not matched:
            add(E.note, moment, {"text": row_text})
    return events
