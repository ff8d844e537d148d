"""Drafts of the runbook's own templates ("Incident Timeline", "Post-Incident Review", "Status Page
Update", ...) filled from the journal.

The runbook's text is kept; only what the journal knows is replaced: ``**Label**: value`` lines get our
value, the timeline table gets our rows, and the review gets our timeline, hypothesis, what went well or
poorly (from the checks) and one action item per failed check.  Anything we cannot know stays a
``[bracketed]`` prompt for the team.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from gameday.journal import Event, EventType
from gameday.metrics import Milestone
from gameday.report.clock import RunbookClock
from gameday.runbook.model import Runbook
from gameday.scenario import ActionItem, ReviewNotes
from gameday.scoring.postmortem import template_shape
from gameday.scoring.result import IncidentScore, Status
from gameday.scoring.view import IncidentView

E = EventType
DRAFT_NAMES = (
    "Slack Incident Declaration",
    "Initial Notification",
    "Status Page Update",
    "Resolution Notification",
    "Incident Timeline",
    "Post-Incident Review",
)
_LABEL = re.compile(r"^(?P<lead>\s*(?:[-*]\s+)?)(?P<b1>\*\*)?(?P<label>[A-Za-z][A-Za-z /()-]{0,40}?)(?P<b2>\*\*)?"
                    r":(?P<b3>\*\*)?(?P<space>\s*)(?P<value>.*)$")


@dataclass
class Facts:
    """Everything the templates ask for, worked out once from the journal."""

    incident: str
    severity: str
    summary: str
    impact: str
    detected: str
    date: str
    started: str
    ended: str
    duration: str
    status: str
    ic: str
    tl: str
    war_room: str
    root_cause: str
    resolution: str
    restored_at: str  # the service was restored (verified): the stability watch started
    last_update: str
    updates: int
    update_minutes: str
    zone: str


def _event_text(event: Event) -> str:
    data = event.data
    if data.get("text") and (event.actor == "timeline" or event.type in (E.note, E.hypothesis)):
        return str(data["text"])  # imported timeline rows keep their own words
    who = event.actor
    return {
        E.fault_injected: f"Fault injected: {data.get('fault', '')}",
        E.incident_started: f"Incident began ({data.get('severity', '')})",
        E.alert_firing: f"Alert {data.get('alertname', '')} firing",
        E.alert_resolved: f"Alert {data.get('alertname', '')} resolved",
        E.detected: f"Detected via {data.get('via', 'unknown')}",
        E.paged: f"Paged {data.get('who', 'on-call')}",
        E.acknowledged: f"Acknowledged by {who}",
        E.severity_declared: f"Incident declared {data.get('severity', '')} by {who}",
        E.role_assigned: f"{data.get('role', '')}: {data.get('person', '')}",
        E.war_room_created: f"War room {data.get('channel', '')} created",
        E.escalated: f"Escalated to level {data.get('level', '')} {data.get('role', '')}".rstrip(),
        E.status_update: f"Status update by {who}: {data.get('message', '')}".rstrip(": "),
        E.hypothesis: f"Hypothesis ({who}): {data.get('text', '')}",
        E.action: f"Action by {who}: {data.get('kind', '')} {data.get('target', '')}".rstrip(),
        E.mitigated: "Impact mitigated",
        E.verified: f"Service restored, verified by {who}; monitoring stability",
        E.resolved: "Incident resolved (stable through the watch)",
        E.closed: "Incident closed",
        E.postmortem_filed: "Post-incident review filed",
    }.get(event.type, event.type.value)


TIMELINE_TYPES = {
    E.fault_injected, E.incident_started, E.alert_firing, E.detected, E.paged, E.acknowledged,
    E.severity_declared, E.war_room_created, E.escalated, E.status_update, E.hypothesis, E.action,
    E.mitigated, E.verified, E.resolved, E.closed, E.note,
}


def facts_for(view: IncidentView, score: IncidentScore, clock: RunbookClock, runbook: Runbook) -> Facts:
    scenario = view.scenario
    first = view.events[0]
    last = view.first(E.closed) or view.first(E.resolved) or view.events[-1]
    detection = view.first(E.alert_firing, E.detected) or first
    hypothesis = view.first(E.hypothesis)
    actions = view.all(E.action)
    times = view.milestones()
    resolved, restored = times[Milestone.resolved], times[Milestone.restored]
    updates = view.all(E.status_update)
    roles = view.roles()
    severity = score.severity_declared or score.severity_used or "SEV-?"
    interval = None
    if score.severity_used:
        try:
            interval = runbook.severity(score.severity_used).update_interval_minutes
        except KeyError:
            interval = None
    minutes = view.minutes(last) - view.minutes(first)
    alert = view.first(E.alert_firing)
    summary = scenario.get("title") or (f"{alert.data.get('alertname')} firing" if alert else _event_text(first))
    war_room = view.first(E.war_room_created)
    return Facts(
        incident=view.incident,
        severity=severity,
        summary=str(summary),
        impact=str(scenario.get("description") or ("User-facing errors" if scenario.get("user_facing", True)
                                                   else "No user impact")),
        detected=clock.stamp(detection),
        date=clock.at(first).strftime("%Y-%m-%d"),
        started=clock.hhmm(first),
        ended=clock.hhmm(last),
        duration=f"{minutes:.0f} minutes ({clock.hhmm(first)} - {clock.hhmm(last)} {clock.zone_label})",
        status="Resolved" if resolved is not None else (
            "Monitoring" if restored is not None else ("Identified" if hypothesis else "Investigating")),
        ic="@" + roles["IC"][0] if roles.get("IC") else "@[username]",
        tl="@" + roles["TL"][0] if roles.get("TL") else "@[username]",
        war_room=str(war_room.data.get("channel") or f"#incident-{view.incident}") if war_room
        else f"#incident-{view.incident}",
        root_cause=str(hypothesis.data.get("text") or "[root cause]") if hypothesis else "[root cause]",
        resolution=", ".join(dict.fromkeys(str(a.data.get("kind", "fix")) for a in actions)) or "[resolution]",
        restored_at=f"{clock.at_minute(restored).strftime('%H:%M')} {clock.zone_label}" if restored is not None
        else "[time]",
        last_update=clock.stamp(updates[-1]) if updates else clock.stamp(last),
        updates=len(updates),
        update_minutes=f"{interval:g} minutes" if interval else "[interval]",
        zone=clock.zone_label,
    )


def fill_labels(template: str, values: dict[str, str]) -> str:
    """Replace the value of every ``Label: value`` / ``**Label**: value`` line whose label we know."""
    out = []
    for line in template.splitlines():
        match = _LABEL.match(line)
        key = match.group("label").strip().lower() if match else None
        if match and key in values:
            b1, b2, b3 = match.group("b1") or "", match.group("b2") or "", match.group("b3") or ""
            line = f"{match.group('lead')}{b1}{match.group('label')}{b2}:{b3}{match.group('space') or ' '}{values[key]}"
        out.append(line)
    return "\n".join(out) + "\n"


def timeline_table(view: IncidentView, clock: RunbookClock, template: str | None) -> str:
    heading = f"## Incident Timeline: {view.incident}"
    header = "| Time (UTC) | Event |"
    if template:
        for line in template.splitlines():
            if line.startswith("#"):
                heading = re.sub(r":.*$", f": {view.incident}", line)
            elif line.startswith("|") and re.search(r"time", line, re.IGNORECASE):
                header = re.sub(r"\(([^)]*)\)", f"({clock.zone_label})", line, count=1)
                break
    columns = [c.strip() for c in header.strip().strip("|").split("|")]
    header = "| " + " | ".join(columns) + " |"
    rows = list(dict.fromkeys(  # one imported row may have become several events
        f"| {clock.hhmm(e)} | {_event_text(e).replace('|', '/')} |"
        for e in view.events
        if e.type in TIMELINE_TYPES
    ))
    separator = "| " + " | ".join("-" * max(3, len(c)) for c in columns) + " |"
    return "\n".join([heading, "", header, separator, *rows]) + "\n"


def review_draft(view: IncidentView, score: IncidentScore, facts: Facts, clock: RunbookClock,
                 template: str, notes: ReviewNotes | None = None) -> str:
    """The review; ``notes`` (from the scenario, which knows its fault) fill root cause, whys and actions."""
    shape = template_shape(template)
    chunks = re.split(r"^## ", template, flags=re.MULTILINE)
    first_line = chunks[0].strip().splitlines()[0] if chunks[0].strip() else "# Post-Incident Review"
    out = [re.sub(r":.*$", f": {view.incident}", first_line), ""]
    passed = [c for c in score.checks if c.status is Status.passed]
    failed = [c for c in score.checks if c.status is Status.failed]
    for chunk in chunks[1:]:
        title, _, body = chunk.partition("\n")
        low = title.lower()
        out += [f"## {title.strip()}", ""]
        if "summary" in low:
            values = {"date": facts.date, "duration": facts.duration, "severity": facts.severity,
                      "impact": facts.impact}
            out.append(fill_labels(body.strip(), values).rstrip())
        elif "timeline" in low:
            table = timeline_table(view, clock, None).split("\n", 2)[2]
            out.append(table.rstrip())
        elif "root cause" in low:
            out.append(notes.root_cause if notes else facts.root_cause)
        elif "why" in low and notes:
            out += [f"{n}. {why}" for n, why in enumerate(notes.whys, start=1)]
        elif "why" in low:
            out += [f"{n}. Why [...]? → [...]" if n > 1 else f"1. Why did it happen? → {facts.root_cause}"
                    for n in range(1, shape.whys + 1)]
        elif "well" in low:
            out += [f"- {c.feedback}" for c in passed] or ["- [what went well]"]
        elif "poor" in low:
            out += [f"- {c.feedback}" for c in failed] or ["- [what went poorly]"]
        elif "action" in low:
            columns = shape.action_columns or ["Action", "Owner", "Due Date", "Priority"]
            out.append("| " + " | ".join(columns) + " |")
            out.append("| " + " | ".join("-" * len(c) for c in columns) + " |")
            if notes:
                out += [_action_row(item, columns, date.fromisoformat(facts.date)) for item in notes.action_items]
            for check in ([] if notes else failed):
                cells = {"action": f"Improve: {check.title.lower()}", "owner": "[owner]",
                         "due": "[YYYY-MM-DD]", "priority": "High"}
                out.append("| " + " | ".join(
                    next((v for k, v in cells.items() if k in col.lower()), "") for col in columns) + " |")
            if not failed and not notes:
                out.append("| " + " | ".join("[...]" for _ in columns) + " |")
        else:
            out.append(f"[{title.strip().lower()}]")
        out.append("")
    return "\n".join(out)


def _action_row(item: ActionItem, columns: list[str], start: date) -> str:
    """One action-item row; the due date is the drill's date plus the item's days, ISO."""
    cells = {"action": item.action, "owner": item.owner, "due": (start + timedelta(days=item.due_in_days)).isoformat(),
             "date": (start + timedelta(days=item.due_in_days)).isoformat(), "priority": item.priority}
    return "| " + " | ".join(
        next((v.replace("|", "/") for k, v in cells.items() if k in col.lower()), "") for col in columns) + " |"


def drafts_for(view: IncidentView, score: IncidentScore, runbook: Runbook, clock: RunbookClock) -> dict[str, str]:
    """Template name -> filled draft, for every template the runbook has (the six named ones first)."""
    facts = facts_for(view, score, clock, runbook)
    values = {
        "severity": facts.severity, "summary": facts.summary, "impact": facts.impact, "detected": facts.detected,
        "ic": facts.ic, "tl": facts.tl, "war room": facts.war_room, "title": facts.summary,
        "status": facts.status, "current status": facts.status, "updated": facts.last_update,
        "message": f"{facts.summary}. Current status: {facts.status.lower()}.",
        "estimated resolution": f"TBD (next update in {facts.update_minutes})",
        "root cause": facts.root_cause, "resolution": facts.resolution,
        "duration": facts.duration, "follow-up actions": "See post-incident review",
        "next update": f"in {facts.update_minutes}",
    }
    # what each message says at the moment it is sent, not at the end of the incident
    overrides = {"Initial Notification": {"current status": "Investigating", "status": "Investigating"},
                 "Slack Incident Declaration": {"status": "Investigating"}}
    times = {"Resolution Notification": facts.restored_at, "Incident Resolved": f"{facts.ended} {facts.zone}",
             "Status Update": facts.last_update.split(" ", 1)[1], "Status Page Update": facts.last_update}
    out: dict[str, str] = {}
    names = [n for n in DRAFT_NAMES if n in runbook.templates] + [
        n for n in runbook.templates if n not in DRAFT_NAMES
    ]
    for name in names:
        template = runbook.templates[name]
        if name == "Incident Timeline":
            out[name] = timeline_table(view, clock, template)
        elif name == "Post-Incident Review":
            out[name] = review_draft(view, score, facts, clock, template)
        else:
            moment = times.get(name, facts.detected.split(" ", 1)[1])
            text = re.sub(r"\b\d{1,2}:\d{2} [A-Z]{2,4}\b", moment, template)
            text = re.sub(r"Update #\d+", f"Update #{max(facts.updates, 1)}", text)
            out[name] = fill_labels(text, values | overrides.get(name, {}))
    return out
