"""What the war room shows, computed from the journal alone (reload the page: the same picture).

Pure functions of (events, runbook, who is looking, now): timeline items, alerts with their values, chart
samples, roles, the status-update countdown, the escalation ladder, the runbook's checklists and the
runbook phase the incident is in (whose steps' commands the page shows first).  Times
are ``t`` (wall seconds since the journal started, like the journal); the page turns them into countdowns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drills.summary import outcome_word
from drills.warroom.card import current_phase
from drills.warroom.redact import NO_REDACTION, Redactor
from gameday.journal import Event, EventType, journal_meta
from gameday.runbook.model import DeclarationStep, Runbook

E = EventType
#: Actors that are machinery, not people: their text may name the fault, so responders see it masked.
SYSTEM_ACTORS = {"runner", "alertmanager", "recovery", "system", "kubernetes", "watch"}
#: Never on the timeline (charts and the room header use them instead).
QUIET = {E.metric_sample, E.journal_started, E.step_started, E.step_finished}
#: Hidden from responders until the fault is revealed: they say when and what was injected.
BLIND = {E.fault_injected, E.fault_reverted}
#: Sample fields the charts draw, in this order (a compact row per sample).
SAMPLE_FIELDS = (
    "error_rate",
    "p95_seconds",
    "pool_in_use",
    "pool_waiting",
    "pool_size",
    "replicas_ready",
    "replicas_desired",
)
#: Alert name -> the sample field that carries its value.
ALERT_VALUES = {
    "HighErrorRate": "error_rate",
    "HighLatencyP95": "p95_seconds",
    "PgBouncerPoolSaturated": "pool_in_use",
    "BackendCrashLooping": "replicas_ready",
    "BackendDown": "replicas_ready",
    "PgBouncerDown": "pool_in_use",
}


@dataclass(frozen=True)
class Viewer:
    """Who looks: the game master sees everything; responders see a blind drill until the reveal."""

    game_master: bool
    redactor: Redactor = NO_REDACTION


def describe(event: Event) -> str:
    """One line of timeline text."""
    d = event.data
    text = {
        E.fault_injected: f"Fault injected: {d.get('fault', '')}"
        + (f" (stage {d['stage']})" if d.get("stage") else ""),
        E.fault_reverted: f"Fault reverted: {d.get('fault', '')}",
        E.fault_revealed: f"Fault revealed: {d.get('fault', '')} — {d.get('title', '')}".rstrip(" —"),
        E.alert_firing: f"Alert {d.get('alertname', '')} firing",
        E.alert_resolved: f"Alert {d.get('alertname', '')} resolved",
        E.detected: f"Detected via {d.get('via', '?')}",
        E.paged: f"Paged {d.get('who', 'on-call')} (level {d.get('level', 1)})",
        E.acknowledged: "Acknowledged",
        E.severity_declared: f"Declared {d.get('severity', '')}",
        E.role_assigned: f"{d.get('role', '')} = {d.get('person', '')}",
        E.war_room_created: f"War room {d.get('channel', '')}",
        E.escalated: f"Escalated to level {d.get('level', '')} {d.get('role', '')}".rstrip(),
        E.notified: f"Notified {d.get('who', '')}" + _to(d),
        E.status_update: f"Status update{_to(d)}: {d.get('message', '')}",
        E.declaration_posted: f"Declaration posted{_to(d)}: {d.get('message', '')}".rstrip(": "),
        E.external_notice: (
            f"{str(d.get('kind', '')).capitalize()} notice to users{_to(d)}: {d.get('message', '')}".rstrip(": ")
        ),
        E.status_page: f"Status page: {d.get('status', '')}{_to(d)} {d.get('message', '')}".rstrip(),
        E.hypothesis: f"Hypothesis: {d.get('text', '')}",
        E.action: f"Action {d.get('kind', '')}: {d.get('detail', '')}".rstrip(": "),
        E.mitigated: f"Mitigated (error rate {_pct(d.get('error_rate'))})",
        E.verified: "Resolution verified",
        E.resolved: "Resolved",
        E.closed: "Closed",
        E.postmortem_filed: "Post-incident review filed",
        E.replica_state: f"{d.get('name', '')} {d.get('state', '')}",
        E.hint: f"Hint: {d.get('text', '')}",
        E.aborted: f"Drill aborted: {d.get('reason', '')}",
        E.drill_ended: f"Drill ended: {outcome_word(d.get('outcome', ''))}",
        E.steady_state: "Steady state " + ("reached" if d.get("ok") else "NOT reached"),
        E.drill_started: "Drill started",
    }.get(event.type)
    if text is None:
        text = str(d.get("text") or event.type.value)
    return text


def _to(data: dict[str, Any]) -> str:
    """`` (Slack, Email)``: the channels a message went to, when it names any."""
    channels = [str(c) for c in data.get("channels") or []]
    return f" ({', '.join(channels)})" if channels else ""


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


def revealed(events: list[Event]) -> bool:
    """Revealed by the game master, or implicitly once the incident is closed or the drill is over."""
    return any(e.type in (E.fault_revealed, E.closed, E.drill_ended) for e in events)


def timeline_item(event: Event, viewer: Viewer, is_revealed: bool) -> dict[str, Any] | None:
    if event.type in QUIET:
        return None
    blind = not viewer.game_master and not is_revealed
    if blind and (event.type in BLIND or (event.type is E.note and event.actor == "runner")):
        return None
    text = describe(event)
    if blind:
        text = viewer.redactor.text(text) if event.actor in SYSTEM_ACTORS else viewer.redactor.ids_only(text)
    return {
        "seq": event.seq,
        "t": round(event.t, 3),
        "type": event.type.value,
        "actor": event.actor,
        "text": text[:2000],
    }


def sample_row(event: Event) -> list[Any]:
    return [event.seq, round(event.t, 3), *(event.data.get(k) for k in SAMPLE_FIELDS)]


class RoomView:
    """Derived panels (everything except the growing lists) for one viewer at one moment."""

    def __init__(self, events: list[Event], runbook: Runbook, viewer: Viewer) -> None:
        self.events = events
        self.runbook = runbook
        self.viewer = viewer
        self.meta = journal_meta(events)
        self.scale = float(self.meta.get("time_scale", 1.0) or 1.0)
        self.revealed = revealed(events)

    # -- small lookups ---------------------------------------------------------------------------------

    def first(self, *types: EventType) -> Event | None:
        return next((e for e in self.events if e.type in types), None)

    def last(self, *types: EventType) -> Event | None:
        return next((e for e in reversed(self.events) if e.type in types), None)

    def wall(self, runbook_minutes: float) -> float:
        """Runbook minutes -> wall seconds of this drill."""
        return runbook_minutes * 60.0 / self.scale

    def latest_sample(self) -> dict[str, Any]:
        sample = self.last(E.metric_sample)
        return dict(sample.data) if sample else {}

    def severity(self) -> str | None:
        declared = self.last(E.severity_declared)
        return str(declared.data.get("severity") or "").upper() or None if declared else None

    # -- panels ----------------------------------------------------------------------------------------

    def alerts(self) -> list[dict[str, Any]]:
        """One row per alert (fingerprint): firing or resolved, since when, its value when it fired."""
        rows: dict[str, dict[str, Any]] = {}
        latest: dict[str, Any] = {}
        for event in self.events:
            if event.type is E.metric_sample:
                latest = event.data
            if event.type not in (E.alert_firing, E.alert_resolved):
                continue
            d = event.data
            key = str(d.get("fingerprint") or d.get("alertname"))
            name = str(d.get("alertname", "?"))
            row = rows.setdefault(
                key,
                {
                    "alertname": name,
                    "severity": d.get("severity"),
                    "fired_t": None,
                    "resolved_t": None,
                    "seq": event.seq,
                },
            )
            annotations = d.get("annotations") or {}
            row["summary"] = str(annotations.get("summary") or "")[:300]
            row["labels"] = {
                k: str(v)[:100] for k, v in (d.get("labels") or {}).items() if k not in ("alertname", "severity")
            }
            field = ALERT_VALUES.get(name)
            value = latest.get(field) if field else None
            if event.type is E.alert_firing:
                row.update(
                    status="firing",
                    fired_t=round(event.t, 3),
                    resolved_t=None,
                    seq=event.seq,
                    value_name=field,
                    value=value,
                    received_at=d.get("received_at"),
                )
            else:
                row.update(status="resolved", resolved_t=round(event.t, 3), seq=event.seq)
        out = sorted(rows.values(), key=lambda r: (r["status"] != "firing", -(r["fired_t"] or 0)))
        return self.viewer.redactor.value(out, full=not self.revealed) if not self.viewer.game_master else out

    def firing(self) -> list[str]:
        return [a["alertname"] for a in self.alerts() if a["status"] == "firing"]

    def roles(self) -> list[dict[str, Any]]:
        held: dict[str, list[str]] = {}
        for event in self.events:
            if event.type is E.role_assigned:
                role = str(event.data.get("role", "")).upper()
                person = str(event.data.get("person") or event.actor)
                held.setdefault(role, [])
                if person not in held[role]:
                    held[role].append(person)
        out = []
        for role in self.runbook.roles:
            people = held.pop(role.abbreviation.upper(), [])
            out.append({"role": role.abbreviation, "name": role.name, "people": people})
        out += [{"role": r, "name": r, "people": p} for r, p in held.items()]
        return out

    def status_update(self) -> dict[str, Any] | None:
        """Next update due: the declared severity's cadence from the last update (or the declaration)."""
        severity = self.severity()
        if severity is None:
            return None
        try:
            sev = self.runbook.severity(severity)
        except KeyError:
            return None
        declared = self.first(E.severity_declared)
        last = self.last(E.status_update)
        done = self.first(E.resolved, E.closed)
        anchor = last if last is not None and declared is not None and last.t >= declared.t else declared
        due = None
        if sev.update_interval_minutes is not None and anchor is not None:
            due = round(anchor.t + self.wall(sev.update_interval_minutes), 3)
        return {
            "severity": sev.name,
            "interval_minutes": sev.update_interval_minutes,
            "text": sev.update_text,
            "channels": sev.update_channels,
            "last_t": round(last.t, 3) if last else None,
            "due_t": None if done else due,
            "count": sum(e.type is E.status_update for e in self.events),
        }

    def communication(self) -> dict[str, Any]:
        """What the runbook asks the team to tell, and by when: the initial notice to users (its minutes from
        detection) and each business notification (its minutes from the declaration; "past N h of outage"
        ones only while the service is not restored), each with the moment it was done, as the scorer times
        them.  Times are ``t``; the page shows "due in 4:10" or "overdue 0:36"."""
        severity = self.severity()
        out: dict[str, Any] = {"severity": severity, "channels": [], "dues": []}
        if severity is None:
            return out
        try:
            out["channels"] = self.runbook.severity(severity).update_channels
        except KeyError:
            return out
        comms, escalation = self.runbook.communication, self.runbook.escalation
        user_facing = bool((self.meta.get("scenario") or {}).get("user_facing", True))
        declared = self.first(E.severity_declared)
        # never the injection: in a blind drill its moment is the game master's secret
        detected = self.first(E.alert_firing, E.detected) or declared
        verified = self.last(E.verified)
        over = self.first(E.resolved, E.closed) is not None
        minutes = self.runbook.external_notification_minutes
        external = (not comms.external_severities or severity in comms.external_severities) and (
            user_facing or not comms.external_user_facing_only
        )
        # the scorer's clock (gameday.scoring.checks_comms.initial_notice): from the declaration
        since, anchor = ("the declaration", declared) if declared is not None else ("detection", detected)
        if minutes is not None and external and anchor is not None:
            sent = next(
                (e for e in self.events if e.type is E.external_notice and e.data.get("kind") == "initial"), None
            )
            out["dues"].append(
                self._due(
                    "initial-notice",
                    "Initial notification to users",
                    f"within {minutes:g} min of {since}",
                    anchor.t,
                    minutes,
                    sent,
                    over,
                )
            )
        business = not escalation.business_severities or severity in escalation.business_severities
        if business and user_facing and declared is not None:
            for note in escalation.business:
                told = next(
                    (
                        e
                        for e in self.events
                        if e.type is E.notified and str(e.data.get("who", "")).lower() == note.who.lower()
                    ),
                    None,
                )
                due = self._due(
                    f"notify:{note.who}",
                    f"Tell {note.who}",
                    note.condition_text,
                    declared.t,
                    note.after_minutes,
                    told,
                    over,
                )
                if note.outage_over and told is None and verified is not None:
                    due.update(due_t=None, note="not needed: the service was restored in time")
                out["dues"].append(due)
        return out

    def _due(
        self, key: str, what: str, rule: str, anchor_t: float, minutes: float, done: Event | None, over: bool
    ) -> dict[str, Any]:
        return {
            "key": key,
            "what": what,
            "rule": rule,
            "done_t": round(done.t, 3) if done else None,
            "due_t": None if over and done is None else round(anchor_t + self.wall(minutes), 3),
            "note": None,
        }

    def ladder(self) -> dict[str, Any]:
        """The technical escalation ladder, counted from acknowledgement while the service is not restored (as
        the simulator and the autopilot do): no rung is due once a verification stands (the stability watch),
        until an alert after it says the problem is back."""
        ack = self.first(E.acknowledged)
        severity = self.severity()
        reached = {int(e.data.get("level") or 0) for e in self.events if e.type in (E.paged, E.escalated)}
        verified = self.last(E.verified)
        restored = verified is not None and not any(e.type is E.alert_firing and e.t > verified.t for e in self.events)
        done = restored or self.first(E.resolved, E.closed) is not None
        rungs = []
        next_due: dict[str, Any] | None = None
        for level in self.runbook.escalation.technical:
            now_due = bool(severity and severity in level.or_severities)
            due_t = None if ack is None else round(ack.t + (0.0 if now_due else self.wall(level.after_minutes)), 3)
            rung = {
                "level": level.level,
                "role": level.role,
                "after_minutes": level.after_minutes,
                "condition": level.condition_text,
                "due_t": due_t,
                "reached": level.level in reached,
            }
            rungs.append(rung)
        waiting = [r for r in rungs if not r["reached"] and not done]
        if waiting:  # the soonest rung not yet paged (an "or SEV-1" rung may come before a lower one)
            next_due = min(waiting, key=lambda r: (r["due_t"] is None, r["due_t"] or 0.0, r["level"]))
        return {"rungs": rungs, "next": next_due, "anchor_t": round(ack.t, 3) if ack else None}

    def checklists(self, now_t: float) -> dict[str, Any]:
        severity = self.severity()
        lists = {
            "declaration": self._declaration(severity),
            "verification": self._verification(),
            "closure": self._closure(now_t),
        }
        if severity is None or not all(i["done"] for i in lists["declaration"]["items"]):
            current = "declaration"
        elif self.first(E.verified) is None:
            current = "verification"
        else:
            current = "closure"
        return {"current": current, "lists": lists}

    def _declaration(self, severity: str | None) -> dict[str, Any]:
        has = {e.type for e in self.events}
        items = [
            {"text": "Acknowledge the page", "done": E.acknowledged in has},
            {"text": "Assess and declare the severity", "done": E.severity_declared in has},
        ]
        roles = {r["role"]: r["people"] for r in self.roles()}
        for abbreviation in required_roles(self.runbook):
            items.append({"text": f"Assign the {abbreviation}", "done": bool(roles.get(abbreviation))})
        for step in self.runbook.declaration_for(severity) if severity else []:
            title = step.title + (f" ({step.condition})" if step.condition else "")
            items.append({"text": title, "done": declaration_step_done(step, has)})
        return {"title": f"Declare incident ({severity or 'severity not declared yet'})", "items": items}

    def _verification(self) -> dict[str, Any]:
        criteria = self.runbook.verification
        sample = self.latest_sample()
        firing = self.firing()
        verified = self.first(E.verified) is not None
        items = [
            {"text": "Hypothesis written down before acting", "done": self.first(E.hypothesis) is not None},
            {"text": "Remediation taken", "done": self.first(E.action) is not None},
        ]
        for text in criteria.checklist:
            items.append({"text": text, "done": verification_item(text, sample, firing, criteria, verified)})
        items.append({"text": "Verification claimed", "done": verified})
        return {"title": "Verify resolution", "items": items}

    def _closure(self, now_t: float) -> dict[str, Any]:
        verified = self.first(E.verified)
        stable_for = self.wall(self.runbook.stability_minutes)
        firing = self.firing()
        realerts = verified is not None and any(e.type is E.alert_firing and e.t > verified.t for e in self.events)
        has = {e.type for e in self.events}
        items = []
        for text in self.runbook.closure_checklist:
            low = text.lower()
            if "criteria" in low:
                done = E.mitigated in has
            elif "stable" in low:
                done = verified is not None and now_t - verified.t >= stable_for
            elif "alert" in low:
                done = not firing and E.alert_firing in has
            elif "recurring" in low:
                done = verified is not None and not realerts and now_t - verified.t >= stable_for
            else:
                done = E.resolved in has
            items.append({"text": text, "done": bool(done)})
        items += [
            {"text": "Resolved", "done": E.resolved in has},
            {"text": "Closed", "done": E.closed in has},
            {"text": "Post-incident review filed", "done": E.postmortem_filed in has},
        ]
        return {
            "title": "Close the incident",
            "items": items,
            "stability_until_t": round(verified.t + stable_for, 3) if verified else None,
        }

    def status(self) -> dict[str, Any]:
        ended = self.last(E.drill_ended)
        closed = self.first(E.closed)
        return {
            "phase": "ended" if ended else ("closed" if closed else "running"),
            "outcome": outcome_word(ended.data.get("outcome")) if ended else None,
            "injected": (not self.viewer.game_master and not self.revealed) is False
            and self.first(E.fault_injected) is not None,
            "mitigated": self.first(E.mitigated) is not None,
            "severity": self.severity(),
            "revealed": self.revealed,
        }

    def reveal(self) -> dict[str, Any] | None:
        event = self.first(E.fault_revealed)
        if event is None:
            return None
        return {"fault": event.data.get("fault"), "title": event.data.get("title"), "actor": event.actor}

    def hints(self) -> list[dict[str, Any]]:
        return [
            {"seq": e.seq, "t": round(e.t, 3), "text": str(e.data.get("text", "")), "actor": e.actor}
            for e in self.events
            if e.type is E.hint
        ]

    def game_master(self) -> dict[str, Any] | None:
        """Only for the game master: the faults injected so far and the stages left to add."""
        if not self.viewer.game_master:
            return None
        scenario = self.meta.get("scenario") or {}
        injected = [
            {"fault": e.data.get("fault"), "stage": e.data.get("stage", 1), "t": round(e.t, 3)}
            for e in self.events
            if e.type is E.fault_injected
        ]
        used = {int(e.data.get("stage_index", -1)) for e in self.events if e.type is E.fault_injected}
        stages = [
            {"index": i, "fault": s.get("type"), "params": s.get("params", {}), "injected": i in used}
            for i, s in enumerate(scenario.get("stages") or [])
        ]
        return {
            "scenario": scenario.get("name"),
            "title": scenario.get("title"),
            "fault": (scenario.get("fault") or {}).get("type"),
            "injected": injected,
            "stages": stages,
            "hints": len(self.hints()),
        }

    def panels(self, now_t: float) -> dict[str, Any]:
        return {
            "status": self.status(),
            "alerts": self.alerts(),
            "roles": self.roles(),
            "status_update": self.status_update(),
            "ladder": self.ladder(),
            "communication": self.communication(),
            "checklists": self.checklists(now_t),
            "hints": self.hints(),
            "reveal": self.reveal(),
            "game_master": self.game_master(),
            "commands": current_phase(self.events, self.runbook, self.meta),
        }


def required_roles(runbook: Runbook) -> list[str]:
    """The roles the runbook's declaration names (IC, TL), as the scorer reads them."""
    return list(runbook.declaration_roles)


def declaration_step_done(step: DeclarationStep, has: set[EventType]) -> bool:
    """A declaration step ticked by the journal event that records its kind (the scorer's mapping)."""
    from gameday.runbook.classify import DECLARATION_EVENTS

    return DECLARATION_EVENTS[step.kind] in has


def verification_item(text: str, sample: dict[str, Any], firing: list[str], criteria: Any, verified: bool) -> bool:
    """Tick a verification checklist line from the latest metric sample, like the scorer judges it."""
    low = text.lower()
    rate, p95 = sample.get("error_rate"), sample.get("p95_seconds")
    ready, desired = sample.get("replicas_ready"), sample.get("replicas_desired")
    if "pod" in low:
        return bool(desired) and ready == desired
    if "error rate" in low:
        return rate is not None and rate < criteria.error_rate_below
    if "response time" in low or "latency" in low:
        return p95 is not None and p95 < criteria.p95_below_seconds
    if "database" in low or "connection" in low:
        return sample.get("pool_waiting") in (0, 0.0) and sample.get("pool_in_use") is not None
    if "alert" in low:
        return not firing
    if "health" in low:
        return rate is not None and rate < criteria.error_rate_below and bool(ready)
    return verified
