"""The simulation policy: arrivals, staffing, escalation ladder, step durations, decision odds.

A policy is data (``kind: policy`` YAML).  The runbook says *what* happens (workflow graph, ladder,
targets); the policy says *how long* and *how likely*.  All durations are minutes, all rates are
incidents per day, all probabilities are in [0, 1].  Values may be given per severity as a mapping
``{SEV-1: ..., SEV-2: ...}`` with an optional ``default`` key.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from sim.dists import MAX_MINUTES, Distribution, Exponential, Fixed, Lognormal

if TYPE_CHECKING:
    from gameday.runbook.model import Runbook

#: ``release_at`` values of policy files older than the glossary's words (gameday.metrics): one meant the restore
RELEASE_AT_OLD_SPELLING = {"resolved": "restored"}

#: Most seconds a detection delay may be (a day), most incidents a day a severity may arrive at.
MAX_SECONDS = 86_400.0
MAX_RATE_PER_DAY = 100_000.0


def _finite_per_severity(value: Any) -> Any:
    """A per-severity value's numbers are finite: the error names the key (pydantic's union error would not)."""
    items = value.items() if isinstance(value, dict) else [(None, value)]
    for key, number in items:
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"{key + ': ' if isinstance(key, str) else ''}must be a finite number, not {number!r}")
    return value


Prob = float
#: A number, or ``{SEV-n: number, default: number}``; every number finite.
PerSeverity = Annotated[float | dict[str, float], BeforeValidator(_finite_per_severity)]


class _Closed(BaseModel):
    """Closed, immutable and finite: an unknown key, a NaN or an infinity is an error naming the field."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def per_severity(value: PerSeverity, severity: str, default: float | None = None) -> float:
    """Pick a severity's value from a scalar or a ``{SEV-n: value, default: value}`` mapping."""
    if isinstance(value, dict):
        if severity in value:
            return float(value[severity])
        if "default" in value:
            return float(value["default"])
        if default is not None:
            return default
        raise KeyError(f"no value for {severity} (and no 'default')")
    return float(value)


def _check_probabilities(value: PerSeverity, name: str) -> None:
    values = value.values() if isinstance(value, dict) else [value]
    for v in values:
        if not 0.0 <= float(v) <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {v}")


class Detection(_Closed):
    """Alert path (Prometheus scrape + rule ``for`` + Alertmanager group wait) racing user reports."""

    alert_probability: PerSeverity = Field(default=0.9, description="chance an alert rule catches it")
    onset: Distribution = Field(
        default_factory=lambda: Lognormal(median=1.0, sigma=0.8),
        description="fault start -> metric crosses the alert threshold",
    )
    scrape_interval_seconds: float = Field(default=15.0, ge=0, le=MAX_SECONDS)
    evaluation_interval_seconds: float = Field(default=15.0, ge=0, le=MAX_SECONDS)
    rule_for_seconds: float = Field(default=120.0, ge=0, le=MAX_SECONDS)
    group_wait_seconds: float = Field(default=30.0, ge=0, le=MAX_SECONDS)
    user_report: Distribution = Field(
        default_factory=lambda: Lognormal(median=20.0, sigma=0.9),
        description="fault start -> a user reports it",
    )

    @model_validator(mode="after")
    def _probs(self) -> Detection:
        _check_probabilities(self.alert_probability, "alert_probability")
        return self


class RolePolicy(_Closed):
    """A role the runbook names (IC, TL, CL, SME): how fast and how often it answers."""

    availability: Prob = Field(default=1.0, ge=0, le=1, description="chance the person is reachable now")
    ack: Distribution = Field(default_factory=lambda: Exponential(mean=3.0))
    unavailable_delay: Distribution = Field(
        default_factory=lambda: Exponential(mean=30.0), description="extra wait when nobody is reachable"
    )


class Responders(_Closed):
    """On-call pool (a capacity-limited resource) and paging behaviour."""

    oncall: int | None = Field(default=1, ge=1, le=1000, description="responders in the pool (c); null = unlimited")
    page_at_once: int = Field(default=1, ge=1, le=10, description="people paged per round")
    answer_probability: Prob = Field(default=0.9, ge=0, le=1, description="chance one paged person answers")
    ack: Distribution = Field(default_factory=lambda: Exponential(mean=4.0), description="page -> ack")
    ack_timeout_minutes: float = Field(default=15.0, ge=0, le=MAX_MINUTES, description="unanswered round -> page again")
    max_page_rounds: int = Field(default=4, ge=1, le=100, description="after this many the page goes to the manager")
    roles: dict[str, RolePolicy] = Field(
        default_factory=dict, description="roles assembled for declared incidents, by runbook abbreviation"
    )
    sme: RolePolicy = Field(
        default_factory=lambda: RolePolicy(availability=0.7, ack=Exponential(mean=10.0)),
        description="subject-matter expert fetched by the Escalate/Get SME step",
    )


class LadderLevel(_Closed):
    """One rung of the technical escalation ladder; ``after_minutes`` overrides the runbook's."""

    level: int = Field(ge=1, le=100, description="a level of the runbook's ladder above L1 (the on-call)")
    after_minutes: float | None = Field(default=None, ge=0, le=MAX_MINUTES, description="None = the runbook's value")
    answer_probability: Prob = Field(default=0.9, ge=0, le=1)
    ack: Distribution = Field(default_factory=lambda: Exponential(mean=5.0))
    timeout_minutes: float = Field(default=10.0, ge=0, le=MAX_MINUTES, description="unanswered page -> page again")
    max_pages: int = Field(default=3, ge=1, le=100)
    root_cause_probability: PerSeverity | None = Field(
        default=None, description="per-iteration diagnosis odds once this level is engaged (None = unchanged)"
    )


class Escalation(_Closed):
    levels: list[LadderLevel] = Field(default_factory=list, description="overrides by level number")
    severities: list[str] | None = Field(
        default=None, description="severities that climb the ladder; None = the runbook's declared ones"
    )

    def level(self, number: int) -> LadderLevel:
        for level in self.levels:
            if level.level == number:
                return level
        return LadderLevel(level=number)


class Steps(_Closed):
    """Durations of the workflow steps (minutes).  Step names are matched to runbook nodes by label."""

    assess: Distribution = Field(default_factory=lambda: Lognormal(median=4.0, sigma=0.5))
    declare: Distribution = Field(default_factory=lambda: Lognormal(median=3.0, sigma=0.5))
    ticket: Distribution = Field(default_factory=lambda: Fixed(value=5.0))
    assign: Distribution = Field(
        default_factory=lambda: Lognormal(median=240.0, sigma=0.8), description="ticket path: work the ticket"
    )
    assemble: Distribution = Field(default_factory=lambda: Lognormal(median=5.0, sigma=0.6))
    war_room: Distribution = Field(default_factory=lambda: Fixed(value=2.0))
    hypothesis: Distribution = Field(default_factory=lambda: Lognormal(median=5.0, sigma=0.6))
    investigate: Distribution = Field(default_factory=lambda: Lognormal(median=10.0, sigma=0.7))
    escalate: Distribution = Field(default_factory=lambda: Fixed(value=2.0), description="page SME / next rung")
    rollback: Distribution = Field(default_factory=lambda: Lognormal(median=6.0, sigma=0.4))
    hotfix: Distribution = Field(default_factory=lambda: Lognormal(median=30.0, sigma=0.6))
    verify: Distribution = Field(default_factory=lambda: Lognormal(median=5.0, sigma=0.4))
    close: Distribution = Field(default_factory=lambda: Fixed(value=5.0))
    review: Distribution = Field(default_factory=lambda: Lognormal(median=1440.0, sigma=0.5))
    status_update: Distribution = Field(default_factory=lambda: Lognormal(median=3.0, sigma=0.5))


class Decisions(_Closed):
    """Odds of the workflow's decision edges."""

    root_cause_probability: PerSeverity = Field(default=0.45, description="Root Cause Found? -> Yes")
    rollback_probability: PerSeverity = Field(default=0.6, description="fix is a rollback (else hotfix)")
    rollback_success: Prob = Field(default=0.9, ge=0, le=1, description="Issue Resolved? after a rollback")
    hotfix_success: Prob = Field(default=0.75, ge=0, le=1, description="Issue Resolved? after a hotfix")
    recurrence_probability: PerSeverity = Field(default=0.08, description="Stable? -> No")
    other: dict[str, Prob] = Field(
        default_factory=dict, description="unknown yes/no decisions by node label slug: odds of 'Yes'"
    )

    @model_validator(mode="after")
    def _probs(self) -> Decisions:
        for name in ("root_cause_probability", "rollback_probability", "recurrence_probability"):
            _check_probabilities(getattr(self, name), name)
        return self


class IncidentShape(_Closed):
    """What the incident does to the service (drives auto-rollback)."""

    error_rate: dict[str, Distribution] = Field(
        default_factory=lambda: {
            "SEV-1": Lognormal(median=0.2, sigma=0.6),
            "SEV-2": Lognormal(median=0.05, sigma=0.6),
            "default": Lognormal(median=0.01, sigma=0.6),
        },
        description="peak error-rate fraction by severity (key 'default' for the rest)",
    )
    deploy_caused_probability: Prob = Field(default=0.5, ge=0, le=1, description="a rollback would fix it")


class AutoRollback(_Closed):
    enabled: bool = False
    error_rate_above: float = Field(default=0.05, gt=0, le=1, description="fraction, 0.05 = 5%")
    duration: Distribution = Field(default_factory=lambda: Fixed(value=3.0), description="detect -> rolled back")


class Policy(_Closed):
    """A what-if: everything the simulator needs besides the runbook."""

    kind: Literal["policy"] = "policy"
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    arrivals_per_day: dict[str, float] = Field(
        default_factory=lambda: {"SEV-1": 0.2, "SEV-2": 0.8, "SEV-3": 2.0, "SEV-4": 3.0},
        description="Poisson rate by severity",
    )
    detection: Detection = Field(default_factory=Detection)
    responders: Responders = Field(default_factory=Responders)
    escalation: Escalation = Field(default_factory=Escalation)
    steps: Steps = Field(default_factory=Steps)
    decisions: Decisions = Field(default_factory=Decisions)
    incident: IncidentShape = Field(default_factory=IncidentShape)
    auto_rollback: AutoRollback = Field(default_factory=AutoRollback)
    stability_minutes: float | None = Field(default=None, ge=0, le=MAX_MINUTES,
                                           description="None = the runbook's watch")
    release_at: Literal["restored", "closed"] = Field(
        default="restored", description="when the on-call responder is free again: once the service is restored "
        "(verified) or once the incident is closed"
    )

    @field_validator("release_at", mode="before")
    @classmethod
    def _release_at_old_spelling(cls, value: object) -> object:
        """Policy files written before the glossary's words said ``resolved`` for the restore: still read."""
        return RELEASE_AT_OLD_SPELLING.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _rates(self) -> Policy:
        if not self.arrivals_per_day or sum(self.arrivals_per_day.values()) <= 0:
            raise ValueError("arrivals_per_day needs at least one positive rate")
        if any(v < 0 for v in self.arrivals_per_day.values()):
            raise ValueError("arrival rates must be >= 0")
        too_many = [k for k, v in self.arrivals_per_day.items() if v > MAX_RATE_PER_DAY]
        if too_many:
            raise ValueError(f"arrivals_per_day.{too_many[0]}: at most {MAX_RATE_PER_DAY:g} incidents a day")
        return self

    # -- what validate checks beyond the file itself (gameday.references) ----------------------------------

    def per_severity_fields(self) -> list[tuple[str, PerSeverity | None]]:
        """Every per-severity field, by path (the ladder's diagnosis odds included)."""
        return [
            ("detection.alert_probability", self.detection.alert_probability),
            ("decisions.root_cause_probability", self.decisions.root_cause_probability),
            ("decisions.rollback_probability", self.decisions.rollback_probability),
            ("decisions.recurrence_probability", self.decisions.recurrence_probability),
            *((f"escalation.levels[{i}].root_cause_probability", level.root_cause_probability)
              for i, level in enumerate(self.escalation.levels)),
        ]

    def check_against(self, runbook: Runbook) -> None:
        """Every name the policy gives exists in the runbook: the severities of its rates, of its per-severity
        values and of ``escalation.severities``; its roles; its ladder levels (above L1, the on-call, whom
        ``responders`` describes); the decisions of ``decisions.other``.  An :class:`~gameday.errors.InputError`
        naming the field otherwise (no file: the caller adds it)."""
        from gameday.errors import InputError
        from gameday.names import unknown
        from gameday.references import check_role, check_severity, decision_slugs, ladder_levels

        for name in self.arrivals_per_day:
            check_severity(runbook, name, f"arrivals_per_day.{name}")
        for path, value in self.per_severity_fields():
            for name in value if isinstance(value, dict) else ():
                check_severity(runbook, name, f"{path}.{name}", default=True)
        for name in self.incident.error_rate:
            check_severity(runbook, name, f"incident.error_rate.{name}", default=True)
        for i, name in enumerate(self.escalation.severities or ()):
            check_severity(runbook, name, f"escalation.severities[{i}]")
        for name in self.responders.roles:
            check_role(runbook, name, f"responders.roles.{name}", exact=True)  # the simulator reads them as written
        rungs = [level for level in ladder_levels(runbook) if level > 1]
        seen: set[int] = set()
        for i, level in enumerate(self.escalation.levels):
            field = f"escalation.levels[{i}].level"
            if level.level not in rungs:
                raise InputError(None, field, unknown("ladder level", f"L{level.level}", [f"L{n}" for n in rungs],
                                                      "the runbook's ladder above the on-call (L1)"))
            if level.level in seen:
                raise InputError(None, field, f"L{level.level} is given twice")
            seen.add(level.level)
        decisions = decision_slugs(runbook)
        for name in self.decisions.other:
            if name not in decisions:
                raise InputError(None, f"decisions.other.{name}",
                                 unknown("workflow decision", name, decisions, "the runbook's workflow"))

    def error_rate(self, severity: str) -> Distribution:
        table = self.incident.error_rate
        return table.get(severity) or table.get("default") or Fixed(value=0.0)


def load_policy(path: str) -> Policy:
    """Load and validate a policy YAML (relative CSV paths resolve beside it)."""
    from gameday.files import load_model

    return load_model(path, Policy)
