"""The fault catalogue: every fault type a scenario may name, with one typed parameter model each.

Why in the core: a scenario is validated before anything starts (``gameday validate``, the drill runner),
so the parameters are checked with the scenario itself, with the file and field named, and ``gameday
schema scenario`` shows them.  Both drill targets read the same validated model; each target turns it
into changes with its own actuator (``drills/faults/local.py``, ``drills/k8s/faults.py``), registered by
fault type.  One name per parameter, whatever the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from gameday.names import unknown
from gameday.releases import CRASHLOOP, DOUBLE_BOOKING, LEAKY, MEMORY_LEAK, MIGRATING, RELEASES

#: The releases the rollout faults deploy by default (the release catalogue, :mod:`gameday.releases`).
LEAKY_VERSION = LEAKY.version
CRASHLOOP_VERSION = CRASHLOOP.version


class FaultType(StrEnum):
    connection_pool_leak = "connection-pool-leak"  # deploy the leaky release (incident 2026-01-24-001)
    crashloop = "crashloop"  # release that cannot reach the database
    pgbouncer_down = "pgbouncer-down"
    slow_queries = "slow-queries"
    error_burst = "error-burst"
    config_change = "config-change"  # a bad configuration push, no new image (issue 22)
    database_down = "database-down"  # PostgreSQL stops while PgBouncer keeps running (the runbook's "RDS")
    forward_migration = "forward-migration"  # a buggy release whose schema migration has no way back
    data_corruption = "data-corruption"  # a release that writes wrong data while every request succeeds
    network = "network"  # latency, resets or a partition on a link of the backend (Toxiproxy)
    memory_leak = "memory-leak"  # a release whose memory grows until the container is OOM-killed
    node_loss = "node-loss"  # a worker node of the cluster stops (or is drained): kind only


class FaultParams(BaseModel):
    """Closed and immutable: an unknown key is an error naming it, never a silently ignored knob; numbers
    are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _released(version: str) -> str:
    """A version the release catalogue has (the kind build makes an image for each, nothing else)."""
    if version not in RELEASES:
        raise ValueError(unknown("release", version, list(RELEASES), "the release catalogue"))
    return version


#: A release of the catalogue (:mod:`gameday.releases`), by version.
ReleaseVersion = Annotated[str, AfterValidator(_released)]


class PoolLeakParams(FaultParams):
    version: ReleaseVersion = Field(default=LEAKY_VERSION, description="the leaking release to roll out")


class CrashloopParams(FaultParams):
    version: ReleaseVersion = Field(default=CRASHLOOP_VERSION,
                                    description="the release that cannot reach its database")  # fmt: skip


class PgbouncerDownParams(FaultParams):
    pass


class SlowQueriesParams(FaultParams):
    query_latency_s: float = Field(default=1.2, gt=0, le=30, description="pg_sleep added to affected queries (s)")
    latency_fraction: float = Field(default=0.08, gt=0, le=1, description="share of queries slowed")


class ConfigChangeParams(FaultParams):
    """The pushed configuration's bad value; the good one is the knob's default (2 s)."""

    upstream_timeout_s: float = Field(default=0.0001, gt=0, le=60,
                                      description="the eligibility client's timeout after the change (s)")  # fmt: skip


class ForwardMigrationParams(FaultParams):
    version: ReleaseVersion = Field(default=MIGRATING.version,
                                    description="the release to roll out: it migrates the schema forward as it "
                                                "starts, and has a bug")  # fmt: skip


class DataCorruptionParams(FaultParams):
    version: ReleaseVersion = Field(default=DOUBLE_BOOKING.version,
                                    description="the release to roll out: it books every appointment twice")


class DatabaseDownParams(FaultParams):
    pass


class ErrorBurstParams(FaultParams):
    upstream_error_fraction: float = Field(default=0.5, gt=0, le=1,
                                           description="share of eligibility calls answered 5xx")  # fmt: skip


class NetworkParams(FaultParams):
    """One network link of the backend degraded: slower, reset, or cut off (packets go nowhere)."""

    link: Literal["pgbouncer", "upstream"] = Field(
        default="pgbouncer", description="the backend's link: to PgBouncer, or to the eligibility upstream")
    mode: Literal["latency", "reset", "partition"] = Field(
        default="latency", description="latency: each reply delayed; reset: connections reset (RST); partition: "
                                       "connections accepted, nothing gets through")
    latency_ms: int = Field(default=400, ge=1, le=60000, description="latency mode: delay added to each reply (ms)")
    jitter_ms: int = Field(default=100, ge=0, le=60000, description="latency mode: +/- this much at random (ms)")
    share: float = Field(default=1.0, gt=0, le=1, description="share of the link's connections affected")

    @model_validator(mode="after")
    def _latency_only(self) -> NetworkParams:
        given = sorted({"latency_ms", "jitter_ms"} & self.model_fields_set)
        if given and self.mode != "latency":
            verb = "is" if len(given) == 1 else "are"
            raise ValueError(f"{' and '.join(given)} {verb} for mode latency only (mode is {self.mode})")
        return self


class MemoryLeakParams(FaultParams):
    """A release that keeps memory it never frees, at a pace in runbook time; the container's memory limit (the
    Deployment's, the same on both targets) decides when the kernel, or the sandbox's kubelet, kills it."""

    version: ReleaseVersion = Field(default=MEMORY_LEAK.version, description="the leaking release to roll out")
    mib_per_minute: float = Field(default=32.0, gt=0, le=1024,
                                  description="memory each replica keeps per runbook minute (MiB)")  # fmt: skip

    @model_validator(mode="after")
    def _leaks(self) -> MemoryLeakParams:
        if not RELEASES[self.version].leaks_memory:
            leaking = ", ".join(v for v, r in RELEASES.items() if r.leaks_memory)
            raise ValueError(f"release {self.version} does not leak memory; leaking: {leaking}")
        return self


class NodeLossParams(FaultParams):
    """A worker node lost: its machine stops (the kubelet and every pod on it with it), or it is drained for
    maintenance (cordoned, its pods evicted as the PodDisruptionBudget allows)."""

    worker: int | None = Field(default=None, ge=1, le=5,
                               description="which worker (1 = the first; kind names it <cluster>-worker, then "
                                           "-worker2 ...); default: the one running the most backend pods")
    mode: Literal["stop", "drain"] = Field(
        default="stop", description="stop: the node's machine stops (kind: docker stop); drain: cordon it and "
                                    "evict its pods (kubectl drain)")


@dataclass(frozen=True)
class FaultSpec:
    type: FaultType
    params: type[FaultParams]
    summary: str
    #: The alerts that should fire (the detection signature), on every target.
    signature: tuple[str, ...]
    #: The drill targets with an actuator for it (a test holds each target's registry to this), so a scenario
    #: naming a target that cannot inject its fault is refused when it is loaded.
    targets: tuple[str, ...] = ("local", "kubernetes")


CATALOGUE: dict[FaultType, FaultSpec] = {
    spec.type: spec
    for spec in (
        FaultSpec(FaultType.connection_pool_leak, PoolLeakParams,
                  "roll out a release that leaks a database connection on every query timeout",
                  ("HighErrorRate", "PgBouncerPoolSaturated")),
        FaultSpec(FaultType.crashloop, CrashloopParams, "roll out a release that cannot connect to its database",
                  ("BackendCrashLooping", "BackendDown")),
        FaultSpec(FaultType.pgbouncer_down, PgbouncerDownParams, "stop PgBouncer", ("PgBouncerDown", "HighErrorRate")),
        FaultSpec(FaultType.slow_queries, SlowQueriesParams, "add pg_sleep to a share of queries", ("HighLatencyP95",)),
        FaultSpec(FaultType.error_burst, ErrorBurstParams,
                  "the eligibility upstream answers 5xx for a share of calls", ("HighErrorRate",)),
        FaultSpec(FaultType.config_change, ConfigChangeParams,
                  "push a configuration change (no new image): the eligibility client's timeout far too short",
                  ("HighErrorRate",)),
        FaultSpec(FaultType.database_down, DatabaseDownParams,
                  "stop PostgreSQL while PgBouncer keeps running", ("DatabaseDown", "HighErrorRate")),
        FaultSpec(FaultType.forward_migration, ForwardMigrationParams,
                  "roll out a buggy release whose forward-only schema migration breaks the release before it",
                  ("HighErrorRate",)),
        FaultSpec(FaultType.data_corruption, DataCorruptionParams,
                  "roll out a release that books every appointment twice while every request succeeds",
                  ("DataIntegrityViolation",)),
        FaultSpec(FaultType.network, NetworkParams,
                  "degrade the network between the backend and a dependency (latency, resets or a partition)",
                  ("DependencyUnreachable", "DependencyLatencyHigh")),
        FaultSpec(FaultType.memory_leak, MemoryLeakParams,
                  "roll out a release whose memory grows until its containers are OOM-killed", ("BackendOOMKilled",)),
        # the sandbox runs processes on one machine: it has no node to lose
        FaultSpec(FaultType.node_loss, NodeLossParams,
                  "lose a worker node (it stops, or is drained): its backend pods go, and come back elsewhere",
                  ("BackendDown",), targets=("kubernetes",)),
    )
}  # fmt: skip


#: Every alert the drills' rules define (``drills/sandbox/configs.py`` ``alert_rules``, the same on kind): the
#: names a scenario's ``expected_alerts`` may give.  Each fault's signature names some of them.
ALERTS: tuple[str, ...] = tuple(dict.fromkeys(name for spec in CATALOGUE.values() for name in spec.signature))


def spec_for(fault_type: FaultType | str) -> FaultSpec:
    return CATALOGUE[FaultType(fault_type)]
