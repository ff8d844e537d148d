"""One backend replica, kubelet-style: supervisord keeps this wrapper alive, the wrapper (re)starts the
backend container with exponential CrashLoopBackOff delays, probes ``/ready`` and publishes the pod's
state (``kubectl get pods`` columns) as JSON for the Service, the exporter and ``sandbox status``.

supervisord's own retry logic cannot express Kubernetes semantics (unbounded restarts, doubling delays,
a restart counter, readiness), hence this thin layer on top of it.

A container is forked from the kubelet, which imported the backend's modules once (the image is already
on the node): a fresh interpreter paid seconds of imports per start, wall-clock time that a compressed drill
cannot scale.  A rollout replaces the pod through its running kubelet (SIGHUP: a new pod, restart count 0,
the deployment's current version) instead of restarting the supervisord program, for the same reason.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO

import httpx

from drills.sandbox.config import SandboxConfig
from drills.sandbox.configs import database_url, upstream_url
from drills.sandbox.deployment import DeploymentStore
from drills.sandbox.oom import CHECK_PERIOD_S, MIB, Termination, rss_bytes
from drills.sandbox.paths import Layout, read_json, write_json_atomic

PROBE_PERIOD_S = 1.0
STARTUP_PROBE_PERIOD_S = 0.2
#: A pump still reading a finished container's log is given this long before the next fork.
PUMP_JOIN_S = 2.0
#: What a backend container imports, loaded once by the kubelet so that every fork inherits it.
APP_MODULES = ("psycopg", "psycopg_pool", "fastapi", "pydantic", "httpx", "prometheus_client", "uvicorn",
               "drills.service.app", "drills.service.__main__")


def preload_app() -> None:
    """Import the backend and the parts uvicorn loads lazily on start (event loop, HTTP protocol, lifespan).
    Only a warm-up: a module missing here is imported by the container as usual."""
    for name in APP_MODULES:
        importlib.import_module(name)
    from uvicorn import config

    for entry in (config.LOOP_FACTORIES.get("auto"), config.HTTP_PROTOCOLS.get("auto"),
                  config.WS_PROTOCOLS.get("auto"), config.LIFESPAN.get("on")):
        if entry:
            with contextlib.suppress(ImportError):
                importlib.import_module(entry.partition(":")[0])


def _service_main(argv: list[str]) -> int:
    from drills.service.__main__ import main

    return main(argv)


class ForkedContainer:
    """``python -m drills.service`` forked from the kubelet: the parts of :class:`subprocess.Popen` the kubelet
    uses (``pid``, ``poll``, ``wait``, ``terminate``, ``kill``, ``returncode``, ``stdout``), with the same
    exit codes (negative: killed by that signal)."""

    def __init__(self, argv: list[str], env: dict[str, str],
                 entry: Callable[[list[str]], int] = _service_main) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns here
            os.close(read_fd)
            _run_child(entry, argv, env, write_fd)
        os.close(write_fd)
        self.pid = pid
        self.returncode: int | None = None
        self.stdout: TextIO = open(read_fd, encoding="utf-8", errors="replace")  # noqa: SIM115 - the pump closes it

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["drills.service"], timeout or 0.0)
            time.sleep(0.02)
        return code

    def _signal(self, signum: int) -> None:
        if self.poll() is None:  # never signal a reaped pid: it may belong to someone else by now
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)


def _run_child(entry: Callable[[list[str]], int], argv: list[str], env: dict[str, str], out_fd: int) -> NoReturn:
    """The container's side of the fork: what a fresh interpreter would start with (default signal handlers,
    its own environment, stdout/stderr into the log pipe, no inherited descriptors), then the service."""
    code = 1
    try:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        # new stream objects: a kubelet thread may have held the old ones' locks at the fork
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
        os.environ.clear()
        os.environ.update(env)
        code = entry(argv)
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:  # like an uncaught exception in a fresh interpreter: traceback, exit 1
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


class Kubelet:
    def __init__(self, cfg: SandboxConfig, index: int) -> None:
        self.cfg = cfg
        self.layout = Layout(cfg.home)
        self.name = f"backend-{index}"
        self.port = cfg.ports.backend_base + index
        self.stopping = threading.Event()
        self.replacing = threading.Event()  # a rollout asked for a new pod
        self.wake = threading.Event()
        self.child: ForkedContainer | None = None
        self.pump: threading.Thread | None = None
        self._new_pod()

    def _new_pod(self) -> None:
        """What a new pod starts with: no restarts, no last state, the deployment's version (fixed for the
        pod's life) and its own uid (so a rollout can tell the new pod from the old one)."""
        self.uid = uuid.uuid4().hex[:12]
        self.restarts = 0
        self.last_message = ""
        self.last_exit: int | None = None
        self.last_state: Termination | None = None
        self.memory: int | None = None
        self.oom_killed = False
        dep = DeploymentStore(self.layout.deployment).read()
        self.version = dep.version if dep else self.cfg.version

    def publish(self, state: str, ready: bool, **extra: object) -> None:
        write_json_atomic(self.layout.pod_status(self.name), {
            "name": self.name, "uid": self.uid, "state": state, "ready": ready, "restarts": self.restarts,
            "version": self.version, "port": self.port, "kubelet_pid": os.getpid(),
            "pid": self.child.pid if self.child and self.child.poll() is None else None,
            "last_exit_code": self.last_exit, "message": self.last_message,
            "last_state": self.last_state.as_json() if self.last_state else None,
            "memory_bytes": self.memory if self.child and self.child.poll() is None else None,
            "memory_limit_bytes": self.cfg.backend_memory_limit_mib * MIB,
            "updated": datetime.now(UTC).isoformat(), **extra,
        })

    def _start_container(self) -> None:
        env = {**os.environ, "APP_VERSION": self.version, "DATABASE_URL": database_url(self.cfg),
               "DB_POOL_SIZE": str(self.cfg.app_pool_size),
               "DB_POOL_TIMEOUT": str(self.cfg.app_pool_timeout_s),
               "UPSTREAM_URL": upstream_url(self.cfg),
               "GAMEDAY_KNOBS_FILE": str(self.layout.knobs), "GAMEDAY_SEED": str(self.cfg.seed)}
        if self.pump is not None:  # no thread of ours inside a write (holding a lock) at the fork
            self.pump.join(PUMP_JOIN_S)
        self.child = ForkedContainer(["--port", str(self.port)], env)
        self.oom_killed, self.memory = False, None
        self.pump = threading.Thread(target=self._pump, args=(self.child,), daemon=True)
        self.pump.start()

    def _pump(self, child: ForkedContainer) -> None:
        """Forward the container's log to ours (supervisor keeps it) and remember the last line."""
        with child.stdout:
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

    def _on_signal(self, flag: threading.Event) -> None:
        flag.set()
        self.wake.set()

    def _interrupted(self) -> bool:
        return self.stopping.is_set() or self.replacing.is_set()

    def _sleep(self, seconds: float) -> None:
        """Sleep, cut short by a stop or a rollout."""
        if not self._interrupted():
            self.wake.wait(seconds)
        self.wake.clear()

    def _watch_memory(self, seconds: float) -> None:
        """Sleep like :meth:`_sleep`, reading the container's memory meanwhile: over the limit it is killed at
        once (SIGKILL), as the kernel's OOM killer kills a container over its cgroup's limit."""
        assert self.child is not None
        limit = self.cfg.backend_memory_limit_mib * MIB
        deadline = time.monotonic() + seconds
        while not self._interrupted() and self.child.poll() is None:
            self.memory = rss_bytes(self.child.pid)
            if self.memory is not None and self.memory > limit:
                self.oom_killed = True
                self.child.kill()
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.wake.wait(min(CHECK_PERIOD_S, left))
        self.wake.clear()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self._on_signal(self.stopping))
        signal.signal(signal.SIGINT, lambda *_: self._on_signal(self.stopping))
        # a rollout: this pod is deleted and a new one (same name, as the sandbox's pods have) takes its place
        signal.signal(signal.SIGHUP, lambda *_: self._on_signal(self.replacing))
        backoff = self.cfg.backoff_base_s
        with httpx.Client(timeout=1.0) as client:
            while not self.stopping.is_set():
                if self.replacing.is_set():
                    self.replacing.clear()
                    self._new_pod()
                    backoff = self.cfg.backoff_base_s
                self._start_container()
                started = time.monotonic()
                self.publish("ContainerCreating", False)
                assert self.child is not None
                started_up = serving = False
                while self.child.poll() is None and not self._interrupted():
                    answers, ready = self._probe(client)
                    started_up, serving = started_up or ready, serving or answers
                    # still being created until the process serves (its start-up is no outage)
                    self.publish("Running" if serving else "ContainerCreating", ready)
                    # a startup probe: often until first ready, so rollouts move on as soon as a pod serves
                    self._watch_memory(PROBE_PERIOD_S if started_up else STARTUP_PROBE_PERIOD_S)
                if self._interrupted():
                    self.publish("Terminating", False)  # like a pod with a deletion timestamp: leaving, not down
                    self._stop_container()
                    continue
                self.child.wait()
                self.last_exit = self.child.returncode
                self.last_state = Termination.of(self.last_exit, self.oom_killed)
                self.restarts += 1
                if time.monotonic() - started >= self.cfg.backoff_reset_s:
                    backoff = self.cfg.backoff_base_s
                self.publish("CrashLoopBackOff", False, backoff_seconds=backoff)
                print(f"{self.name}: container exited with {self.last_exit} ({self.last_state.reason}); "
                      f"back-off {backoff:g}s "
                      f"(restarts={self.restarts})", flush=True)
                self._sleep(backoff)
                backoff = min(backoff * 2, self.cfg.backoff_max_s)
        self.publish("Terminating", False)
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
    kubelet = Kubelet(load_config(args.home), args.index)
    preload_app()  # before any thread of ours exists; the exporter and the Service import this module without it
    return kubelet.run()


if __name__ == "__main__":
    sys.exit(main())
