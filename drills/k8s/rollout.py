"""Waiting for the backend's rollout to be over, as ``kubectl rollout status`` does, for the changes that must not
race a release still running: a schema migrated back while a pod of the migrating release could still start, or
data repaired while a pod of the release that damages it still serves."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

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


def rolled_out(target: KubernetesTarget, version: str) -> bool:
    """Every backend pod runs ``version``, none is on its way out, and there are as many as the Deployment wants:
    no pod of another release is left to start, migrate or write."""
    pods = target.replicas()
    wanted = target._read("Deployment", target.backend).spec.replicas
    wanted = 1 if wanted is None else wanted
    return len(pods) == wanted and all(p.version == version and p.state != "Terminating" for p in pods)


def wait_rolled_out(target: KubernetesTarget, version: str | None = None, timeout: float = ROLLOUT_WAIT_S) -> bool:
    """Wait until :func:`rolled_out` (``version``: the template's, when not given); False after ``timeout``.  A
    dry run rolls nothing out: True at once."""
    if target.dry_run:
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            if rolled_out(target, version or template_version(target)):
                return True
        except (TargetError, OSError, urllib3.exceptions.HTTPError):
            pass  # the API unreachable for a moment: look again
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
