"""Incident metrics, each defined once: a start milestone, an end milestone, a runbook target.

Every path that reports a metric reads this module: ``gameday simulate`` (from the simulator's per-incident
times), ``gameday score`` and ``score --timeline`` (from journal events), the reports, the tidy tables
(:func:`metrics_frame`) and the notebooks.  A *milestone* is a moment in an incident's life, defined by
journal events; a *metric* is the runbook minutes from one milestone to another.

One word per moment of an incident's life, the glossary's (:data:`MILESTONES`), used the same way by the
simulator, the drills, the scorer, the reports and the notebooks:

- *restored*: the service is healthy again, verified; the stability watch starts;
- *resolved*: the stability watch held.  This follows the runbook (the seed incident: alert 14:30, service
  restored 15:00, "INCIDENT RESOLVED" 15:30, "Duration: 1 hour");
- *closed*: somebody closed the incident (a drill ends when its incident is closed).

Targets and compliance are defined here once too (:func:`target`, :func:`targets`, :func:`meets`,
:func:`complies`), for ``simulate``, ``compare``, ``sweep``, ``score``, the reports and the notebooks.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.journal import EventType

if TYPE_CHECKING:
    import pandas as pd

    from gameday.runbook.model import Runbook

E = EventType


class Milestone(StrEnum):
    started = "started"
    detected = "detected"
    acknowledged = "acknowledged"
    declared = "declared"
    mitigated = "mitigated"
    restored = "restored"
    resolved = "resolved"
    closed = "closed"


@dataclass(frozen=True)
class MilestoneDefinition:
    milestone: Milestone
    events: str  # how the journal marks it, for people (the glossary)
    meaning: str


#: An incident's own events that can stand for its start when no fault/incident-start event exists
#: (an imported timeline starts at its first row, usually the alert).
LIFECYCLE = frozenset({
    E.incident_started, E.fault_injected, E.fault_active, E.alert_firing, E.detected, E.acknowledged,
    E.severity_declared, E.resolved, E.closed,
})

MILESTONES: dict[Milestone, MilestoneDefinition] = {m.milestone: m for m in (
    MilestoneDefinition(Milestone.started, "`fault_active` if any, else first `fault_injected` or `incident_started` "
                        "(a timeline: its first row)", "the fault began"),
    MilestoneDefinition(Milestone.detected, "first `alert_firing` or `detected` at or after *started*",
                        "an alert fired or someone reported the problem"),
    MilestoneDefinition(Milestone.acknowledged, "first `acknowledged`", "a responder took the page"),
    MilestoneDefinition(Milestone.declared, "first `severity_declared`", "the incident was declared with a severity"),
    MilestoneDefinition(Milestone.mitigated, "last `mitigated` at or before *resolved*",
                        "the fix that held stopped the bleeding"),
    MilestoneDefinition(Milestone.restored, "last `verified` at or before *resolved* (no `verified`: *resolved*)",
                        "service healthy again, verified; the stability watch starts"),
    MilestoneDefinition(Milestone.resolved, "first `resolved`, else first `closed`",
                        "the stability watch held: the runbook's INCIDENT RESOLVED"),
    MilestoneDefinition(Milestone.closed, "first `closed`", "the incident was closed"),
)}


@dataclass(frozen=True)
class MetricDefinition:
    id: str
    name: str
    abbreviation: str | None
    start: Milestone
    end: Milestone
    target: str  # where the runbook target comes from, for people

    @property
    def title(self) -> str:
        """``"Time to acknowledge (MTTA)"``."""
        return f"{self.name} ({self.abbreviation})" if self.abbreviation else self.name

    @property
    def span(self) -> str:
        """``"detected → acknowledged"``: what every page says next to the figure."""
        return f"{self.start.value} → {self.end.value}"


METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition("mttd", "Time to detect", "MTTD", Milestone.started, Milestone.detected,
                     "the runbook's MTTD target"),
    MetricDefinition("mtta", "Time to acknowledge", "MTTA", Milestone.detected, Milestone.acknowledged,
                     "the runbook's MTTA (MTTACK) target"),
    MetricDefinition("time_to_declare", "Time to declare", None, Milestone.detected, Milestone.declared,
                     "the severity's response time"),
    MetricDefinition("time_to_mitigate", "Time to mitigate", None, Milestone.started, Milestone.mitigated, "none"),
    MetricDefinition("time_to_restore", "Time to restore", None, Milestone.started, Milestone.restored, "none"),
    MetricDefinition("mttr", "Time to resolve", "MTTR", Milestone.started, Milestone.resolved,
                     "the runbook's MTTR target for the severity"),
)
BY_ID: dict[str, MetricDefinition] = {m.id: m for m in METRICS}


def metric(metric_id: str) -> MetricDefinition:
    return BY_ID[metric_id]


# -- milestones from journal events -----------------------------------------------------------------------


def milestones(events: Iterable[tuple[float, EventType | str]]) -> dict[Milestone, float | None]:
    """Milestones (runbook minutes) of one incident from its ``(minutes, event type)`` pairs in time order."""
    times: dict[EventType, list[float]] = {}
    lifecycle: float | None = None
    for minutes, kind in events:
        kind = EventType(kind)
        times.setdefault(kind, []).append(minutes)
        if lifecycle is None and kind in LIFECYCLE:
            lifecycle = minutes

    def first(*kinds: EventType, since: float | None = None) -> float | None:
        found = [t for k in kinds for t in times.get(k, []) if since is None or t >= since]
        return min(found) if found else None

    def last_until(kind: EventType, until: float | None) -> float | None:
        found = [t for t in times.get(kind, []) if until is None or t <= until]
        return found[-1] if found else None

    # a fault whose start waited for what cannot be scaled (a container's start) starts its clock when active
    started = first(E.fault_active)
    if started is None:
        started = first(E.fault_injected, E.incident_started)
    resolved = first(E.resolved)
    if resolved is None:
        resolved = first(E.closed)
    restored = last_until(E.verified, resolved)
    return {
        Milestone.started: started if started is not None else lifecycle,
        # an alert still firing from before the fault (a drill right after another) detects nothing of it
        Milestone.detected: first(E.alert_firing, E.detected, since=started),
        Milestone.acknowledged: first(E.acknowledged),
        Milestone.declared: first(E.severity_declared),
        Milestone.mitigated: last_until(E.mitigated, resolved),
        Milestone.restored: restored if restored is not None else resolved,
        Milestone.resolved: resolved,
        Milestone.closed: first(E.closed),
    }


def metric_values(times: Mapping[Milestone, Any]) -> dict[str, Any]:
    """Every metric from milestone times: floats (``None`` when a milestone is missing) or numpy arrays
    (``nan`` propagates), so the simulator and the scorer share the arithmetic too."""
    out: dict[str, Any] = {}
    for m in METRICS:
        start, end = times.get(m.start), times.get(m.end)
        out[m.id] = None if start is None or end is None else end - start
    return out


def incident_metrics(events: Iterable[tuple[float, EventType | str]]) -> dict[str, float | None]:
    """Metric id -> runbook minutes (3 decimals) for one incident's ``(minutes, type)`` events."""
    return {k: None if v is None else round(v, 3) for k, v in metric_values(milestones(events)).items()}


# -- targets and compliance -------------------------------------------------------------------------------

#: ``meets`` / ``complies`` read an infinite target as "none for this incident" (vectorised callers fill the
#: severities without a target with it).
NO_TARGET = math.inf


def declares(runbook: Runbook, severity: str | None) -> bool:
    """Does the runbook's workflow send ``severity`` down the 'Declare Incident' branch (not the ticket one)?"""
    declared = runbook.declared_severities()
    return severity in declared if declared else True


def response_time(runbook: Runbook, severity: str | None) -> float | None:
    """The severity's response time in minutes (the severity table), None when it states no clock."""
    if not severity:
        return None
    return next((s.response_minutes for s in runbook.severities if s.name == severity), None)


def target(definition: MetricDefinition, runbook: Runbook, severity: str | None) -> tuple[float | None, str]:
    """The runbook's target for a metric at ``severity`` (minutes, how the runbook says it); ``(None, "")`` when
    none applies.  The runbook states four targets, and this is the one place that says which metric each
    belongs to:

    - MTTD and MTTACK (its "Incident Metrics" table), for every incident: the time to detect and the time to
      acknowledge;
    - the severity's *response time* (its "Incident Severity Classification": SEV-1 "Immediate (< 15 min)"),
      for the **time to declare**, detected -> declared, and not for the time to acknowledge: the runbook's
      first phase, whose length the SEV-1 clock matches, is "Detection & Declaration (0-15 minutes)" and ends
      with the declaration (its own incident: alert 14:30, "Incident declared SEV-1" 14:32); acknowledging has
      its own target, MTTACK < 15 min for every severity, so read as an acknowledgement clock SEV-2's "< 1 hour"
      and SEV-3's "< 4 hours" could never bind.  Only severities the workflow declares have it as a metric
      target: the ticket branch (SEV-3/4) has no declaration to time (the scorer's ``declared_in_time`` check
      holds its ticket to the same clock);
    - the severity's MTTR target ("< 1 hour (SEV-1)"), for the time to resolve.

    An incident *meets* a target when the metric's end milestone came no later than the target after its start
    (:func:`meets`: a milestone that never came -- never acknowledged, never resolved, not in an imported
    timeline -- does not); *compliance* is the share of incidents meeting every target that applies to them
    (:func:`complies`).  ``simulate``, ``compare``, ``sweep``, ``score``, the reports and the notebooks all read
    these."""
    targets = runbook.targets

    def text_of(*abbreviations: str) -> str:
        for row in targets.metrics:
            if row.abbreviation.upper() in abbreviations:
                return row.target_text
        return ""

    if definition.id == "mttd":
        return targets.mttd_minutes, text_of("MTTD") or f"< {targets.mttd_minutes:g} min"
    if definition.id == "mtta":
        return targets.mtta_minutes, text_of("MTTA", "MTTACK") or f"< {targets.mtta_minutes:g} min"
    if definition.id == "time_to_declare" and severity and declares(runbook, severity):
        response = response_time(runbook, severity)
        return response, f"{severity} response time < {response:g} min" if response is not None else ""
    if definition.id == "mttr" and severity in targets.mttr_minutes:
        return targets.mttr_minutes[severity], text_of("MTTR")
    return None, ""


def targets(runbook: Runbook, severity: str | None) -> dict[str, float]:
    """Metric id -> target minutes for an incident of ``severity``, for every metric with one."""
    out = {}
    for m in METRICS:
        goal, _ = target(m, runbook, severity)
        if goal is not None:
            out[m.id] = goal
    return out


def targets_by_severity(runbook: Runbook, severities: Sequence[str]) -> dict[str, list[float]]:
    """Metric id -> its target for each of ``severities`` (:data:`NO_TARGET` where that severity has none), for
    metrics any of them has: index with incidents' severity codes to get per-incident targets."""
    each = [targets(runbook, s) for s in severities]
    ids = [m.id for m in METRICS if any(m.id in t for t in each)]
    return {i: [t.get(i, NO_TARGET) for t in each] for i in ids}


def meets(value: Any, goal: Any) -> Any:
    """Is the metric within its target?  A missing value (``None``, ``nan``: the end milestone never came)
    is not; an infinite goal (:data:`NO_TARGET`) always is.  Floats, or numpy arrays per incident."""
    if value is None:
        return goal == NO_TARGET
    return (value <= goal) | (goal == NO_TARGET)


def complies(values: Mapping[str, Any], goals: Mapping[str, Any]) -> Any:
    """Does an incident meet every target that applies to it?  ``values``: metric id -> minutes (one incident's
    from :func:`metric_values`, or arrays of many); ``goals``: :func:`targets` (or per-incident arrays built
    from :func:`targets_by_severity`).  The share of incidents for which this holds is the *compliance*."""
    ok: Any = True
    for metric_id, goal in goals.items():
        ok = ok & meets(values.get(metric_id), goal)
    return ok


# -- tidy tables --------------------------------------------------------------------------------------------


def metrics_frame(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (journal, incident) with every metric in runbook minutes, from :func:`gameday.journal.load_frame`.

    Columns: ``source, journal, incident, severity`` then one column per metric id (``mttd``, ``mtta``,
    ``time_to_declare``, ``time_to_mitigate``, ``time_to_restore``, ``mttr``); NaN where a milestone is missing.
    """
    import pandas as pd

    shared = {E.journal_started.value, E.metric_sample.value, E.replica_state.value}
    rows = []
    own = events[~events["type"].isin(shared)].sort_values(["journal", "incident", "runbook_minutes", "seq"],
                                                           kind="stable")
    for (journal, incident), group in own.groupby(["journal", "incident"], sort=False):
        types = group["type"].tolist()
        if not LIFECYCLE.intersection(EventType(t) for t in types):
            continue
        values = incident_metrics(zip(group["runbook_minutes"].tolist(), types, strict=True))
        rows.append({"source": group["source"].iloc[0], "journal": journal, "incident": incident,
                     "severity": _severity(group), **values})
    columns = ["source", "journal", "incident", "severity", *BY_ID]
    frame = pd.DataFrame(rows, columns=columns)
    for m in METRICS:
        frame[m.id] = frame[m.id].astype(float)
    return frame


def load_metrics(*paths: str | Path) -> pd.DataFrame:
    """One row per incident of the given journals with every metric (the tidy metrics table)."""
    from gameday.journal import load_frame

    return metrics_frame(load_frame(*paths))


def _severity(group: pd.DataFrame) -> str | None:
    for kind in (E.incident_started.value, E.severity_declared.value):
        for data in group.loc[group["type"] == kind, "data"]:
            if isinstance(data, dict) and data.get("severity"):
                return str(data["severity"]).upper()
    return None


# -- the glossary -------------------------------------------------------------------------------------------


def glossary_markdown() -> str:
    """The README's metrics glossary, generated from the definitions above (a test keeps them equal)."""
    lines = [
        "| metric | id | from → to | target |",
        "| --- | --- | --- | --- |",
    ]
    for m in METRICS:
        lines.append(f"| {m.title} | `{m.id}` | {m.span} | {m.target} |")
    lines += ["", "| milestone | journal events | meaning |", "| --- | --- | --- |"]
    for d in MILESTONES.values():
        lines.append(f"| {d.milestone.value} | {d.events} | {d.meaning} |")
    return "\n".join(lines) + "\n"


README_MARKERS = ("<!-- metrics-glossary:start (generated: python -m gameday.metrics --readme) -->",
                  "<!-- metrics-glossary:end -->")


def update_readme(path: Path) -> bool:
    """Rewrite the glossary block between the README's markers; True when it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = README_MARKERS
    pattern = re.compile(re.escape(start) + r"\n.*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no {start} ... {end} block")
    new = pattern.sub(lambda _: f"{start}\n{glossary_markdown()}{end}", text)
    path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    if sys.argv[1:] == ["--readme"]:
        readme = Path(__file__).resolve().parents[1] / "README.md"
        print(f"{readme}: {'updated' if update_readme(readme) else 'already current'}")
    else:
        print(glossary_markdown(), end="")
