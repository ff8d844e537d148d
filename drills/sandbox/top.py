"""``gameday sandbox top pods``: the runbook's ``kubectl top pods --sort-by=memory`` on the sandbox, read from
what each replica's kubelet publishes (its container's resident memory, the limit it enforces, the last state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from drills.sandbox.oom import MIB

if TYPE_CHECKING:
    from drills.sandbox.stack import Sandbox


@dataclass(frozen=True)
class PodMemory:
    name: str
    memory_bytes: int | None  # None: no container running (crash-looping, being created)
    limit_bytes: int | None
    restarts: int
    last_terminated: str | None


def pod_memory(sandbox: Sandbox, by_memory: bool = False) -> list[PodMemory]:
    """Every backend replica; the largest first with ``by_memory`` (kubectl's ``--sort-by=memory``)."""
    pods = []
    for replica in sandbox.replicas():
        detail = sandbox.pod_detail(replica.name)
        pods.append(PodMemory(replica.name, detail.get("memory_bytes"), detail.get("memory_limit_bytes"),
                              replica.restarts, (detail.get("last_state") or {}).get("reason")))
    if by_memory:
        pods.sort(key=lambda p: -(p.memory_bytes or 0))
    return pods


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.0f}Mi"


def table(pods: list[PodMemory]) -> str:
    lines = [f"{'NAMESPACE':<11}{'NAME':<12}{'MEMORY(bytes)':<15}{'LIMIT':<8}{'RESTARTS':<10}LAST TERMINATED"]
    lines += [f"{'sandbox':<11}{p.name:<12}{_mib(p.memory_bytes):<15}{_mib(p.limit_bytes):<8}{p.restarts:<10}"
              f"{p.last_terminated or '-'}" for p in pods]
    return "\n".join(lines)
