"""What scoring returns.  Plain data so reports, JUnit, ``--json`` and notebooks share one shape."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Status(StrEnum):
    passed = "pass"
    failed = "fail"
    not_applicable = "n/a"  # excluded from the score's denominator


class CheckResult(_Closed):
    id: str = Field(description="stable key, also the weight's name")
    title: str
    status: Status
    expected: str
    observed: str
    feedback: str = Field(description="one line in plain language")
    weight: float = 0.0

    @property
    def applicable(self) -> bool:
        return self.status is not Status.not_applicable


class MetricResult(_Closed):
    id: str = Field(description="a gameday.metrics id: mttd, mtta, time_to_declare, time_to_mitigate, "
                                "time_to_restore, mttr")
    title: str
    start: str = Field(description="milestone the clock starts at (gameday.metrics.Milestone)")
    end: str = Field(description="milestone the clock stops at")
    minutes: float | None = Field(description="runbook minutes; None when an event is missing")
    target_minutes: float | None = None
    target_text: str = ""
    met: bool | None = Field(default=None, description="None when there is no target or no value (compliance "
                                                       "counts a missing value as not met: gameday.metrics)")

    @property
    def span(self) -> str:
        """``"detected → acknowledged"``, shown next to the figure everywhere."""
        return f"{self.start} → {self.end}"


class ActorSummary(_Closed):
    """What one responder (or system actor) did: the per-responder breakdown."""

    actor: str
    roles: list[str] = Field(default_factory=list)
    events: int = 0
    by_type: dict[str, int] = Field(default_factory=dict)
    first_minutes: float | None = None


class IncidentScore(_Closed):
    incident: str
    source: str
    severity_expected: str | None = None
    severity_declared: str | None = None
    severity_used: str | None = Field(default=None, description="the severity whose rules were applied")
    score: float | None = Field(description="0-100 over applicable checks; None if none applied")
    points: float = 0.0
    possible: float = 0.0
    checks: list[CheckResult]
    metrics: list[MetricResult]
    compliant: bool | None = Field(default=None, description="met every runbook target that applies to it "
                                                             "(gameday.metrics.complies)")
    actors: list[ActorSummary] = Field(default_factory=list)
    roles: dict[str, list[str]] = Field(default_factory=dict, description="role -> people")

    @property
    def not_applicable(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.applicable]

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status is Status.failed]


class JournalScore(_Closed):
    journal: str
    runbook: str
    weights: str
    incidents: list[IncidentScore]
    score: float | None = Field(description="mean incident score (aggregate for multi-incident journals)")
    metric_means: dict[str, float] = Field(default_factory=dict, description="metric id -> mean minutes")
    compliance: float | None = Field(default=None, description="share of incidents that met every runbook target "
                                                               "that applies to them (gameday.metrics)")
    notes: list[str] = Field(default_factory=list)
