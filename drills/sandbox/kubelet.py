"""One backend replica, kubelet-style: supervisord keeps this wrapper alive, the wrapper (re)starts the
backend container with exponential CrashLoopBackOff delays, probes ``/ready`` and publishes the pod's
state (``kubectl get pods`` columns) as JSON for the Service, the exporter and ``sandbox status``.

supervisord's own retry logic cannot express Kubernetes semantics (unbounded restarts, doubling delays,
a restart counter, readiness), hence this thin layer on top of it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from drills.sandbox.config import SandboxConfig
from drills.sandbox.configs import database_url
from drills.sandbox.deployment import DeploymentStore
from drills.sandbox.paths import Layout, read_json, write_json_atomic

PROBE_PERIOD_S = 1.0
STARTUP_PROBE_PERIOD_S = 0.2


class Kubelet:
    def __init__(self, cfg: SandboxConfig, index: int) -> None:
        self.cfg = cfg
        self.layout = Layout(cfg.home)
        self.name = f"backend-{index}"
        self.port = cfg.ports.backend_base + index
        self.restarts = 0
        self.stopping = threading.Event()
        self.child: subprocess.Popen[str] | None = None
        self.last_message = ""
        self.last_exit: int | None = None
        self.version = "?"

    def publish(self, state: str, ready: bool, **extra: object) -> None:
        write_json_atomic(self.layout.pod_status(self.name), {
            "name": self.name, "state": state, "ready": ready, "restarts": self.restarts,
            "version": self.version, "port": self.port, "kubelet_pid": os.getpid(),
            "pid": self.child.pid if self.child and self.child.poll() is None else None,
            "last_exit_code": self.last_exit, "message": self.last_message,
            "updated": datetime.now(UTC).isoformat(), **extra,
        })

    def _start_container(self) -> None:
        if self.version == "?":  # a pod's spec is fixed for its life: only a rollout (new pod) changes it
            dep = DeploymentStore(self.layout.deployment).read()
            self.version = dep.version if dep else self.cfg.version
        env = {**os.environ, "APP_VERSION": self.version, "DATABASE_URL": database_url(self.cfg),
               "DB_POOL_SIZE": str(self.cfg.app_pool_size),
               "DB_POOL_TIMEOUT": str(self.cfg.app_pool_timeout_s),
               "UPSTREAM_URL": f"http://127.0.0.1:{self.cfg.ports.upstream}",
               "GAMEDAY_KNOBS_FILE": str(self.layout.knobs), "GAMEDAY_SEED": str(self.cfg.seed)}
        self.child = subprocess.Popen(
            [sys.executable, "-m", "drills.service", "--port", str(self.port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        threading.Thread(target=self._pump, args=(self.child,), daemon=True).start()

    def _pump(self, child: subprocess.Popen[str]) -> None:
        """Forward the container's log to ours (supervisor keeps it) and remember the last line."""
        assert child.stdout is not None
        for line in child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.strip():
                self.last_message = line.strip()[:300]

    def _probe(self, client: httpx.Client) -> tuple[bool, bool]:
        """``(answers, ready)``: the container answers HTTP at all; its readiness endpoint says 200."""
        try:
            return True, client.get(f"http://127.0.0.1:{self.port}/ready").status_code == 200
        except httpx.HTTPError:
            return False, False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        backoff = self.cfg.backoff_base_s
        with httpx.Client(timeout=1.0) as client:
            while not self.stopping.is_set():
                self._start_container()
                started = time.monotonic()
                self.publish("ContainerCreating", False)
                assert self.child is not None
                started_up = serving = False
                while self.child.poll() is None and not self.stopping.is_set():
                    answers, ready = self._probe(client)
                    started_up, serving = started_up or ready, serving or answers
                    # still being created until the process serves (its start-up is no outage)
                    self.publish("Running" if serving else "ContainerCreating", ready)
                    # a startup probe: often until first ready, so rollouts move on as soon as a pod serves
                    self.stopping.wait(PROBE_PERIOD_S if started_up else STARTUP_PROBE_PERIOD_S)
                if self.stopping.is_set():
                    break
                self.child.wait()
                self.last_exit = self.child.returncode
                self.restarts += 1
                if time.monotonic() - started >= self.cfg.backoff_reset_s:
                    backoff = self.cfg.backoff_base_s
                self.publish("CrashLoopBackOff", False, backoff_seconds=backoff)
                print(f"{self.name}: container exited with {self.last_exit}; back-off {backoff:g}s "
                      f"(restarts={self.restarts})", flush=True)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, self.cfg.backoff_max_s)
        self.publish("Terminating", False)  # like a pod with a deletion timestamp: leaving, not down
        self._stop_container()
        self.publish("Terminated", False)
        return 0

    def _stop_container(self) -> None:
        if self.child is None or self.child.poll() is not None:
            return
        self.child.terminate()
        try:
            self.child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()


def load_config(home: Path) -> SandboxConfig:
    data = read_json(Layout(home).config)
    if data is None:
        raise SystemExit(f"no sandbox config at {Layout(home).config}; run `gameday sandbox up`")
    return SandboxConfig.model_validate(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="drills.sandbox.kubelet")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--index", type=int, required=True)
    args = parser.parse_args(argv)
    return Kubelet(load_config(args.home), args.index).run()


if __name__ == "__main__":
    sys.exit(main())
