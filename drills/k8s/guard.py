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


def allowed_patterns(explicit: Sequence[str] | None = None) -> tuple[str, ...]:
    """The allowlist: explicit patterns, else ``$GAMEDAY_KUBE_ALLOWED_CONTEXTS``, else ``kind-*``."""
    if explicit is not None:
        return tuple(explicit)
    raw = os.environ.get(ALLOW_ENV, "")
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
            f"(set {ALLOW_ENV} to allow it on purpose)"
        )


def check_namespace(obj_namespace: str | None, namespace: str, what: str) -> None:
    """Every namespaced object we touch must live in the drill's namespace."""
    if obj_namespace != namespace:
        raise SafetyError(f"refusing to touch {what} in namespace {obj_namespace!r}: the drill owns {namespace!r}")
