"""Targets by name, with the guardrails that need no request checked first.

The runner, recovery and the CLIs build targets here only, so "which targets exist and how they are
guarded" has one home.  The Kubernetes target is imported lazily: its client is heavy and optional.
"""

from __future__ import annotations

from typing import Any

from drills.targets.base import Target
from gameday.errors import InputError, TargetError

TARGETS = ("local", "kubernetes")
KUBE_FLAGS = {"context": "--context", "kubeconfig": "--kubeconfig", "allowed_contexts": "--allow-context",
              "dry_run": "--dry-run"}  # fmt: skip


def check_target(name: str, **options: Any) -> None:
    """Guardrails that need no request (the kube context allowlist, read from the kubeconfig file); the
    runner calls this before it writes anything.

    ``options`` (``context``, ``kubeconfig``, ``allowed_contexts``, ``dry_run``; ``None`` = default) are
    the Kubernetes target's and refused for the local one.
    """
    given = {k: v for k, v in options.items() if v not in (None, False, [], ())}
    if name == "local":
        if given:
            flags = ", ".join(KUBE_FLAGS.get(k, k) for k in given)
            raise InputError(None, "--target", f"{flags} only apply to --target kubernetes")
        return
    if name != "kubernetes":
        raise InputError(None, "--target", f"unknown target {name!r}; expected {' or '.join(TARGETS)}")
    try:
        from drills.k8s.guard import preflight
    except ModuleNotFoundError:
        raise TargetError("the kubernetes target is not installed in this build") from None
    preflight(options.get("context"), options.get("kubeconfig"), options.get("allowed_contexts"))


def make_target(name: str, **options: Any) -> Target:
    """The target by name; Kubernetes only with an explicitly configured, allowed context."""
    check_target(name, **options)
    if name == "local":
        from drills.targets.local import LocalTarget

        return LocalTarget()
    from drills.k8s.target import KubernetesTarget

    return KubernetesTarget.with_options(**options)


def target_class(name: str) -> type[Target]:
    """The class behind a target's name, without building one (tests check that each target implements every
    remediation of the catalogue, ``remedies.missing()``)."""
    if name == "local":
        from drills.targets.local import LocalTarget

        return LocalTarget
    if name == "kubernetes":
        from drills.k8s.target import KubernetesTarget

        return KubernetesTarget
    raise InputError(None, "--target", f"unknown target {name!r}; expected {' or '.join(TARGETS)}")
