"""The autopilot's Communications Lead (and who does what): Phase 4 from the runbook's templates.

Kept out of ``autopilot.py``: that module decides *when* (declaration, hypothesis, verification, resolution,
the update cadence); this one writes *what*, filling each of the runbook's templates (declaration, update,
status page, initial and resolution notices) field by field from what the autopilot knows, with figures
written the way the runbook writes them ("error rate 90.6%", "14:45 UTC"), and names the actor of every event
after the role the runbook gives that duty (the IC declares, the TL acts and verifies, the CL posts).
A field the autopilot has no fact for keeps the template's own sample text.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gameday.journal import EventType
from gameday.runbook.communication import DUTY_EVENTS, DutyKind, MessageTemplate, field_key

if TYPE_CHECKING:
    from drills.autopilot import Autopilot
    from gameday.remediations import Remediation

ACTOR = "autopilot"
#: Duties the autopilot's team carries out (so their roles are staffed whatever the policy says).
TEAM_DUTIES = (
    DutyKind.declare,
    DutyKind.fix,
    DutyKind.verify,
    DutyKind.updates,
    DutyKind.notify_users,
    DutyKind.incident_page,
    DutyKind.stakeholders,
    DutyKind.review,
)


def percent(fraction: float | None) -> str:
    """0.9059697422570934 -> "90.6%" (the runbook writes "Error rate < 1%")."""
    return "unknown" if fraction is None else f"{fraction:.1%}"


def impact(checks: dict[str, Any]) -> str:
    """The user impact in the runbook's words: the error rate as a percentage, p95 in seconds."""
    parts = [f"error rate {percent(checks.get('error_rate'))}"]
    if checks.get("p95_seconds") is not None:
        parts.append(f"p95 {float(checks['p95_seconds']):.2f} s")
    return ", ".join(parts)


class CommsLead:
    """Phase 4 for one autopilot: each message from its template, each event under its role's person."""

    def __init__(self, pilot: Autopilot) -> None:
        self.pilot = pilot
        self.runbook = pilot.runbook
        self.comms = pilot.runbook.communication
        self.number = 0
        #: What the updates say: Investigating until the cause is found, Identified, Monitoring once restored.
        self.phase = "Investigating"
        self.page_status: str | None = None
        self.posted_declaration = False
        self.restored_at: str | None = None
        self.fixes: list[str] = []

    # -- who ------------------------------------------------------------------------------------------

    def roles(self) -> set[str]:
        """The roles owning the duties the autopilot carries out (IC, TL, CL in the shipped runbook)."""
        owners = (self.comms.duty_owner(kind) for kind in TEAM_DUTIES)
        return {duty.role.upper() for duty in owners if duty is not None}

    def person(self, role: str) -> str:
        return f"{ACTOR}-{role.lower()}"

    def actor(self, kind: EventType) -> str:
        """The person holding the role whose duty ``kind`` records (a declared incident's team, the roles the
        autopilot staffs); the bot itself on the ticket branch, which has no team."""
        pilot = self.pilot
        if pilot.severity not in self.runbook.declared_severities():
            return ACTOR
        team = {role.upper() for role in pilot._team_roles()}
        for duty_kind, events in DUTY_EVENTS.items():
            duty = self.comms.duty_owner(duty_kind)
            if kind in events and duty is not None and duty.role.upper() in team:
                return self.person(duty.role)
        return ACTOR

    # -- when (the runbook clock: journal start + runbook minutes, as the messages' times) --------------

    def clock(self, minutes_from_now: float = 0.0) -> str:
        """ "14:45 UTC": the runbook's clock for a message (a drill compresses time; its messages do not)."""
        journal = self.pilot.journal
        at: datetime = journal.start + timedelta(minutes=self.pilot.env.now + minutes_from_now)
        return at.strftime("%H:%M UTC")

    # -- what -----------------------------------------------------------------------------------------

    def fill(self, template: MessageTemplate | None, facts: dict[str, Any]) -> dict[str, Any]:
        """Every field of the template: the fact for its key, or the template's own sample."""
        if template is None:
            return {}
        return {f.key: facts.get(f.key, f.example) for f in template.fields}

    def render(self, template: MessageTemplate | None, fields: dict[str, Any]) -> str:
        """The message as the template lays it out: one "Label: value" line per field."""
        if template is None:
            return ""
        return "\n".join(f"**{f.label}**: {fields.get(f.key, '')}" for f in template.fields)

    def _emit(self, kind: EventType, data: dict[str, Any]) -> None:
        self.pilot.emit(kind, data)

    def declaration(self, step: str | None = None) -> dict[str, Any]:
        """The declaration message's data (severity, summary, impact, detected, IC, TL, war room ...)."""
        self.posted_declaration = True
        pilot = self.pilot
        facts: dict[str, Any] = {
            "severity": pilot.severity,
            "summary": pilot.scenario.title,
            "impact": impact(pilot.view.health()[1]) if pilot.view is not None else "being measured",
            "detected": self.clock(),
            "war_room": f"#incident-{pilot.journal.incident}",
        }
        facts |= {field_key(r.abbreviation): f"@{self.person(r.abbreviation)}" for r in self.runbook.roles}
        fields = self.fill(self.comms.declaration, facts)
        data: dict[str, Any] = {
            "channel": "#incidents",
            "fields": fields,
            "message": self.render(self.comms.declaration, fields),
        }
        return data | ({"step": step} if step else {})

    def status_page(self, status: str, message: str, step: str | None = None) -> dict[str, Any] | None:
        """The status page's next post, or None when the runbook has no statuses or it already says so."""
        statuses = self.comms.status_page_statuses
        if not statuses or not self._page_due():
            return None
        wanted = next((s for s in statuses if s.lower() == status.lower()), None)
        if wanted is None or wanted == self.page_status:
            return None
        self.page_status = wanted
        fields = self.fill(
            self.comms.status_page,
            {"title": self.pilot.scenario.title, "status": wanted, "message": message, "updated": self.clock()},
        )
        return {"status": wanted, "channels": self._page_channels(), "fields": fields, "message": message} | (
            {"step": step} if step else {}
        )

    def _page_channels(self) -> list[str]:
        return [
            ch for ch in self.runbook.severity(self.pilot.severity).update_channels if "status_page" in field_key(ch)
        ] or ["Status Page"]

    def _page_due(self) -> bool:
        """Users see the status page: the severity's channels include it, or a declaration step asks for it."""
        pilot = self.pilot
        if not pilot.scenario.user_facing:
            return False
        channels = pilot.runbook.severity(pilot.severity).update_channels
        if any("status_page" in field_key(ch) for ch in channels):
            return True
        return any(s.kind.value == "status_page" for s in pilot.runbook.declaration_for(pilot.severity, True))

    def post_page(self, status: str, message: str) -> None:
        data = self.status_page(status, message)
        if data is not None:
            self._emit(EventType.status_page, data)

    def _external(self) -> bool:
        """Does the runbook's external communication cover this incident?"""
        comms, pilot = self.comms, self.pilot
        if comms.external_severities and pilot.severity not in comms.external_severities:
            return False
        return pilot.scenario.user_facing or not comms.external_user_facing_only

    def _notice_channels(self) -> list[str]:
        """Users are told by email where the severity's channels include it, else on its user-facing ones."""
        channels = self.runbook.severity(self.pilot.severity).update_channels
        return (
            [ch for ch in channels if field_key(ch) in ("email", "mail")]
            or [ch for ch in channels if field_key(ch) != "slack"]
            or channels
        )

    # -- the moments autopilot.py calls -------------------------------------------------------------------

    def declared(self) -> None:
        """After the declaration steps: the declaration message if no step posted it, the status page's first
        status."""
        if not self.posted_declaration and self.comms.declaration is not None:
            self._emit(EventType.declaration_posted, self.declaration())
        self.post_page("Investigating", "We are investigating errors on the service.")

    def tell_users(self) -> Generator[Any, Any, None]:
        """From the declaration, beside the team's assembly: the CL writes the initial notification (a
        ``status_update`` step of the responder model, as the simulator draws it) and sends it, so users hear
        within the runbook's minutes of the declaration however long assembling takes (a slow draw is cut at
        that clock, :meth:`drills.autopilot.Autopilot.step`)."""
        if not self._external() or self.comms.initial_notice is None:
            return
        pilot = self.pilot  # its own random stream: it runs beside the main process, like the update clock
        minutes = self.runbook.external_notification_minutes
        by = None if minutes is None else pilot.deadline(minutes)
        yield from pilot.step(
            "status_update",
            by,
            f"tell users within {minutes:g} min of the declaration" if minutes is not None else "",
            rng=pilot.comms_rng,
        )
        interval = self.runbook.severity(self.pilot.severity).update_interval_minutes
        facts = {
            "current_status": self.page_status or "Investigating",
            "estimated_resolution": f"TBD (next update in {interval:g} minutes)" if interval else "TBD",
        }
        fields = self.fill(self.comms.initial_notice, facts)
        self._emit(
            EventType.external_notice,
            {
                "kind": "initial",
                "channels": self._notice_channels(),
                "fields": fields,
                "message": self.render(self.comms.initial_notice, fields),
            },
        )

    def identified(self, plan: str) -> None:
        self.phase = "Identified"
        self.post_page("Identified", f"We found the cause and are fixing it: {plan}.")

    def fixed(self, action: Remediation) -> None:
        from gameday.remediations import spec_for

        label = spec_for(action).label
        if label not in self.fixes:
            self.fixes.append(label)

    def restored(self) -> None:
        self.restored_at = self.clock()
        self.phase = "Monitoring"
        self.post_page("Monitoring", "Service is back; we are watching it stay stable.")

    def resolved(self) -> None:
        """The status page's last status and the resolution notification (restore time, root cause, fix)."""
        self.post_page("Resolved", "The incident is resolved.")
        if not self._external() or self.comms.resolution_notice is None:
            return
        review = self.pilot.scenario.review
        root_cause = " ".join(review.root_cause.split()) if review else self.pilot.scenario.title
        facts = {
            "restored": self.restored_at or self.clock(),
            "root_cause": root_cause,
            "resolution": ", then ".join(self.fixes) or "the service recovered",
        }
        fields = self.fill(self.comms.resolution_notice, facts)
        self._emit(
            EventType.external_notice,
            {
                "kind": "resolution",
                "channels": self._notice_channels(),
                "fields": fields,
                "message": self.render(self.comms.resolution_notice, fields),
            },
        )

    def update(self, checks: dict[str, Any], healthy: bool) -> dict[str, Any]:
        """Status update #n in the update template, to every channel of the severity."""
        self.number += 1
        severity = self.runbook.severity(self.pilot.severity)
        status = "Investigating" if self.phase == "Monitoring" and not healthy else self.phase
        summary = {
            "Monitoring": "service restored, watching it stay stable",
            "Identified": "cause found, fix under way",
        }.get(status, "investigating")
        interval = severity.update_interval_minutes
        facts = {
            "time": self.clock(),
            "number": self.number,
            "status": status,
            "summary": summary,
            "next_update": self.clock(interval) if interval else "at close",
            "impact": impact(checks),
        }
        fields = self.fill(self.comms.update, facts)
        return {
            "number": self.number,
            "status": status,
            "channels": list(severity.update_channels),
            "fields": fields,
            "message": f"Update #{self.number}: {summary}; {impact(checks)}",
        }
