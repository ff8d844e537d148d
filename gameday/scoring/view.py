"""One incident's events on the runbook clock: the questions every check and metric asks.

A journal may hold several incidents (the simulator) and observations shared by all of them
(``metric_sample``/``replica_state`` from a drill's sampler), so samples are kept journal-wide.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.journal import Event, EventType, journal_meta
from gameday.metrics import LIFECYCLE as METRIC_LIFECYCLE
from gameday.metrics import Milestone, milestones

#: Events that make an incident id worth scoring (samples alone do not).
LIFECYCLE = METRIC_LIFECYCLE
SHARED = {EventType.metric_sample, EventType.replica_state}


@dataclass
class IncidentView:
    incident: str
    events: list[Event]
    meta: dict[str, Any]
    samples: list[Event] = field(default_factory=list)
    replicas: list[Event] = field(default_factory=list)
    base_dir: Path = Path(".")

    @property
    def time_scale(self) -> float:
        return float(self.meta.get("time_scale", 1.0) or 1.0)

    @property
    def resolution_minutes(self) -> float:
        """The clock's resolution in runbook minutes: a drill's tick (``clock_resolution_s`` wall seconds in
        ``journal_started``) at its time scale; 0 for clocks that are exact (a simulation)."""
        return float(self.meta.get("clock_resolution_s", 0.0) or 0.0) * self.time_scale / 60.0

    @property
    def source(self) -> str:
        return str(self.meta.get("source", "unknown"))

    @property
    def scenario(self) -> dict[str, Any]:
        scenario = self.meta.get("scenario")
        return scenario if isinstance(scenario, dict) else {}

    def minutes(self, event: Event) -> float:
        """Runbook minutes since the journal started (t is on the writer's clock)."""
        return event.t * self.time_scale / 60.0

    def all(self, *types: EventType) -> list[Event]:
        return [e for e in self.events if e.type in types]

    def first(self, *types: EventType) -> Event | None:
        found = self.all(*types)
        return found[0] if found else None

    def at(self, *types: EventType) -> float | None:
        """Runbook minute of the first event of any of ``types``."""
        event = self.first(*types)
        return self.minutes(event) if event else None

    def milestones(self) -> dict[Milestone, float | None]:
        """The incident's milestones in runbook minutes, as :mod:`gameday.metrics` defines them."""
        return milestones((self.minutes(e), e.type) for e in self.events)

    def start(self) -> float | None:
        """When the incident began (the ``started`` milestone)."""
        return self.milestones()[Milestone.started]

    def detection(self) -> float | None:
        """The *detected* milestone (gameday.metrics): one definition for scores, reports and metrics."""
        return self.milestones()[Milestone.detected]

    def declared_severity(self) -> str | None:
        event = self.first(EventType.severity_declared)
        if event is None:
            return None
        severity = event.data.get("severity")
        if severity:
            return str(severity).upper()
        level = event.data.get("level")
        return f"SEV-{int(level)}" if level is not None else None

    def roles(self) -> dict[str, list[str]]:
        """Role abbreviation (upper case) -> people assigned to it, in order."""
        out: dict[str, list[str]] = defaultdict(list)
        for event in self.all(EventType.role_assigned):
            role = str(event.data.get("role", "")).upper()
            person = person_name(event.data.get("person") or event.actor)
            if role and person not in out[role]:
                out[role].append(person)
        return dict(out)


def person_name(value: Any) -> str:
    return str(value).strip().lstrip("@")


def split_incidents(events: list[Event], base_dir: Path) -> list[IncidentView]:
    """One view per incident id that has lifecycle events, in order of first appearance."""
    meta = journal_meta(events)
    samples = [e for e in events if e.type is EventType.metric_sample]
    replicas = [e for e in events if e.type is EventType.replica_state]
    by_id: dict[str, list[Event]] = defaultdict(list)
    order: list[str] = []
    for event in events:
        if event.type in SHARED or event.type is EventType.journal_started:
            continue
        if event.incident not in by_id:
            order.append(event.incident)
        by_id[event.incident].append(event)
    views = []
    for incident in order:
        own = sorted(by_id[incident], key=lambda e: (e.t, e.seq))
        if any(e.type in LIFECYCLE for e in own):
            views.append(IncidentView(incident, own, meta, samples, replicas, base_dir))
    return views
