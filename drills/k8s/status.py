"""What ``gameday cluster status`` shows: workloads, pods and pending gameday faults of the drill namespace.

Why its own module: the same pod reading (``CrashLoopBackOff`` wins over the phase, as in ``kubectl get
pods``) serves the status command and the target's replica watcher, and the status is read-only: three
list calls in one namespace, nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drills.pids import pid_alive
from gameday.errors import TargetError

if TYPE_CHECKING:
    from drills.k8s.target import KubernetesTarget

from drills.k8s.objects import VERSION_LABEL


def pod_state(pod: Any) -> tuple[str, bool, int]:
    """``(STATUS, ready, restarts)`` of a pod the way ``kubectl get pods`` shows them."""
    statuses = pod.status.container_statuses or []
    state = pod.status.phase or "Pending"
    for cs in statuses:
        if cs.state and cs.state.waiting and cs.state.waiting.reason:
            state = cs.state.waiting.reason
    if pod.metadata.deletion_timestamp:
        state = "Terminating"
    conds = {c.type: c.status for c in pod.status.conditions or []}
    ready = conds.get("Ready") == "True" and state == "Running"
    return state, ready, sum(cs.restart_count or 0 for cs in statuses)


def _workload(kind: str, obj: Any) -> dict[str, Any]:
    spec, status, template = obj.spec, obj.status, obj.spec.template
    desired = spec.replicas if spec.replicas is not None else 1
    images = [c.image for c in template.spec.containers]
    return {
        "kind": kind,
        "name": obj.metadata.name,
        "desired": desired,
        "ready": status.ready_replicas or 0,
        "updated": status.updated_replicas or 0,
        "available": getattr(status, "available_replicas", None) or 0,
        "images": images,
        "version": (template.metadata.labels or {}).get(VERSION_LABEL) or images[0].rpartition(":")[2],
        "rolled_out": (status.observed_generation or 0) >= (obj.metadata.generation or 0)
        and (status.ready_replicas or 0) == desired
        and (status.updated_replicas or 0) == desired,
    }


def _pod(pod: Any) -> dict[str, Any]:
    state, ready, restarts = pod_state(pod)
    containers = pod.spec.containers
    ready_count = sum(bool(cs.ready) for cs in pod.status.container_statuses or [])
    return {
        "name": pod.metadata.name,
        "app": (pod.metadata.labels or {}).get("app", ""),
        "phase": pod.status.phase or "Pending",
        "state": state,
        "ready": ready,
        "containers_ready": f"{ready_count}/{len(containers)}",
        "restarts": restarts,
        "version": (pod.metadata.labels or {}).get(VERSION_LABEL, ""),
        "images": [c.image for c in containers],
    }


def cluster_status(target: KubernetesTarget) -> dict[str, Any]:
    """Everything the status command prints, as plain data (``--json`` prints exactly this)."""
    from kubernetes.client.exceptions import ApiException

    ns = target.namespace
    out: dict[str, Any] = {"context": target.context, "namespace": ns, "namespace_exists": True,
                           "ready": False, "workloads": [], "pods": [], "pending_injections": []}  # fmt: skip
    try:
        target.core.read_namespace(ns)
    except ApiException as exc:
        if exc.status == 404:
            out["namespace_exists"] = False
            return out
        raise TargetError(f"cannot read namespace {ns} on {target.context}: {exc.status} {exc.reason}") from None
    workloads: list[dict[str, Any]] = []
    pods: list[dict[str, Any]] = []
    for namespace in target.namespaces:  # the application's, then the monitoring one
        try:
            found = [("Deployment", d) for d in target.apps.list_namespaced_deployment(namespace).items]
            found += [("StatefulSet", s) for s in target.apps.list_namespaced_stateful_set(namespace).items]
            listed = target.core.list_namespaced_pod(namespace).items
        except ApiException as exc:
            if exc.status == 404 and namespace != ns:
                continue
            raise TargetError(f"cannot list workloads in {namespace} on {target.context}: {exc.status} "
                              f"{exc.reason}") from None
        workloads += [{**_workload(kind, obj), "namespace": namespace} for kind, obj in found]
        pods += [{**_pod(p), "namespace": namespace} for p in sorted(listed, key=lambda p: p.metadata.name)]
    out["workloads"] = sorted(workloads, key=lambda w: (w["namespace"] != ns, w["kind"], w["name"]))
    out["pods"] = pods
    out["pending_injections"] = [
        {
            "id": r.id,
            "fault": r.fault.value,
            "object": f"{str(r.revert_state.get('kind', '')).lower()}/{r.revert_state.get('name', '')}",
            "drill_id": r.drill_id,
            "runner_pid": r.runner_pid,
            "runner_alive": pid_alive(r.runner_pid),  # only meaningful on the runner's own machine
            "injected_at": r.injected_at.isoformat(),
            "params": r.params,
        }
        for r in target.pending_injections()
    ]
    out["ready"] = bool(workloads) and all(w["rolled_out"] for w in workloads)
    return out


def render(status: dict[str, Any]) -> list[str]:
    """The human view: like ``kubectl get deploy,sts,pods`` plus the faults gameday left pending."""
    head = f"context {status['context']}, namespace {status['namespace']}"
    if not status["namespace_exists"]:
        return [f"{head}: the namespace does not exist (run `gameday cluster up`)"]
    lines = [f"{head}: {'ready' if status['ready'] else 'NOT ready'}"]
    lines.append(f"{'WORKLOAD':<36}{'READY':<8}{'UP-TO-DATE':<12}{'VERSION':<10}IMAGES")
    for w in status["workloads"]:
        name = f"{w['kind'].lower()}/{w['name']}"
        if w.get("namespace", status["namespace"]) != status["namespace"]:
            name += f" ({w['namespace']})"
        lines.append(f"{name:<36}{w['ready']}/{w['desired']:<6}{w['updated']:<12}{w['version']:<10}"
                     f"{', '.join(w['images'])}")  # fmt: skip
    lines.append("")
    lines.append(f"{'POD':<46}{'READY':<8}{'STATUS':<20}{'RESTARTS':<10}VERSION")
    for p in status["pods"]:
        lines.append(f"{p['name']:<46}{p['containers_ready']:<8}{p['state']:<20}{p['restarts']:<10}{p['version']}")
    pending = status["pending_injections"]
    if not pending:
        lines.append("pending gameday faults: none")
    for r in pending:
        runner = "alive" if r["runner_alive"] else "gone"
        lines.append(f"pending gameday fault {r['id']}: {r['fault']} on {r['object']} "
                     f"(drill {r['drill_id'] or '?'}, runner pid {r['runner_pid']} {runner})")  # fmt: skip
    return lines
