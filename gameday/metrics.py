"""Incident metrics, each defined once: a start milestone, an end milestone, a runbook target.

Every path that reports a metric reads this module: ``gameday simulate`` (from the simulator's per-incident
times), ``gameday score`` and ``score --timeline`` (from journal events), the reports, the tidy tables
(:func:`metrics_frame`) and the notebooks.  A *milestone* is a moment in an incident's life, defined by
journal events; a *metric* is the runbook minutes from one milestone to another.

"Resolved" follows the runbook: the incident is resolved when the stability watch after the fix has held
(the seed incident: alert 14:30, service restored 15:00, "INCIDENT RESOLVED" 15:30, "Duration: 1 hour").
The moment the service was healthy again is its own milestone, *restored*, and its own metric.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
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
    E.incident_started, E.fault_injected, E.alert_firing, E.detected, E.acknowledged, E.severity_declared,
    E.resolved, E.closed,
})

MILESTONES: dict[Milestone, MilestoneDefinition] = {m.milestone: m for m in (
    MilestoneDefinition(Milestone.started, "first `fault_injected` or `incident_started` (a timeline: its first row)",
                        "the fault began"),
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


# -- targets ----------------------------------------------------------------------------------------------


def target(definition: MetricDefinition, runbook: Runbook, severity: str | None) -> tuple[float | None, str]:
    """The runbook's target for a metric (minutes, how the runbook says it); ``(None, "")`` when it has none."""
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
    if definition.id == "time_to_declare" and severity:
        response = next((s.response_minutes for s in runbook.severities if s.name == severity), None)
        return response, f"{severity} response time < {response:g} min" if response is not None else ""
    if definition.id == "mttr" and severity in targets.mttr_minutes:
        return targets.mttr_minutes[severity], text_of("MTTR")
    return None, ""


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
