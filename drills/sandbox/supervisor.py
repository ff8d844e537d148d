"""Talk to the sandbox's supervisord over its XML-RPC unix socket (what ``supervisorctl`` does)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from drills.sandbox.paths import Layout
from gameday.errors import TargetError

#: How long a process may take to stop before supervisord's stop is called stuck (wall seconds).
STOP_TIMEOUT_S = float(os.environ.get("GAMEDAY_STOP_TIMEOUT", "60"))


class Supervisor:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def _proxy(self) -> Any:
        if not self.layout.supervisor_sock.exists():
            raise TargetError(f"the sandbox is down ({self.layout.home}); run `gameday sandbox up`")
        transport = SupervisorTransport(None, None, f"unix://{self.layout.supervisor_sock}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def running(self) -> bool:
        if not self.layout.supervisor_sock.exists():
            return False
        try:
            return self._proxy().getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error, TargetError):
            return False

    def start_daemon(self, timeout: float = 15.0) -> None:
        sock = str(self.layout.supervisor_sock)
        if len(sock) > 100:
            raise TargetError(f"sandbox path too long for a unix socket ({len(sock)} chars): {sock}; "
                              "set GAMEDAY_STATE_DIR to a shorter folder")
        self.layout.supervisor_sock.unlink(missing_ok=True)
        exe = Path(sys.executable).with_name("supervisord")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "supervisor.supervisord"]
        result = subprocess.run([*cmd, "-c", str(self.layout.supervisor_conf)], capture_output=True, text=True)
        if result.returncode != 0:
            raise TargetError(f"supervisord failed to start: {(result.stderr or result.stdout).strip()[:300]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.running():
                return
            time.sleep(0.1)
        raise TargetError(f"supervisord did not come up within {timeout:g}s; see {self.layout.logs}")

    def update(self) -> list[str]:
        """Apply changed program files (``supervisorctl update``); returns the groups touched."""
        rpc = self._proxy()
        added, changed, removed = rpc.reloadConfig()[0]
        for name in removed:
            self._quiet(rpc.stopProcessGroup, name)
            rpc.removeProcessGroup(name)
        for name in changed:
            self._quiet(rpc.stopProcessGroup, name)
            rpc.removeProcessGroup(name)
            rpc.addProcessGroup(name)
        for name in added:
            rpc.addProcessGroup(name)
        return [*added, *changed, *removed]

    def state(self, name: str) -> str:
        try:
            return self._proxy().getProcessInfo(name)["statename"]
        except xmlrpc.client.Fault:
            return "ABSENT"

    def states(self) -> dict[str, dict[str, Any]]:
        if not self.running():
            return {}
        return {info["name"]: info for info in self._proxy().getAllProcessInfo()}

    def start(self, name: str, wait: bool = False) -> None:
        self._settle(name)  # supervisord refuses to start a process that is still stopping
        if self.state(name) in ("RUNNING", "STARTING"):
            return
        self._quiet(self._proxy().startProcess, name, wait)

    def stop(self, name: str) -> None:
        self._quiet(self._proxy().stopProcess, name, True)
        self._settle(name)  # "not running" also answers a stop that an interrupted caller started earlier

    def _settle(self, name: str, timeout: float = STOP_TIMEOUT_S) -> None:
        """Wait while ``name`` is STOPPING: a caller interrupted mid-stop (Ctrl-C, a killed runner) leaves
        supervisord finishing that stop on its own, and a start sent meanwhile is dropped."""
        deadline = time.monotonic() + timeout
        while self.state(name) == "STOPPING":
            if time.monotonic() > deadline:
                raise TargetError(f"{name} still stopping after {timeout:g} s (GAMEDAY_STOP_TIMEOUT)")
            time.sleep(0.1)

    def signal(self, name: str, signame: str) -> bool:
        """Send ``signame`` (e.g. ``"HUP"``) to a running program (``supervisorctl signal``); False when it
        does not run."""
        try:
            self._proxy().signalProcess(name, signame)
        except xmlrpc.client.Fault as fault:
            if any(word in fault.faultString for word in ("NOT_RUNNING", "BAD_NAME")):
                return False
            raise TargetError(f"supervisord: {fault.faultString}") from None
        return True

    def restart(self, name: str) -> None:
        self.stop(name)
        self._quiet(self._proxy().startProcess, name, False)

    def add(self, name: str) -> None:
        rpc = self._proxy()
        rpc.reloadConfig()
        self._quiet(rpc.addProcessGroup, name)

    def remove(self, name: str) -> None:
        rpc = self._proxy()
        self._quiet(rpc.stopProcessGroup, name)
        self._quiet(rpc.removeProcessGroup, name)

    def shutdown(self, timeout: float = 30.0) -> None:
        if not self.running():
            return
        pid_file = self.layout.home / "supervisord.pid"
        pid = int(pid_file.read_text().strip()) if pid_file.exists() else None
        rpc = self._proxy()
        # stop everything at once: supervisord's own shutdown stops one program after another
        for info in rpc.getAllProcessInfo():
            if info["statename"] in ("RUNNING", "STARTING", "BACKOFF"):
                self._quiet(rpc.stopProcess, f"{info['group']}:{info['name']}", False)
        stop_deadline = time.monotonic() + timeout / 2
        while time.monotonic() < stop_deadline:
            if all(i["statename"] not in ("RUNNING", "STARTING", "STOPPING", "BACKOFF")
                   for i in rpc.getAllProcessInfo()):
                break
            time.sleep(0.1)
        self._quiet(rpc.shutdown)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pid is None or not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.1)
        raise TargetError(f"supervisord (pid {pid}) did not stop within {timeout:g}s")

    @staticmethod
    def _quiet(func: Any, *args: Any) -> Any:
        """Ignore "already started/stopped/absent" faults; anything else is a real error."""
        try:
            return func(*args)
        except xmlrpc.client.Fault as fault:
            if any(word in fault.faultString for word in ("ALREADY_STARTED", "NOT_RUNNING", "BAD_NAME",
                                                           "ALREADY_ADDED", "STILL_RUNNING")):
                return None
            raise TargetError(f"supervisord: {fault.faultString}") from None
