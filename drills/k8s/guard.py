"""Guardrails for the Kubernetes target, checked before any request leaves this machine.

Why a separate module: the allowlist check must run on the kubeconfig *file* alone, so that a
refused context (say a production cluster) never sees a single request, not even discovery.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path

from gameday.errors import SafetyError

#: kind clusters are named ``kind-<name>``; anything else must be allowed explicitly.
DEFAULT_ALLOWED_CONTEXTS: tuple[str, ...] = ("kind-*",)
#: Environment: comma-separated fnmatch patterns that replace the default allowlist.
ALLOW_ENV = "GAMEDAY_KUBE_ALLOWED_CONTEXTS"
#: The same, under the name issue #6 gave it (read when ``ALLOW_ENV`` is unset).
ALLOW_ENV_ALIAS = "GAMEDAY_ALLOWED_CONTEXTS"
#: The kube context a drill acts on when none is passed (``--context``).
CONTEXT_ENV = "GAMEDAY_KUBE_CONTEXT"


def allowed_patterns(explicit: Sequence[str] | None = None) -> tuple[str, ...]:
    """The allowlist: explicit patterns (``--allow-context``), else ``$GAMEDAY_KUBE_ALLOWED_CONTEXTS``
    (or ``$GAMEDAY_ALLOWED_CONTEXTS``), else ``kind-*``."""
    if explicit:
        return tuple(explicit)
    raw = os.environ.get(ALLOW_ENV) or os.environ.get(ALLOW_ENV_ALIAS, "")
    patterns = tuple(p.strip() for p in raw.split(",") if p.strip())
    return patterns or DEFAULT_ALLOWED_CONTEXTS


def resolve_context(kubeconfig: str | Path | None, context: str | None) -> str:
    """The context name that would be used, read from the kubeconfig file only (no request)."""
    from kubernetes import config

    try:
        contexts, current = config.list_kube_config_contexts(config_file=str(kubeconfig) if kubeconfig else None)
    except config.ConfigException as exc:
        raise SafetyError(f"cannot read kubeconfig {kubeconfig or '~/.kube/config'}: {exc}") from None
    names = {c["name"] for c in contexts}
    name = context or (current or {}).get("name")
    if not name:
        raise SafetyError("no kube context given and the kubeconfig has no current-context")
    if name not in names:
        raise SafetyError(f"kube context {name!r} is not in the kubeconfig (have: {', '.join(sorted(names))})")
    return name


def check_context(context: str, allowed: Sequence[str]) -> None:
    """Refuse a context that matches no allowlist pattern (fnmatch, case-sensitive)."""
    if not any(fnmatch.fnmatchcase(context, pattern) for pattern in allowed):
        raise SafetyError(
            f"refusing kube context {context!r}: not on the allowlist {list(allowed)} "
            f"(pass --allow-context or set {ALLOW_ENV} to allow it on purpose)"
        )


def check_namespace(obj_namespace: str | None, namespace: str, what: str) -> None:
    """Every namespaced object we touch must live in the drill's namespace."""
    if obj_namespace != namespace:
        raise SafetyError(f"refusing to touch {what} in namespace {obj_namespace!r}: the drill owns {namespace!r}")


def preflight(
    context: str | None = None,
    kubeconfig: str | Path | None = None,
    allowed: Sequence[str] | None = None,
) -> str:
    """The context a :class:`~drills.k8s.target.KubernetesTarget` would use, checked against the allowlist.

    Reads only the kubeconfig file, so callers run it before they write or send anything (the drill
    runner does, before its journal exists). Context: ``context``, else ``$GAMEDAY_KUBE_CONTEXT``.
    """
    context = context or os.environ.get(CONTEXT_ENV)
    if not context:
        raise SafetyError(
            f"pass --context or set {CONTEXT_ENV} to the kube context to drill on "
            f"(allowed: {list(allowed_patterns(allowed))})"
        )
    name = resolve_context(kubeconfig or os.environ.get("KUBECONFIG") or None, context)
    check_context(name, allowed_patterns(allowed))
    return name
