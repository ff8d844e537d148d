"""The faults on the local sandbox, one actuator class each (registered in :data:`LOCAL_FAULTS`).

Rollout faults deploy a bad release of the demo backend; knob faults change the runtime knobs the backend
and its upstream re-read within half a second (``drills/service/knobs.py``); ``pgbouncer-down`` stops the
pooler under supervisord; ``network`` adds toxics to one of the backend's links through Toxiproxy.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from drills.faults.base import FaultActuator, FaultRegistry
from drills.faults.knobs import LEAK_KNOBS, MEMORY_KNOBS, knob_names, knob_values, leak_pacing, memory_pacing
from drills.faults.network import degrade, describe_network, heal
from drills.sandbox.config import HEALTHY_VERSION
from drills.sandbox.configs import database_url
from drills.sandbox.paths import read_json
from drills.sandbox.toxiproxy import Toxiproxy
from drills.service.knobs import Knobs, write_knobs
from drills.service.schema import repair
from gameday.faults import (
    CrashloopParams,
    DatabaseDownParams,
    FaultParams,
    FaultType,
    ForwardMigrationParams,
    MemoryLeakParams,
    NetworkParams,
    PgbouncerDownParams,
    PoolLeakParams,
)

if TYPE_CHECKING:
    from drills.sandbox.stack import Sandbox

LocalFault = FaultActuator["Sandbox", Any]
LOCAL_FAULTS: FaultRegistry[LocalFault] = FaultRegistry("local")


class _Rollout(FaultActuator["Sandbox", PoolLeakParams | CrashloopParams]):
    """Deploy the release the parameters name; revert rolls back to the version recorded before."""

    def prepare(self, ctx: Sandbox, params: PoolLeakParams | CrashloopParams) -> dict[str, Any]:
        return {"version": ctx.deployment().version}

    def inject(self, ctx: Sandbox, params: PoolLeakParams | CrashloopParams) -> None:
        ctx.rollout(params.version, cause=f"fault {self.fault.value}")

    def revert(self, ctx: Sandbox, undo: dict[str, Any]) -> str:
        wanted = undo.get("version") or HEALTHY_VERSION
        if ctx.deployment().version != wanted:
            ctx.rollout(wanted, cause=f"revert {self.fault.value}")
            return f"rolled backend back to {wanted}"
        # The deployment says `wanted`, but a rollout cut short (a runner killed in the middle of its
        # revert) leaves pods on the old version or stopped: finish it, or the fault stays.
        behind = [r.name for r in ctx.replicas() if r.version != wanted or r.state != "Running"]
        if behind:
            ctx.restart()
            return f"finished the rollout to {wanted} ({', '.join(behind)} were not on it)"
        return f"backend already runs {wanted}"


@LOCAL_FAULTS.register
class LocalPoolLeak(_Rollout):
    """The 2026-01-24-001 release, leaking on the schedule of :func:`drills.faults.knobs.leak_pacing` at the
    sandbox's time scale."""

    fault = FaultType.connection_pool_leak

    def prepare(self, ctx: Sandbox, params: PoolLeakParams | CrashloopParams) -> dict[str, Any]:
        current = _read_knobs(ctx)
        return {**super().prepare(ctx, params), "knobs": {name: getattr(current, name) for name in LEAK_KNOBS}}

    def inject(self, ctx: Sandbox, params: PoolLeakParams | CrashloopParams) -> None:
        write_knobs(ctx.layout.knobs, **leak_pacing(ctx.cfg.time_scale, time.time()))
        super().inject(ctx, params)

    def revert(self, ctx: Sandbox, undo: dict[str, Any]) -> str:
        done = super().revert(ctx, undo)
        if undo.get("knobs"):
            write_knobs(ctx.layout.knobs, **undo["knobs"])
        return done


@LOCAL_FAULTS.register
class LocalMemoryLeak(_Rollout):
    """The memory-leaking release, its pace (MiB per runbook minute) in the knob file at the sandbox's time scale;
    each replica's kubelet kills a container over its memory limit (drills/sandbox/oom.py).  Revert rolls back
    and puts the pace knob back."""

    fault = FaultType.memory_leak

    def prepare(self, ctx: Sandbox, params: MemoryLeakParams) -> dict[str, Any]:  # type: ignore[override]
        current = _read_knobs(ctx)
        return {**super().prepare(ctx, params), "knobs": {name: getattr(current, name) for name in MEMORY_KNOBS}}  # type: ignore[arg-type]

    def inject(self, ctx: Sandbox, params: MemoryLeakParams) -> None:  # type: ignore[override]
        write_knobs(ctx.layout.knobs, **memory_pacing(params.mib_per_minute, ctx.cfg.time_scale))
        super().inject(ctx, params)  # type: ignore[arg-type]

    def revert(self, ctx: Sandbox, undo: dict[str, Any]) -> str:
        done = super().revert(ctx, undo)
        if undo.get("knobs"):
            write_knobs(ctx.layout.knobs, **undo["knobs"])
        return done


@LOCAL_FAULTS.register
class LocalCrashloop(_Rollout):
    fault = FaultType.crashloop


@LOCAL_FAULTS.register
class LocalForwardMigration(_Rollout):
    """The release migrates the schema forward as its pods start; revert rolls back to the version recorded
    before, *then* migrates the schema back (once no pod of the new release is left to migrate it again).
    With the sandbox down, the deployment is put back and its next start migrates the schema back."""

    fault = FaultType.forward_migration

    def prepare(self, ctx: Sandbox, params: ForwardMigrationParams) -> dict[str, Any]:  # type: ignore[override]
        return {**super().prepare(ctx, params), "schema": 1}  # type: ignore[arg-type]

    def revert(self, ctx: Sandbox, undo: dict[str, Any]) -> str:
        done = super().revert(ctx, undo)
        if ctx.service_state("postgres") != "RUNNING":
            return f"{done}; the schema goes back at the next sandbox start"
        ctx.migrate_schema(int(undo.get("schema", 1)))
        return f"{done}; schema back to {undo.get('schema', 1)}"


@LOCAL_FAULTS.register
class LocalDataCorruption(_Rollout):
    """The double-booking release; revert rolls back to the version recorded before, ends maintenance mode and
    removes the duplicates it wrote (the drill's wrong data is its fault too).  With PostgreSQL down the
    repair waits: the record stays pending and the next start tries again."""

    fault = FaultType.data_corruption

    def prepare(self, ctx: Sandbox, params: Any) -> dict[str, Any]:
        return {**super().prepare(ctx, params), "maintenance": _read_knobs(ctx).maintenance}

    def revert(self, ctx: Sandbox, undo: dict[str, Any]) -> str:
        done = super().revert(ctx, undo)
        write_knobs(ctx.layout.knobs, maintenance=bool(undo.get("maintenance", False)))
        if ctx.service_state("postgres") != "RUNNING":
            ctx.start_service("postgres")
        removed = repair(database_url(ctx.cfg, direct=True))
        return f"{done}; maintenance mode as before; {removed} duplicated appointment(s) removed"


@LOCAL_FAULTS.register
class LocalPgbouncerDown(FaultActuator["Sandbox", PgbouncerDownParams]):
    fault = FaultType.pgbouncer_down

    def prepare(self, ctx: Sandbox, params: PgbouncerDownParams) -> dict[str, Any]:
        return {"was": ctx.service_state("pgbouncer")}

    def inject(self, ctx: Sandbox, params: PgbouncerDownParams) -> None:
        ctx.stop_service("pgbouncer")

    def revert(self, ctx: Sandbox, undo: dict[str, Any]) -> str:
        ctx.start_service("pgbouncer")
        return "pgbouncer started"


@LOCAL_FAULTS.register
class LocalDatabaseDown(FaultActuator["Sandbox", DatabaseDownParams]):
    """PostgreSQL stopped under supervisord; PgBouncer keeps running and accepting clients."""

    fault = FaultType.database_down

    def prepare(self, ctx: Sandbox, params: DatabaseDownParams) -> dict[str, Any]:
        return {"was": ctx.service_state("postgres")}

    def inject(self, ctx: Sandbox, params: DatabaseDownParams) -> None:
        ctx.stop_service("postgres")

    def revert(self, ctx: Sandbox, undo: dict[str, Any]) -> str:
        ctx.start_service("postgres")
        return "postgres started"


def _read_knobs(ctx: Sandbox) -> Knobs:
    return Knobs.model_validate(read_json(ctx.layout.knobs, {}) or {})


class _KnobFault(FaultActuator["Sandbox", Any]):
    """Write the fault's knobs into the sandbox's knob file; revert writes back the values read before."""

    def prepare(self, ctx: Sandbox, params: FaultParams) -> dict[str, Any]:
        current = _read_knobs(ctx)
        return {name: getattr(current, name) for name in knob_names(self.fault)}

    def inject(self, ctx: Sandbox, params: FaultParams) -> None:
        write_knobs(ctx.layout.knobs, **knob_values(params))

    def revert(self, ctx: Sandbox, undo: dict[str, Any]) -> str:
        write_knobs(ctx.layout.knobs, **undo)
        return f"knobs restored: {undo}"


@LOCAL_FAULTS.register
class LocalSlowQueries(_KnobFault):
    fault = FaultType.slow_queries


@LOCAL_FAULTS.register
class LocalErrorBurst(_KnobFault):
    fault = FaultType.error_burst


@LOCAL_FAULTS.register
class LocalConfigChange(_KnobFault):
    """A configuration push without a new image: the knob file stands for the ConfigMap."""

    fault = FaultType.config_change


@LOCAL_FAULTS.register
class LocalNetwork(FaultActuator["Sandbox", NetworkParams]):
    """Toxics on one of the backend's links through Toxiproxy (drills/sandbox/toxiproxy.py): latency on the
    replies, resets (RST) of the connections, or a partition (connections accepted, no byte passes).  Revert
    removes every toxic of the link, so a killed runner's, or a second drill's, cannot stay behind; a link
    without toxics is the healthy network."""

    fault = FaultType.network

    def describe(self, params: NetworkParams) -> str:
        return describe_network(params)

    def prepare(self, ctx: Sandbox, params: NetworkParams) -> dict[str, Any]:
        return {"link": params.link, "mode": params.mode}

    def inject(self, ctx: Sandbox, params: NetworkParams) -> None:
        degrade(Toxiproxy(ctx.toxiproxy_url), params)

    def revert(self, ctx: Sandbox, undo: dict[str, Any]) -> str:
        link = str(undo.get("link", "pgbouncer"))
        if ctx.service_state("toxiproxy") != "RUNNING":
            return f"Toxiproxy is not running: its links start without toxics ({link})"
        removed = heal(Toxiproxy(ctx.toxiproxy_url), undo)  # drills/faults/network.py: the kind target's too
        return f"link to {link} healthy again: removed {', '.join(removed) or 'no toxic'}"

