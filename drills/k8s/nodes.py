"""The worker nodes of a kind cluster, for the node-loss fault: which there are, stop and start one, drain and
uncordon one, wait until one is Ready.

Why its own module: these are the only changes gameday makes outside the drill's namespaces (a node is
cluster-wide, and a kind node is a Docker container), so they are kept together and guarded together: the kube
context must be a kind cluster's (``kind-<name>``) and the node a container Docker labels as that cluster's node.
The API changes (cordon, evictions) go through the target's dry-run aware ``_change``; ``docker stop``/``start``
are printed instead in dry-run mode too.
"""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING, Any

from drills.k8s.build import docker
from drills.k8s.rollout import settled
from gameday.errors import TargetError

if TYPE_CHECKING:
    from drills.k8s.target import KubernetesTarget

CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"
#: How long a restarted node gets to report Ready (its systemd, containerd and kubelet start again).
READY_WAIT_S = 180.0
#: How long a drain keeps retrying evictions the PodDisruptionBudget refuses (429) for now.
DRAIN_WAIT_S = 180.0


def kind_cluster(target: KubernetesTarget) -> str:
    """The kind cluster behind the target's context, or one line saying node loss is for kind only."""
    if not target.context.startswith("kind-"):
        raise TargetError(f"node-loss acts on kind nodes only (docker stop, cordon); context {target.context} is "
                          "not a kind cluster's")
    return target.context.removeprefix("kind-")


def workers(target: KubernetesTarget) -> list[str]:
    """The cluster's worker nodes by name (kind's container names), sorted: every node without the control-plane
    role."""
    nodes = target.core.list_node().items
    return sorted(n.metadata.name for n in nodes if CONTROL_PLANE not in (n.metadata.labels or {}))


def backend_pods_by_node(target: KubernetesTarget) -> dict[str, int]:
    selector = ",".join(f"{k}={v}" for k, v in target.world.backend_labels.items())
    counts: dict[str, int] = {}
    for pod in target.core.list_namespaced_pod(target.namespace, label_selector=selector).items:
        if pod.spec.node_name and pod.metadata.deletion_timestamp is None:
            counts[pod.spec.node_name] = counts.get(pod.spec.node_name, 0) + 1
    return counts


def choose(target: KubernetesTarget, worker: int | None) -> str:
    """The worker to lose: the ``worker``-th (1-based, kind's order), or the one running the most backend pods."""
    cluster = kind_cluster(target)
    names = workers(target)
    if not names:
        raise TargetError(f"node-loss needs worker nodes, and kind cluster {cluster!r} has none: `gameday cluster "
                          f"down --name {cluster}`, then `gameday cluster up --name {cluster} --workers 2`")
    if worker is not None:
        wanted = f"{cluster}-worker{'' if worker == 1 else worker}"
        if wanted not in names:
            raise TargetError(f"fault.params.worker: {worker}: kind cluster {cluster!r} has no node {wanted} "
                              f"(its workers: {', '.join(names)})")
        return wanted
    counts = backend_pods_by_node(target)
    return max(names, key=lambda name: (counts.get(name, 0), -names.index(name)))


def _docker(target: KubernetesTarget, *args: str, what: str) -> str:
    if target.dry_run:
        target.printer(f"[dry-run] docker {' '.join(args)}")
        return ""
    result = subprocess.run([docker.docker_bin(), *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise TargetError(f"{what}: {(result.stderr or result.stdout).strip()[-300:]}")
    return result.stdout.strip()


def check_container(target: KubernetesTarget, node: str) -> None:
    """The node is a container Docker labels as this kind cluster's (never any other container)."""
    cluster = kind_cluster(target)
    label = _docker(target, "inspect", "-f", f'{{{{index .Config.Labels "{KIND_CLUSTER_LABEL}"}}}}', node,
                    what=f"no kind node container {node}")
    if not target.dry_run and label != cluster:
        raise TargetError(f"container {node} is not a node of kind cluster {cluster!r}; not touched")


def running(target: KubernetesTarget, node: str) -> bool:
    return _docker(target, "inspect", "-f", "{{.State.Running}}", node, what=f"inspect {node}") != "false"


def stop(target: KubernetesTarget, node: str) -> None:
    check_container(target, node)
    _docker(target, "stop", "--time", "5", node, what=f"docker stop {node}")


def start(target: KubernetesTarget, node: str) -> bool:
    """Start the node's container unless it runs; True when it was started."""
    check_container(target, node)
    if running(target, node):
        return False
    _docker(target, "start", node, what=f"docker start {node}")
    return True


def set_unschedulable(target: KubernetesTarget, node: str, value: bool) -> None:
    """Cordon (``True``) or uncordon a node, as ``kubectl cordon``/``uncordon`` do."""
    body = {"spec": {"unschedulable": value or None}}
    target._change(f"{'cordon' if value else 'uncordon'} node/{node}", body,
                   lambda: target.core.patch_node(node, body))


def drain(target: KubernetesTarget, node: str, timeout: float = DRAIN_WAIT_S) -> list[str]:
    """``kubectl drain`` of the drill's pods: cordon, then evict each pod of the drill's namespaces on the node
    through the Eviction API, retrying those the PodDisruptionBudget refuses for now; returns the pods evicted."""
    from kubernetes.client.exceptions import ApiException

    set_unschedulable(target, node, True)
    pending: list[Any] = []
    for namespace in target.namespaces:
        pods = target.core.list_namespaced_pod(namespace, field_selector=f"spec.nodeName={node}").items
        pending += [p for p in pods if p.metadata.deletion_timestamp is None]
    evicted: list[str] = []
    deadline = time.monotonic() + timeout
    while pending:
        refused = []
        for pod in pending:
            body = {"apiVersion": "policy/v1", "kind": "Eviction",
                    "metadata": {"name": pod.metadata.name, "namespace": pod.metadata.namespace}}  # fmt: skip
            try:
                target._change(f"evict pod/{pod.metadata.name}", body, lambda p=pod, b=body: (
                    target.core.create_namespaced_pod_eviction(p.metadata.name, p.metadata.namespace, b)))
                evicted.append(pod.metadata.name)
            except ApiException as exc:
                if exc.status == 404:
                    continue  # gone already
                if exc.status != 429:
                    raise TargetError(f"evict pod/{pod.metadata.name}: {exc.status} {exc.reason}") from None
                refused.append(pod)  # the budget allows no disruption now: again once a replacement is ready
        pending = refused
        if pending:
            if time.monotonic() > deadline:
                raise TargetError(f"drain {node}: the PodDisruptionBudget still refuses evicting "
                                  f"{', '.join(p.metadata.name for p in pending)} after {timeout:.0f} s")
            time.sleep(1.0)
    return evicted


def ready(target: KubernetesTarget, node: str) -> bool:
    status = target.core.read_node_status(node).status
    return any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])


def wait_ready(target: KubernetesTarget, node: str, timeout: float = READY_WAIT_S) -> bool:
    """Until the node reports Ready (True), else False after ``timeout``."""
    if target.dry_run:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready(target, node):
                return True
        except Exception:  # the API may blink while a node comes back: keep asking until the deadline
            pass
        time.sleep(1.0)
    return False


def spread_out(target: KubernetesTarget) -> bool:
    """Whether the backend runs on every worker (as many as it has replicas for)."""
    names = workers(target)
    wanted = target._read("Deployment", target.backend).spec.replicas or 0
    return len(backend_pods_by_node(target)) >= min(len(names), wanted)


def spread_again(target: KubernetesTarget, timeout: float = READY_WAIT_S) -> bool:
    """A node back is empty: Kubernetes never moves running pods to it, so the backend would stay on the nodes
    left (and a second loss could take every replica).  Replace the backend's pods one at a time (``kubectl
    rollout restart``; the spread places each new one on the emptiest worker) unless they are spread already, and
    wait as ``kubectl rollout status`` does.  True when spread (or nothing to do)."""
    if target.dry_run or spread_out(target):
        return True
    target._rollout_restart(target.backend)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1.0)
        dep = target._read("Deployment", target.backend)
        if settled(dep) and (dep.status.available_replicas or 0) == (dep.spec.replicas or 0):
            return spread_out(target)
    return False
