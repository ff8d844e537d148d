"""The five sandbox faults.  ``prepare`` reads what ``revert`` will need (before any change), ``apply``
makes the change, ``revert`` undoes it and is safe to call when the change is already undone (a
responder may have rolled back first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drills.sandbox.config import CRASHLOOP_VERSION, HEALTHY_VERSION, LEAKY_VERSION
from drills.service.knobs import Knobs, write_knobs
from gameday.errors import InputError, from_validation_error
from gameday.scenario import FaultType

if TYPE_CHECKING:
    from drills.sandbox.stack import Sandbox


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RolloutParams(_Params):
    version: str = Field(min_length=1)


class NoParams(_Params):
    pass


class LatencyParams(_Params):
    query_latency_s: float = Field(default=1.2, gt=0, le=30)
    latency_fraction: float = Field(default=0.08, gt=0, le=1)


class ErrorBurstParams(_Params):
    upstream_error_fraction: float = Field(default=0.5, gt=0, le=1)


@dataclass(frozen=True)
class LocalFault:
    type: FaultType
    params_model: type[_Params]
    signature: tuple[str, ...]  # alert names that should fire (the detection signature)
    summary: str

    def params(self, raw: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.params_model.model_validate(raw).model_dump()
        except ValidationError as exc:
            err = from_validation_error(None, exc)
            raise InputError(None, f"fault.params.{err.field}" if err.field else "fault.params",
                             err.problem) from None

    def prepare(self, sandbox: Sandbox, params: dict[str, Any]) -> dict[str, Any]:
        if self.type in ROLLOUTS:
            return {"version": sandbox.deployment().version}
        if self.type is FaultType.pgbouncer_down:
            return {"was": sandbox.service_state("pgbouncer")}
        current = _read_knobs(sandbox)
        return {key: getattr(current, key) for key in params}

    def apply(self, sandbox: Sandbox, params: dict[str, Any]) -> None:
        if self.type in ROLLOUTS:
            sandbox.rollout(params["version"], cause=f"fault {self.type.value}")
        elif self.type is FaultType.pgbouncer_down:
            sandbox.stop_service("pgbouncer")
        else:
            write_knobs(sandbox.layout.knobs, **params)

    def revert(self, sandbox: Sandbox, revert_state: dict[str, Any]) -> str:
        if self.type in ROLLOUTS:
            wanted = revert_state.get("version") or HEALTHY_VERSION
            if sandbox.deployment().version == wanted:
                return f"backend already runs {wanted}"
            sandbox.rollout(wanted, cause=f"revert {self.type.value}")
            return f"rolled backend back to {wanted}"
        if self.type is FaultType.pgbouncer_down:
            sandbox.start_service("pgbouncer")
            return "pgbouncer started"
        write_knobs(sandbox.layout.knobs, **revert_state)
        return f"knobs restored: {revert_state}"


def _read_knobs(sandbox: Sandbox) -> Knobs:
    from drills.sandbox.paths import read_json

    return Knobs.model_validate(read_json(sandbox.layout.knobs, {}) or {})


class _LeakParams(RolloutParams):
    version: str = LEAKY_VERSION


class _CrashParams(RolloutParams):
    version: str = CRASHLOOP_VERSION


ROLLOUTS = {FaultType.connection_pool_leak, FaultType.crashloop}

LOCAL_FAULTS: dict[FaultType, LocalFault] = {
    f.type: f for f in (
        LocalFault(FaultType.connection_pool_leak, _LeakParams, ("HighErrorRate", "PgBouncerPoolSaturated"),
                   f"roll out {LEAKY_VERSION}, which leaks a DB connection on every query timeout"),
        LocalFault(FaultType.crashloop, _CrashParams, ("BackendCrashLooping", "BackendDown"),
                   f"roll out {CRASHLOOP_VERSION}, which cannot connect to the database at start"),
        LocalFault(FaultType.pgbouncer_down, NoParams, ("PgBouncerDown", "HighErrorRate"), "stop PgBouncer"),
        LocalFault(FaultType.slow_queries, LatencyParams, ("HighLatencyP95",), "add pg_sleep to queries"),
        LocalFault(FaultType.error_burst, ErrorBurstParams, ("HighErrorRate",),
                   "the eligibility upstream answers 5xx for a share of requests"),
    )
}


def fault_for(fault_type: FaultType | str) -> LocalFault:
    """The actuator, or an error naming the field when the local target has none."""
    try:
        return LOCAL_FAULTS[FaultType(fault_type)]
    except (ValueError, KeyError):
        known = ", ".join(t.value for t in LOCAL_FAULTS)
        raise InputError(None, "fault.type", f"unknown fault {str(fault_type)!r} for the local target; "
                                             f"expected one of {known}") from None
