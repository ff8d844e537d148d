"""The local sandbox as a drill :class:`~drills.targets.base.Target`.

Injection records live in ``<sandbox>/injections/<id>.json`` (fsynced before the fault is applied);
reverted ones move to ``injections/reverted/``, so "anything pending?" is one directory listing.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from drills.active import LOCAL_KEY
from drills.detection import DetectionChain
from drills.faults.knobs import CONFIG_KNOBS
from drills.faults.local import LOCAL_FAULTS
from drills.sandbox.config import SandboxConfig
from drills.sandbox.paths import write_json_atomic
from drills.sandbox.stack import Sandbox
from drills.sandbox.toxiproxy import LINKS, Toxiproxy
from drills.service.knobs import Knobs, write_knobs
from drills.targets.base import Endpoints, InjectionRecord, RemedyRegistry, ReplicaState, repair_through_app
from gameday.errors import InputError, TargetError
from gameday.journal import JournalWriter
from gameday.remediations import (
    DeploymentParams,
    NoParams,
    Remediation,
    RollbackParams,
    RollForwardParams,
    ScaleParams,
)
from gameday.scenario import Fault

#: The catalogue's remediations on the sandbox (gameday.remediations), one method each below.
LOCAL_REMEDIES: RemedyRegistry[LocalTarget] = RemedyRegistry("local")


def _backend_only(params: DeploymentParams) -> None:
    if params.deployment not in (None, "backend"):
        raise InputError(None, "deployment", f"unknown deployment {params.deployment!r}; the sandbox has: backend")


class LocalTarget:
    name = "local"
    remedies = LOCAL_REMEDIES
    #: One sandbox per state folder, so the key needs nothing else (markers live in that folder too).
    key = LOCAL_KEY

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.sandbox = Sandbox(config)
        self.config = self.sandbox.cfg
        self._clock_start: float | None = None

    def close(self) -> None:
        """Nothing to release: every call talks to the live processes afresh."""

    def calibrate(self, time_scale: float, detection: DetectionChain, drill_id: str | None = None) -> dict[str, Any]:
        """The next :meth:`up` writes Prometheus and Alertmanager configs for this scale and reloads them;
        the pool-leak fault paces its rollout and leak by it too."""
        self.sandbox.cfg = self.config = self.config.model_copy(update={"time_scale": time_scale,
                                                                       "detection": detection})
        return {"scaled": True, **self.config.wall.model_dump()}

    def restore_calibration(self) -> None:
        """Nothing outlives the drill that matters: the sandbox is the drills' own, recalibrated by each one."""

    def start_observers(self, journal: JournalWriter, alert_webhook_url: str | None = None) -> None:
        """The sandbox's Alertmanager posts to the runner's webhook itself; remediations journal themselves."""

    def stop_observers(self) -> None:
        """Nothing was started."""

    def observer_error(self) -> None:
        """No observer of its own that could give up."""

    # -- lifecycle -------------------------------------------------------------------------------------
    def up(self) -> None:
        self.sandbox.up()

    def down(self) -> None:
        for record in self.pending_injections():  # works when down too: the undo is in the files
            self.revert(record)
        self.sandbox.down()

    def is_ready(self) -> bool:
        return self.sandbox.is_ready()

    def endpoints(self) -> Endpoints:
        p = self.config.ports
        return Endpoints(
            app_url=self.sandbox.app_url, prometheus_url=self.sandbox.prometheus_url,
            alertmanager_url=self.sandbox.alertmanager_url,
            extra={"webhook_url": self.sandbox.webhook_url, "webhook_port": str(p.webhook),
                   "pgbouncer": f"127.0.0.1:{p.pgbouncer}", "postgres": f"127.0.0.1:{p.postgres}",
                   "exporter": f"http://127.0.0.1:{p.exporter}", "upstream": f"http://127.0.0.1:{p.upstream}"},
        )

    def replicas(self) -> list[ReplicaState]:
        return self.sandbox.replicas()

    # -- faults ----------------------------------------------------------------------------------------
    def describe(self, fault: Fault) -> str:
        return LOCAL_FAULTS[fault.type].describe(fault.params)

    def inject(self, fault: Fault, drill_id: str | None = None) -> InjectionRecord:
        actuator = LOCAL_FAULTS[fault.type]
        if not self.sandbox.is_up():
            raise TargetError("the sandbox is not running; run `gameday sandbox up` first")
        record = InjectionRecord(
            id=f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{fault.type.value}-{secrets.token_hex(3)}",
            target=self.name, fault=fault.type, params=fault.params.model_dump(),
            revert_state=actuator.prepare(self.sandbox, fault.params), drill_id=drill_id, runner_pid=os.getpid(),
        )  # fmt: skip
        self._save(record)  # durable before the change: a killed runner's fault can always be found
        self._clock_start = time.time()  # the pool leak's schedule counts from here (drills/faults/local.py)
        actuator.inject(self.sandbox, fault.params)
        return record

    def fault_clock_start(self) -> float | None:
        """The injection: every sandbox fault paces itself from it."""
        return self._clock_start

    def revert(self, record: InjectionRecord) -> None:
        already = record.reverted_at is not None or (self._reverted_dir / f"{record.id}.json").exists()
        if already and not self._pending_path(record.id).exists():
            return  # safe to call twice
        LOCAL_FAULTS[record.fault].revert(self.sandbox, record.revert_state)
        done = record.model_copy(update={"reverted_at": datetime.now(UTC)})
        write_json_atomic(self._reverted_dir / f"{record.id}.json", done.model_dump(mode="json"), durable=True)
        self._pending_path(record.id).unlink(missing_ok=True)

    def pending_injections(self) -> list[InjectionRecord]:
        folder = self.sandbox.layout.injections
        if not folder.exists():
            return []
        records = []
        for path in sorted(folder.glob("*.json")):
            try:
                records.append(InjectionRecord.model_validate_json(path.read_text(encoding="utf-8")))
            except ValueError as exc:
                raise TargetError(f"unreadable injection record {path}: {exc}") from None
        return records

    def _save(self, record: InjectionRecord) -> None:
        write_json_atomic(self._pending_path(record.id), record.model_dump(mode="json"), durable=True)

    def _pending_path(self, record_id: str) -> Any:
        return self.sandbox.layout.injections / f"{record_id}.json"

    @property
    def _reverted_dir(self) -> Any:
        return self.sandbox.layout.injections / "reverted"

    # -- responders ------------------------------------------------------------------------------------
    def remediate(self, action: Remediation | str, **params: Any) -> str:
        return LOCAL_REMEDIES.take(self, action, params)

    @LOCAL_REMEDIES.register(Remediation.rollback)
    def _rollback(self, params: RollbackParams) -> str:
        _backend_only(params)
        if params.to_revision is not None:
            raise InputError(None, "to_revision", "the sandbox rolls back to the previous revision only")
        before = self.sandbox.deployment().version
        dep = self.sandbox.undo()
        return f"rolled back backend from {before} to {dep.version} (revision {dep.current.revision})"

    @LOCAL_REMEDIES.register(Remediation.restart)
    def _restart(self, params: DeploymentParams) -> str:
        _backend_only(params)
        dep = self.sandbox.restart()
        return f"restarted {dep.replicas} backend replicas ({dep.version})"

    @LOCAL_REMEDIES.register(Remediation.scale)
    def _scale(self, params: ScaleParams) -> str:
        _backend_only(params)
        before = self.sandbox.deployment().replicas
        self.sandbox.scale(params.replicas)
        return f"scaled backend from {before} to {params.replicas} replicas"

    @LOCAL_REMEDIES.register(Remediation.restart_pgbouncer)
    def _restart_pgbouncer(self, params: NoParams) -> str:
        self.sandbox.supervisor.restart("pgbouncer")
        return "restarted pgbouncer"

    @LOCAL_REMEDIES.register(Remediation.kill_slow_queries)
    def _kill_slow_queries(self, params: NoParams) -> str:
        """Stands for cancelling the runaway job behind the slow queries."""
        write_knobs(self.sandbox.layout.knobs, query_latency_s=0.0)
        return "cancelled the slow queries"

    @LOCAL_REMEDIES.register(Remediation.failover_upstream)
    def _failover_upstream(self, params: NoParams) -> str:
        """Stands for switching to a healthy eligibility instance."""
        write_knobs(self.sandbox.layout.knobs, upstream_error_fraction=0.0)
        return "failed over the eligibility upstream"

    @LOCAL_REMEDIES.register(Remediation.revert_config)
    def _revert_config(self, params: NoParams) -> str:
        """The configuration's good values are the knobs' defaults (what the team's repository holds)."""
        good = {name: Knobs.model_fields[name].default for name in CONFIG_KNOBS}
        write_knobs(self.sandbox.layout.knobs, **good)
        return f"configuration reverted: {good}"

    @LOCAL_REMEDIES.register(Remediation.restart_database)
    def _restart_database(self, params: NoParams) -> str:
        if self.sandbox.service_state("postgres") != "RUNNING":
            self.sandbox.start_service("postgres")
            return "started postgres"
        self.sandbox.supervisor.restart("postgres")
        return "restarted postgres"

    @LOCAL_REMEDIES.register(Remediation.roll_forward)
    def _roll_forward(self, params: RollForwardParams) -> str:
        _backend_only(params)
        before = self.sandbox.deployment().version
        dep = self.sandbox.rollout(params.version, cause=f"roll forward from {before}")
        return f"rolled backend forward from {before} to {dep.version} (revision {dep.current.revision})"

    @LOCAL_REMEDIES.register(Remediation.maintenance_on)
    def _maintenance_on(self, params: NoParams) -> str:
        write_knobs(self.sandbox.layout.knobs, maintenance=True)
        return "maintenance mode on: writes are refused"

    @LOCAL_REMEDIES.register(Remediation.repair_data)
    def _repair_data(self, params: NoParams) -> str:
        """Through the backend's repair endpoint, as on every target (PgBouncer and the pool included)."""
        return f"repaired: {repair_through_app(self.sandbox.app_url)} duplicated appointment(s) removed"

    @LOCAL_REMEDIES.register(Remediation.maintenance_off)
    def _maintenance_off(self, params: NoParams) -> str:
        write_knobs(self.sandbox.layout.knobs, maintenance=False)
        return "maintenance mode off: writes are accepted again"

    @LOCAL_REMEDIES.register(Remediation.failover_network)
    def _failover_network(self, params: NoParams) -> str:
        """Stands for moving traffic to a healthy path: every link of the backend without toxics."""
        proxy = Toxiproxy(self.sandbox.toxiproxy_url)
        cleared = {link: proxy.clear(link) for link in LINKS}
        degraded = [link for link, names in cleared.items() if names]
        return f"failed over the network path to {', '.join(degraded)}" if degraded else "no degraded link found"

    @LOCAL_REMEDIES.register(Remediation.restore_node)
    def _restore_node(self, params: NoParams) -> str:
        """The sandbox's processes share one machine: there is no node to lose or restore (node-loss is kind only,
        refused at validation)."""
        raise TargetError("restore-node: the local sandbox has no nodes (node-loss runs on kind: --target kubernetes)")

    def rollout_history(self) -> list[str]:
        return [rev.version for rev in self.sandbox.deployment().history]
