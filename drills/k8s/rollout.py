"""Waiting for the backend's rollout to be over, as ``kubectl rollout status`` does, for the changes that must not
race a release still running: a schema migrated back while a pod of the migrating release could still start, or
data repaired while a pod of the release that damages it still serves."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import urllib3

from gameday.errors import TargetError

if TYPE_CHECKING:
    from drills.k8s.target import KubernetesTarget

#: Wall seconds a rollback of the backend may take before a revert gives up (the record stays: the next start
#: tries again); three replicas one at a time take some 30 s on kind.
ROLLOUT_WAIT_S = 300.0


def template_version(target: KubernetesTarget) -> str:
    """The release the backend's pod template names now (the version label)."""
    from drills.k8s.objects import VERSION_LABEL

    template = target._read("Deployment", target.backend).spec.template
    return ((template.metadata.labels if template.metadata else None) or {}).get(VERSION_LABEL, "")


def observed(dep: Any) -> bool:
    """The Deployment's controller has seen its latest change (it makes that template's ReplicaSet first)."""
    return (dep.status.observed_generation or 0) >= (dep.metadata.generation or 0)


def settled(dep: Any) -> bool:
    """The Deployment's controller is done with its last change, as ``kubectl rollout status`` reads it: it saw the
    current template, and every replica it counts is of that template (no older ReplicaSet keeps a pod)."""
    status, wanted = dep.status, dep.spec.replicas
    wanted = 1 if wanted is None else wanted
    return observed(dep) and (status.updated_replicas or 0) == wanted and (status.replicas or 0) == wanted


def rolled_out(target: KubernetesTarget, version: str) -> bool:
    """Every backend pod runs ``version``, none is on its way out, there are as many as the Deployment wants and
    its controller has settled: no pod of another release is left to start, migrate or write."""
    dep = target._read("Deployment", target.backend)
    if not settled(dep):
        return False
    pods = target.replicas()
    wanted = 1 if dep.spec.replicas is None else dep.spec.replicas
    return len(pods) == wanted and all(p.version == version and p.state != "Terminating" for p in pods)


#: Consecutive looks (half a second apart) that must find the rollout over: the ReplicaSet controller may still
#: be catching up with the pods it counts, and a pod it then removes would be on its way out during the repair.
STEADY_LOOKS = 3


def wait_rolled_out(target: KubernetesTarget, version: str | None = None, timeout: float = ROLLOUT_WAIT_S) -> bool:
    """Wait until :func:`rolled_out` holds for :data:`STEADY_LOOKS` looks in a row (``version``: the template's,
    when not given); False after ``timeout``.  A dry run rolls nothing out: True at once."""
    if target.dry_run:
        return True
    deadline = time.monotonic() + timeout
    steady = 0
    while True:
        try:
            steady = steady + 1 if rolled_out(target, version or template_version(target)) else 0
        except (TargetError, OSError, urllib3.exceptions.HTTPError):
            steady = 0  # the API unreachable for a moment: look again
        if steady >= STEADY_LOOKS:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
