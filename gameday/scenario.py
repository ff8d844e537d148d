"""Drill scenario: which fault, how much load, what severity the team should declare, when to abort.

A scenario is data; the fault actuators live with each target in ``drills/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from gameday.faults import ALERTS, CATALOGUE, FaultParams, FaultType, spec_for
from gameday.names import unknown
from gameday.remediations import Remediation, RemediationName, fixes_for
from gameday.remediations import spec_for as remediation_spec

if TYPE_CHECKING:
    from gameday.runbook.model import Runbook

#: Longest drill a scenario may ask for, in runbook minutes (a week).
MAX_TIMEOUT_MINUTES = 7 * 24 * 60
#: Most runbook seconds per wall second (an hour a second).
MAX_TIME_SCALE = 3600.0
#: Longest wait a scenario may set in wall seconds (blind delay, think time).
MAX_WAIT_SECONDS = 3600.0


class _Closed(BaseModel):
    """Closed (an unknown key is an error) and finite (NaN and infinities are refused in every number)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _alert(name: str) -> str:
    if name not in ALERTS:
        raise ValueError(unknown("alert", name, list(ALERTS), "the drills' alert rules"))
    return name


#: An alert the drills' rules define (:data:`gameday.faults.ALERTS`).
AlertName = Annotated[str, AfterValidator(_alert)]


def _params_by_type(schema: dict[str, Any]) -> None:
    """JSON Schema: the parameters each fault type takes (editor completion, ``gameday schema scenario``)."""
    schema["allOf"] = [
        {"if": {"properties": {"type": {"const": spec.type.value}}},
         "then": {"properties": {"params": spec.params.model_json_schema()}}}
        for spec in CATALOGUE.values()
    ]  # fmt: skip


class Fault(_Closed):
    """A fault and its parameters, checked against the fault catalogue (:mod:`gameday.faults`) on load."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra=_params_by_type)

    type: FaultType
    params: SerializeAsAny[FaultParams] = Field(
        default_factory=FaultParams, validate_default=True,
        description="the fault type's parameters (gameday.faults); unknown keys are refused")  # fmt: skip

    @field_validator("params", mode="wrap")
    @classmethod
    def _typed(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> FaultParams:
        """Validate against the catalogue's model for ``type`` (errors keep the path ``params.<key>``)."""
        fault_type = info.data.get("type")
        if fault_type is None:  # the type itself is wrong: that error is the one to report
            return handler(value)
        model = spec_for(fault_type).params
        if isinstance(value, model):
            return value
        if isinstance(value, FaultParams):
            value = value.model_dump()
        return model.model_validate(value)


class LoadShape(_Closed):
    """Locust load; traffic only ever goes to the target's loopback endpoints."""

    shape: Literal["steady", "ramp", "spike"] = "steady"
    users: int = Field(default=20, ge=1, le=2000)
    spawn_rate: float = Field(default=10.0, gt=0, le=2000, description="users started per second")
    peak_users: int | None = Field(default=None, ge=1, le=2000, description="spike/ramp maximum")
    wait_seconds: tuple[float, float] = Field(default=(0.05, 0.2), description="think time between requests")

    @model_validator(mode="after")
    def _peak(self) -> LoadShape:
        if self.shape in ("ramp", "spike") and self.peak_users is None:
            raise ValueError(f"peak_users is required for a {self.shape} load")
        return self

    @field_validator("wait_seconds")
    @classmethod
    def _wait(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _seconds_range(value)


class Probe(_Closed):
    """A PromQL expression that must hold (``value op threshold``)."""

    name: str = Field(min_length=1)
    promql: str = Field(min_length=1, description="checked with Prometheus's own parser (promtool) by validate")
    op: Literal["<", "<=", ">", ">="] = "<"
    threshold: float = Field(description="a finite number")


class ActionItem(_Closed):
    action: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    due_in_days: int = Field(ge=0, le=3650, description="due date = drill date + this many days")
    priority: Literal["High", "Medium", "Low"] = "Medium"


class ReviewNotes(_Closed):
    """What the post-incident review says that the journal cannot: the scenario knows the fault it injected."""

    root_cause: str = Field(min_length=1)
    whys: list[str] = Field(min_length=1, description="the 5 whys, as 'question → answer'")
    action_items: list[ActionItem] = Field(min_length=1)


class Recurrence(_Closed):
    """Step 3.3's test: one of the scenario's ``stages`` comes back on its own while the team watches."""

    stage: int = Field(default=0, ge=0, description="which of the scenario's stages comes back (index)")
    after_verified_minutes: float = Field(default=5.0, ge=0, le=MAX_TIMEOUT_MINUTES,
                                          description="runbook minutes after the team first verified the service")


class Scenario(_Closed):
    kind: Literal["scenario"] = "scenario"
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str = ""
    fault: Fault
    expected_severity: str = Field(pattern=r"^SEV-[1-9]$")
    user_facing: bool = True
    rollback_safe: bool = Field(default=True, description="runbook decision tree: can we roll back safely?")
    data_at_risk: bool = Field(default=False, description="runbook decision tree: is data integrity at risk? "
                                                          "(YES: offline, repair the data, then restore)")
    decision_path: list[str] = Field(default_factory=list, description="the runbook steps and decision-tree "
                                                                      "answers this scenario exercises, in order")
    safe_remediations: list[RemediationName] = Field(
        default_factory=lambda: [Remediation.rollback], min_length=1,
        description="what the autopilot tries, in order (gameday.remediations); at least one must fix the fault")
    expected_alerts: list[AlertName] = Field(
        default_factory=list, description="detection signature: alerts the drills' rules define (gameday.faults)")
    load: LoadShape = Field(default_factory=LoadShape)
    steady_state: list[Probe] = Field(default_factory=list)
    abort_when: list[Probe] = Field(default_factory=list, description="stop the drill if any holds")
    blind_delay_seconds: tuple[float, float] = Field(default=(2.0, 8.0))
    timeout_minutes: float = Field(default=120.0, gt=0, le=MAX_TIMEOUT_MINUTES, description="runbook minutes")
    time_scale: float = Field(default=60.0, gt=0, le=MAX_TIME_SCALE, description="runbook seconds per wall second")
    targets: list[Literal["local", "kubernetes"]] = Field(default_factory=lambda: ["local", "kubernetes"])
    review: ReviewNotes | None = Field(default=None, description="autopilot's post-incident review content")
    stages: list[Fault] = Field(
        default_factory=list, description="further faults a game master may add during the drill (war room)")
    recurrence: Recurrence | None = Field(
        default=None, description="a stage that comes back by itself during the stability watch (drills/recurrence.py)")

    @field_validator("safe_remediations")
    @classmethod
    def _takeable(cls, value: list[Remediation]) -> list[Remediation]:
        """Only remediations the autopilot can take as named: none that needs a parameter it cannot choose."""
        for name in value:
            required = remediation_spec(name).required
            if required:
                raise ValueError(f"{name.value} needs {', '.join(required)}, which a scenario cannot give")
        return value

    @model_validator(mode="after")
    def _remediations_fit(self) -> Scenario:
        """The runbook's decision tree: a rollback only where it is safe, and something that ends the fault
        (else the autopilot waits out the whole timeout)."""
        for name in self.safe_remediations:
            if remediation_spec(name).rollback and not self.rollback_safe:
                raise ValueError(f"safe_remediations: {name.value} is a rollback, but rollback_safe is false")
        fixes = fixes_for(self.fault.type)
        if not set(fixes) & set(self.safe_remediations):
            raise ValueError(f"safe_remediations: none of {', '.join(r.value for r in self.safe_remediations)} "
                             f"fixes {self.fault.type.value} (what fixes it: {', '.join(r.value for r in fixes)})")
        return self

    @model_validator(mode="after")
    def _runs_on_targets(self) -> Scenario:
        """Every fault (the first and each stage) must have an actuator on every target the scenario names
        (:attr:`gameday.faults.FaultSpec.targets`), so ``gameday validate`` refuses it before anything starts."""
        for fault in (self.fault, *self.stages):
            able = spec_for(fault.type).targets
            for target in self.targets:
                if target not in able:
                    raise ValueError(f"targets: {fault.type.value} has no actuator on the {target} target "
                                     f"(it runs on {', '.join(able)}); list only those targets")
        return self

    @model_validator(mode="after")
    def _recurring_stage(self) -> Scenario:
        if self.recurrence is not None and self.recurrence.stage >= len(self.stages):
            raise ValueError(f"recurrence.stage: {self.recurrence.stage} is not a stage (the scenario has "
                             f"{len(self.stages)})")
        return self

    @field_validator("blind_delay_seconds")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _seconds_range(value)

    # -- what validate checks beyond the file itself (gameday.references, gameday.promql) ------------------

    def check_against(self, runbook: Runbook) -> None:
        """The names that must exist in the runbook: the expected severity."""
        from gameday.references import check_severity

        check_severity(runbook, self.expected_severity, "expected_severity")

    def promql_fields(self) -> list[tuple[str, str]]:
        """Every PromQL expression of the scenario, by field."""
        return [(f"{group}[{i}].promql", probe.promql)
                for group in ("steady_state", "abort_when") for i, probe in enumerate(getattr(self, group))]


def _seconds_range(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if low < 0 or high < low or high > MAX_WAIT_SECONDS:
        raise ValueError(f"must be [min, max] with 0 <= min <= max <= {MAX_WAIT_SECONDS:g} seconds")
    return value
