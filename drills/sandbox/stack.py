"""Bring the sandbox up and down, and run the Deployment operations (rollout, undo, restart, scale).

Everything runs under one supervisord whose state lives in the sandbox folder, so ``up`` on an already
initialised folder only starts processes (a few seconds) and ``down`` leaves data for the next ``up``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import httpx
import psycopg

from drills.sandbox import configs
from drills.sandbox.config import SandboxConfig
from drills.sandbox.deployment import Deployment, DeploymentStore
from drills.sandbox.paths import Layout, read_json, write_json_atomic
from drills.sandbox.supervisor import Supervisor
from drills.targets.base import ReplicaState
from gameday.errors import TargetError
from gameday.releases import release

SERVICES = ("postgres", "pgbouncer", "toxiproxy", "prometheus", "alertmanager", "upstream", "exporter", "service")
UP_TIMEOUT_S = 90.0


def wait_until(check: Callable[[], bool], timeout: float, what: str, period: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(period)
    raise TargetError(f"timed out after {timeout:g}s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


class Sandbox:
    """The local stack.  Cheap to construct; every method talks to the live processes."""

    def __init__(self, cfg: SandboxConfig | None = None) -> None:
        self.cfg = cfg or SandboxConfig.from_env()
        self.layout = Layout(self.cfg.home)
        self.supervisor = Supervisor(self.layout)
        self.deployments = DeploymentStore(self.layout.deployment)

    # -- lifecycle -------------------------------------------------------------------------------------
    def up(self, timeout: float = UP_TIMEOUT_S) -> None:
        start = time.monotonic()
        for folder in (self.layout.logs, self.layout.pods, self.layout.injections,
                       self.layout.prometheus / "data", self.layout.alertmanager / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        running = self.supervisor.running()
        if not running:
            self._check_ports_free()
        write_json_atomic(self.layout.config, self.cfg.model_dump(mode="json"))
        dep = self.deployments.ensure(self.cfg.replicas, self.cfg.version)
        if not (self.layout.pgdata / "PG_VERSION").exists():
            self._initdb()
        changed = configs.write_all(self.cfg, self.layout, dep.replicas)
        if running:
            self.supervisor.update()
        else:
            for stale in self.layout.pods.glob("*.json"):
                stale.unlink()
            self.supervisor.start_daemon()
        for name in SERVICES:
            self.supervisor.start(name)
        wait_until(self._postgres_ready, timeout, "PostgreSQL")
        self._migrate(dep.version)
        wait_until(lambda: port_open(self.cfg.ports.pgbouncer), timeout, "PgBouncer")
        wait_until(lambda: http_ok(f"{self.toxiproxy_url}/version"), timeout, "Toxiproxy (the backend's links)")
        for i in range(dep.replicas):
            self.supervisor.start(f"backend-{i}")
        if running and (changed.get("prometheus.yml") or changed.get("rules.yml")):
            self._reload(f"{self.prometheus_url}/-/reload")
        if running and changed.get("alertmanager.yml"):
            self._reload(f"{self.alertmanager_url}/-/reload")
        left = max(5.0, timeout - (time.monotonic() - start))
        wait_until(lambda: http_ok(f"{self.prometheus_url}/-/ready"), left, "Prometheus")
        wait_until(lambda: http_ok(f"{self.alertmanager_url}/-/ready"), left, "Alertmanager")
        wait_until(self._replicas_ready, left, f"{dep.replicas} backend replicas to be ready")
        wait_until(lambda: http_ok(f"{self.app_url}/health"), left, "the backend Service")

    def down(self, purge: bool = False) -> None:
        self.supervisor.shutdown()
        for stale in self.layout.pods.glob("*.json"):
            stale.unlink()
        if purge and self.layout.home.exists():
            shutil.rmtree(self.layout.home)

    def is_up(self) -> bool:
        return self.supervisor.running()

    def is_ready(self) -> bool:
        if not self.supervisor.running():
            return False
        states = self.supervisor.states()
        if any(states.get(name, {}).get("statename") != "RUNNING" for name in SERVICES):
            return False
        return (self._replicas_ready() and http_ok(f"{self.prometheus_url}/-/ready")
                and http_ok(f"{self.alertmanager_url}/-/ready"))

    def status(self) -> dict[str, Any]:
        dep = self.deployments.read()
        return {
            "home": str(self.layout.home),
            "supervisord": self.supervisor.running(),
            "processes": {name: info["statename"] for name, info in self.supervisor.states().items()},
            "deployment": {"version": dep.version, "revision": dep.current.revision, "replicas": dep.replicas}
            if dep else None,
            "replicas": [asdict(r) for r in self.replicas()],
            "endpoints": {"app": self.app_url, "prometheus": self.prometheus_url,
                          "alertmanager": self.alertmanager_url, "webhook": self.webhook_url},
        }

    # -- endpoints -------------------------------------------------------------------------------------
    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.cfg.ports.service}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.cfg.ports.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.cfg.ports.alertmanager}"

    @property
    def toxiproxy_url(self) -> str:
        """Toxiproxy's API: the network links' toxics (the network fault)."""
        return f"http://127.0.0.1:{self.cfg.ports.toxiproxy}"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.cfg.ports.webhook}/alerts"

    # -- pods ------------------------------------------------------------------------------------------
    def replicas(self) -> list[ReplicaState]:
        """``kubectl get pods`` for the backend, from the kubelets' published state."""
        dep = self.deployments.read()
        if dep is None:
            return []
        states = self.supervisor.states()
        pods = []
        for i in range(dep.replicas):
            name = f"backend-{i}"
            data = read_json(self.layout.pod_status(name), {}) or {}
            proc = states.get(name, {}).get("statename", "ABSENT")
            state = data.get("state", "Pending")
            if proc in ("STOPPED", "EXITED", "FATAL", "ABSENT", "BACKOFF"):
                state = "Pending" if proc != "FATAL" else "Failed"
            elif proc == "STOPPING":
                state = "Terminating"
            elif state in ("ContainerCreating", "Terminated"):
                state = "Pending"
            pods.append(ReplicaState(name=name, state=state, ready=bool(data.get("ready")) and state == "Running",
                                     restarts=int(data.get("restarts", 0)), version=data.get("version", dep.version)))
        return pods

    def pod_detail(self, name: str) -> dict[str, Any]:
        return read_json(self.layout.pod_status(name), {}) or {}

    def _replicas_ready(self) -> bool:
        pods = self.replicas()
        return all(p.ready for p in pods)

    # -- deployment operations -------------------------------------------------------------------------
    def deployment(self) -> Deployment:
        dep = self.deployments.read()
        if dep is None:
            raise TargetError("the sandbox has no deployment yet; run `gameday sandbox up`")
        return dep

    def rollout(self, version: str, cause: str = "") -> Deployment:
        """Deploy ``version`` as a new revision and replace the replicas one by one."""
        with self.deployments.locked() as dep:
            if dep is None:
                raise TargetError("the sandbox has no deployment yet; run `gameday sandbox up`")
            dep = dep.rolled_to(version, cause or f"rollout {version}")
            self.deployments._write(dep)
        self._roll_replicas(dep)
        return dep

    def undo(self) -> Deployment:
        """``kubectl rollout undo``: back to the previous version, as a new revision."""
        dep = self.deployment()
        previous = dep.previous_version()
        if previous is None:
            raise TargetError(f"no previous revision to roll back to (only {dep.version} was deployed)")
        return self.rollout(previous, cause=f"rollout undo from {dep.version}")

    def restart(self) -> Deployment:
        """``kubectl rollout restart``: new pods, same version."""
        dep = self.deployment()
        self._roll_replicas(dep)
        return dep

    def scale(self, replicas: int) -> Deployment:
        if not 0 <= replicas <= self.cfg.max_replicas:
            raise TargetError(f"replicas must be between 0 and {self.cfg.max_replicas}, got {replicas}")
        with self.deployments.locked() as dep:
            if dep is None:
                raise TargetError("the sandbox has no deployment yet; run `gameday sandbox up`")
            old = dep.replicas
            dep = dep.model_copy(update={"replicas": replicas})
            self.deployments._write(dep)
        configs.write_all(self.cfg, self.layout, max(old, replicas))
        for i in range(old, replicas):
            self.supervisor.add(f"backend-{i}")
            self.supervisor.start(f"backend-{i}")
        for i in range(replicas, old):
            self.supervisor.remove(f"backend-{i}")
            (self.layout.programs / f"backend-{i}.conf").unlink(missing_ok=True)
            self.layout.pod_status(f"backend-{i}").unlink(missing_ok=True)
        configs.write_if_changed(self.layout.prometheus / "targets" / "backend.json",
                                 json.dumps(configs.backend_targets(self.cfg, replicas), indent=2))
        return dep

    def _roll_replicas(self, dep: Deployment) -> None:
        if not self.supervisor.running():
            return  # sandbox down: the next `up` starts pods from the deployment as it now stands
        for i in range(dep.replicas):
            name = f"backend-{i}"
            old_uid = self.pod_detail(name).get("uid")
            if not self._replace_through_kubelet(name):
                self.supervisor.stop(name)
                # the old pod is gone, the new one is being created (its kubelet takes over this file once it
                # runs): like Kubernetes, a pod being created is not "down" (the BackendDown rule leaves it out)
                write_json_atomic(self.layout.pod_status(name), {
                    "name": name, "state": "ContainerCreating", "ready": False, "restarts": 0,
                    "version": dep.version, "port": self.cfg.ports.backend_base + i})  # fmt: skip
                self.supervisor.start(name)

            def settled(name: str = name, old_uid: str | None = old_uid) -> bool:
                pod = self.pod_detail(name)
                return pod.get("uid") not in (None, old_uid) and pod.get("version") == dep.version and (
                    (pod.get("state") == "Running" and pod.get("ready")) or pod.get("restarts", 0) > 0)

            # like maxUnavailable=100%: a stuck pod does not block the rest of the rollout
            with contextlib.suppress(TargetError):
                wait_until(settled, self.cfg.rollout_wait_s, f"{name} to run {dep.version}", period=0.05)

    def _replace_through_kubelet(self, name: str) -> bool:
        """A new pod from the running kubelet (SIGHUP), which already has the backend loaded: seconds faster
        than a new kubelet process.  Only a kubelet that has published its state (its handlers are set) is
        asked; otherwise the caller restarts the program."""
        pid = self.supervisor.states().get(name, {}).get("pid")
        if not pid or self.pod_detail(name).get("kubelet_pid") != pid:
            return False
        return self.supervisor.signal(name, "HUP")

    # -- services --------------------------------------------------------------------------------------
    def stop_service(self, name: str) -> None:
        if not self.supervisor.running():
            raise TargetError(f"the sandbox is down; cannot stop {name}")
        self.supervisor.stop(name)

    def start_service(self, name: str) -> None:
        if self.supervisor.running():  # when down, the next `up` starts every service anyway
            self.supervisor.start(name, wait=True)

    def service_state(self, name: str) -> str:
        return self.supervisor.state(name) if self.supervisor.running() else "DOWN"

    # -- internals -------------------------------------------------------------------------------------
    def _check_ports_free(self) -> None:
        busy = [f"{name}={port}" for name, port in self.cfg.ports.model_dump().items()
                if name not in ("webhook", "backend_base") and port_open(port)]
        busy += [f"backend-{i}={self.cfg.ports.backend_base + i}" for i in range(self.cfg.replicas)
                 if port_open(self.cfg.ports.backend_base + i)]
        if busy:
            raise TargetError(f"sandbox ports already in use ({', '.join(busy)}); another sandbox may be "
                              "running from a different state dir — stop it or set GAMEDAY_SANDBOX_PORT_OFFSET")

    def _initdb(self) -> None:
        pgdata = self.layout.pgdata
        if pgdata.exists():
            shutil.rmtree(pgdata)  # a half-made cluster from an interrupted initdb
        cmd = configs.unprivileged([configs.pg_bin("initdb"), "-D", str(pgdata), "-U", configs.DB_USER,
                                    "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=self.layout.home)
        if result.returncode != 0:
            raise TargetError(f"initdb failed: {(result.stderr or result.stdout).strip()[-400:]}")

    def _postgres_ready(self) -> bool:
        try:
            with psycopg.connect(f"host=127.0.0.1 port={self.cfg.ports.postgres} dbname=postgres "
                                 f"user={configs.DB_USER} connect_timeout=1", autocommit=True) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _migrate(self, version: str) -> None:
        """The schema the deployed release needs, back to schema 1 too: a drill reverted while the sandbox was
        down (its unsafe migration's revert) left that to this start."""
        from drills.service.schema import migrate, repair

        with psycopg.connect(f"host=127.0.0.1 port={self.cfg.ports.postgres} dbname=postgres "
                             f"user={configs.DB_USER}", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (configs.DB_NAME,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {configs.DB_NAME}")
        schema = release(version).schema
        migrate(configs.database_url(self.cfg, direct=True), schema, downgrade=schema < 2)
        # the sandbox starts from data that holds its invariant (bookings of older demo versions could collide)
        repair(configs.database_url(self.cfg, direct=True))

    def migrate_schema(self, schema: int) -> None:
        """Bring the running database to ``schema`` (either way; the drills' own clean-up)."""
        from drills.service.schema import migrate

        migrate(configs.database_url(self.cfg, direct=True), schema, downgrade=schema < 2)

    @staticmethod
    def _reload(url: str) -> None:
        try:
            httpx.post(url, timeout=5.0)
        except httpx.HTTPError as exc:
            raise TargetError(f"reload failed: {url}: {exc}") from None
