"""A drill at a glance: the typed summary the runner returns, writes to ``summary.json`` and prints.

Built from the journal itself (so events other processes appended count too) plus what only the runner
knows: the outcome, the reverts and what is still pending on the target.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

from gameday.journal import Event, EventType

#: How a drill ended.  "closed": somebody closed its incident (the glossary's *closed*, gameday.metrics); a drill
#: does not wait for the stability watch, so its outcome is not the glossary's *resolved*.
Outcome = Literal["closed", "timeout", "aborted", "not-steady", "interrupted", "error"]
EXIT_CODES: dict[str, int] = {"closed": 0, "timeout": 1, "aborted": 1, "not-steady": 1, "error": 1}
#: Outcomes as summaries and ``drill_ended`` events written before the glossary's words spelled them.
OLD_OUTCOMES: dict[str, str] = {"resolved": "closed"}


def outcome_word(value: Any) -> Any:
    """An outcome as it is spelled now (an old summary's or journal's "resolved" is "closed")."""
    return OLD_OUTCOMES.get(value, value) if isinstance(value, str) else value

#: The first event of each kind, in this order, makes the summary's timeline.
TIMELINE = (
    EventType.fault_injected, EventType.alert_firing, EventType.detected, EventType.acknowledged,
    EventType.severity_declared, EventType.war_room_created, EventType.hypothesis, EventType.action,
    EventType.mitigated, EventType.verified, EventType.resolved, EventType.closed, EventType.fault_reverted,
    EventType.drill_ended,
)  # fmt: skip

#: Columns of Locust's "Aggregated" row worth a place in the summary.
LOAD_STATS = ("Request Count", "Failure Count", "Requests/s", "Median Response Time", "95%", "99%")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimelineRow(_Closed):
    event: str
    actor: str
    t: float  # wall seconds since the journal started
    after_injection_s: float | None
    after_injection_runbook_min: float | None


class DrillFacts(_Closed):
    """What the runner knows that the journal does not say."""

    drill_id: str
    scenario: str
    target: str
    responder: str
    seed: int
    time_scale: float
    outcome: Annotated[Outcome, BeforeValidator(outcome_word)]
    reason: str = ""
    journal: str
    load_dir: str
    load: dict[str, str] = {}
    started_at: datetime
    faults_reverted: list[dict[str, Any]] = []
    pending_after: list[str] | None = None


class DrillSummary(DrillFacts):
    exit_code: int
    wall_seconds: float
    events: int
    metric_samples: int
    alerts: list[str]
    actions: list[dict[str, Any]]
    mitigated: bool
    final_metrics: dict[str, Any] | None
    timeline: list[TimelineRow]

    @classmethod
    def build(cls, facts: DrillFacts, events: list[Event]) -> DrillSummary:
        scale = facts.time_scale
        injected = next((e for e in events if e.type is EventType.fault_injected), None)
        timeline = []
        for kind in TIMELINE:
            first = next((e for e in events if e.type is kind), None)
            if first is None:
                continue
            after = round(first.t - injected.t, 3) if injected else None
            timeline.append(TimelineRow(
                event=kind.value, actor=first.actor, t=first.t, after_injection_s=after,
                after_injection_runbook_min=round((first.t - injected.t) * scale / 60, 2) if injected else None,
            ))  # fmt: skip
        samples = [e for e in events if e.type is EventType.metric_sample]
        return cls(
            **facts.model_dump(),
            exit_code=EXIT_CODES.get(facts.outcome, 1),
            wall_seconds=round(events[-1].t, 3) if events else 0.0,
            events=len(events),
            metric_samples=len(samples),
            alerts=sorted({str(e.data.get("alertname")) for e in events if e.type is EventType.alert_firing}),
            actions=[{"kind": e.data.get("kind"), "actor": e.actor} for e in events if e.type is EventType.action],
            mitigated=any(e.type is EventType.mitigated for e in events),
            final_metrics=samples[-1].data if samples else None,
            timeline=timeline,
        )

    def after_injection_minutes(self, event: EventType) -> float | None:
        """Runbook minutes from the injection to the first ``event`` (MTTD for ``detected``)."""
        row = next((r for r in self.timeline if r.event == event.value), None)
        return None if row is None else row.after_injection_runbook_min


def print_summary(summary: DrillSummary, console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"drill {summary.drill_id}: {summary.outcome}")
    for column in ("event", "actor", "after injection", "runbook min"):
        table.add_column(column)
    for row in summary.timeline:
        after, minutes = row.after_injection_s, row.after_injection_runbook_min
        table.add_row(row.event, row.actor, "—" if after is None else f"{after:.1f} s",
                      "—" if minutes is None else f"{minutes:.1f}")  # fmt: skip
    console.print(table)
    reverted = summary.faults_reverted
    ok = all(r.get("ok") for r in reverted)
    console.print(
        f"faults reverted: {len(reverted)} ({'all ok' if ok else 'FAILED'}); pending after: "
        f"{summary.pending_after}; journal: {summary.journal}"
    )
    if summary.reason:
        console.print(f"reason: {summary.reason}")
