"""The sandbox kubelet's memory limit: what the kernel's OOM killer does to a container over its cgroup's
``limits.memory`` on Kubernetes, done from the kubelet by reading the container's resident memory.

Why not a cgroup: the sandbox runs unprivileged where it can, and a cgroup needs root and a writable hierarchy;
the container's resident set, read often (a leak adds at most one tick's growth past the limit), gives the same
outcome people see: the container killed with SIGKILL, exit code 137, last state terminated ``OOMKilled``, a
restart with back-off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

MIB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
#: How often the kubelet reads a container's memory (wall seconds).
CHECK_PERIOD_S = 0.05


def rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid`` (``/proc/<pid>/statm``); ``None`` once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Termination:
    """A container's last state, as ``kubectl describe pod`` shows it (``lastState.terminated``)."""

    reason: str  # OOMKilled | Error | Completed
    exit_code: int
    finished_at: str

    @classmethod
    def of(cls, returncode: int, oom_killed: bool) -> Termination:
        # a signal's death reads 128 + signal in Kubernetes (SIGKILL: 137)
        code = 128 - returncode if returncode < 0 else returncode
        reason = "OOMKilled" if oom_killed else ("Completed" if code == 0 else "Error")
        return cls(reason, code, datetime.now(UTC).isoformat())

    def as_json(self) -> dict[str, object]:
        return {"reason": self.reason, "exit_code": self.exit_code, "finished_at": self.finished_at}
