"""What the drill console says while a drill runs: one line per event worth a responder's attention.

The journal holds everything; this is only the live view (wall seconds and runbook minutes side by side).
"""

from __future__ import annotations

from typing import Any

from gameday.journal import Event, EventType

#: Events the console narrates as they happen (the rest is in the journal).
NARRATED = frozenset({
    EventType.steady_state, EventType.fault_injected, EventType.alert_firing, EventType.alert_resolved,
    EventType.detected, EventType.acknowledged, EventType.severity_declared, EventType.ticket_created,
    EventType.role_assigned, EventType.war_room_created, EventType.paged, EventType.escalated,
    EventType.notified, EventType.status_update, EventType.hypothesis, EventType.action, EventType.mitigated,
    EventType.verified, EventType.resolved, EventType.closed, EventType.postmortem_filed, EventType.aborted,
    EventType.fault_reverted, EventType.drill_ended, EventType.replica_state,
})  # fmt: skip

_DETAIL_KEYS = ("alertname", "fault", "severity", "kind", "role", "text", "message", "reason", "state", "outcome")


def narrate(event: Event, time_scale: float, console: Any) -> None:
    if event.type not in NARRATED:
        return
    minutes = event.t * time_scale / 60.0
    # soft_wrap: one event, one line, whatever the width (a CI log or `| tee` must not fold it in two)
    console.print(f"  [dim]{event.t:7.1f} s  {minutes:6.1f} rb-min[/]  {event.type.value:<18} "
                  f"[cyan]{event.actor}[/] {detail(event)}", soft_wrap=True)


def detail(event: Event) -> str:
    """The one field that says most about the event, at most 90 characters."""
    data = event.data
    for key in _DETAIL_KEYS:
        if key in data and data[key] is not None:
            value = str(data[key])
            if key == "role" and event.type is EventType.role_assigned:
                value = f"{value}={data.get('person')}"
            if key == "state":
                value = f"{data.get('name')} {value} ready={data.get('ready')} v={data.get('version')}"
            return value[:90]
    return ""
