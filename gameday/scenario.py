"""Drill scenario: which fault, how much load, what severity the team should declare, when to abort.

A scenario is data; the fault actuators live with each target in ``drills/``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaultType(StrEnum):
    connection_pool_leak = "connection-pool-leak"  # deploy v1.2.3 (incident 2026-01-24-001)
    crashloop = "crashloop"  # release that cannot reach the database
    pgbouncer_down = "pgbouncer-down"
    slow_queries = "slow-queries"
    error_burst = "error-burst"


class Fault(_Closed):
    type: FaultType
    params: dict[str, Any] = Field(default_factory=dict, description="fault-specific knobs")


class LoadShape(_Closed):
    """Locust load; traffic only ever goes to the target's loopback endpoints."""

    shape: Literal["steady", "ramp", "spike"] = "steady"
    users: int = Field(default=20, ge=1, le=2000)
    spawn_rate: float = Field(default=10.0, gt=0)
    peak_users: int | None = Field(default=None, ge=1, description="spike/ramp maximum")
    wait_seconds: tuple[float, float] = Field(default=(0.05, 0.2), description="think time between requests")

    @model_validator(mode="after")
    def _peak(self) -> LoadShape:
        if self.shape in ("ramp", "spike") and self.peak_users is None:
            raise ValueError(f"peak_users is required for a {self.shape} load")
        return self


class Probe(_Closed):
    """A PromQL expression that must hold (``value op threshold``)."""

    name: str
    promql: str = Field(min_length=1)
    op: Literal["<", "<=", ">", ">="] = "<"
    threshold: float


class ActionItem(_Closed):
    action: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    due_in_days: int = Field(ge=0, description="due date = drill date + this many days")
    priority: Literal["High", "Medium", "Low"] = "Medium"


class ReviewNotes(_Closed):
    """What the post-incident review says that the journal cannot: the scenario knows the fault it injected."""

    root_cause: str = Field(min_length=1)
    whys: list[str] = Field(min_length=1, description="the 5 whys, as 'question → answer'")
    action_items: list[ActionItem] = Field(min_length=1)


class Scenario(_Closed):
    kind: Literal["scenario"] = "scenario"
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str = ""
    fault: Fault
    expected_severity: str = Field(pattern=r"^SEV-[1-9]$")
    user_facing: bool = True
    rollback_safe: bool = Field(default=True, description="runbook decision tree: can we roll back safely?")
    safe_remediations: list[str] = Field(default_factory=lambda: ["rollback"], min_length=1)
    expected_alerts: list[str] = Field(default_factory=list, description="detection signature")
    load: LoadShape = Field(default_factory=LoadShape)
    steady_state: list[Probe] = Field(default_factory=list)
    abort_when: list[Probe] = Field(default_factory=list, description="stop the drill if any holds")
    blind_delay_seconds: tuple[float, float] = Field(default=(2.0, 8.0))
    timeout_minutes: float = Field(default=120.0, gt=0, description="runbook minutes")
    time_scale: float = Field(default=60.0, gt=0, description="runbook seconds per wall second")
    targets: list[Literal["local", "kubernetes"]] = Field(default_factory=lambda: ["local", "kubernetes"])
    review: ReviewNotes | None = Field(default=None, description="autopilot's post-incident review content")
    stages: list[Fault] = Field(
        default_factory=list, description="further faults a game master may add during the drill (war room)")

    @field_validator("blind_delay_seconds")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if low < 0 or high < low:
            raise ValueError("must be [min, max] with 0 <= min <= max")
        return value
