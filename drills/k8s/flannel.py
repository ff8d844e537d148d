"""flannel's objects in ``kube-system`` (pod networking of a kind cluster with workers), as Python dicts.

Why: each node's pods need their own subnet and a route to every other node's (``gameday cluster up
--workers N``).  One DaemonSet on every node (host network, the image of :mod:`drills.k8s.build.flannel`, never
pulled): flanneld takes the node's ``podCIDR`` (``--kube-subnet-mgr``) and programs host-gw routes; beside it
``flannel-conf`` writes the node's bridge configuration from ``/run/flannel/subnet.env`` over the node image's
single-node file, and is ready only once the file matches.  Apply with ``kubectl apply --server-side -f -`` of
``as_list(objects())`` before the stack, then wait for the DaemonSet's rollout.
"""

from __future__ import annotations

import json
from typing import Any

from drills.k8s import endpoints
from drills.k8s.metrics_server import as_list

NAMESPACE = "kube-system"
NAME = "kube-flannel"
LABELS = {"app": "flannel"}
CNI_FILE = "/etc/cni/net.d/10-gameday-bridge.conflist"  # the node image's file (tools/kind/node/)
NET_CONF = {"Network": endpoints.POD_SUBNET, "EnableIPv4": True, "Backend": {"Type": "host-gw"}}

Obj = dict[str, Any]
__all__ = ["as_list", "objects", "rollout_argv"]


def _meta(name: str, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def rbac() -> list[Obj]:
    """What flanneld reads and writes with ``--kube-subnet-mgr``: nodes (its annotations), their status, its pod."""
    rbac_v1 = "rbac.authorization.k8s.io/v1"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME)},
        {"apiVersion": rbac_v1, "kind": "ClusterRole", "metadata": _meta("gameday:flannel", False),
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                   {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]}]},
        {"apiVersion": rbac_v1, "kind": "ClusterRoleBinding", "metadata": _meta("gameday:flannel", False),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gameday:flannel"},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
    ]  # fmt: skip


def daemonset(image: str, api_host: str | None = None) -> Obj:
    """flanneld and the configuration writer on every node, the control plane's included.

    ``api_host``: the control-plane node's address (its InternalIP, in the API server's certificate), reached on
    6443 directly instead of through the ``kubernetes`` Service: a node that starts again (the node-loss revert, a
    restarted Docker daemon) runs flanneld before kube-proxy has written the Service's rules, and 100.64.0.1 then
    leads elsewhere (seen here: an answer without the API server's certificate, flanneld in CrashLoopBackOff).
    """
    api = [{"name": "KUBERNETES_SERVICE_HOST", "value": api_host},
           {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"}] if api_host else []  # fmt: skip
    run = {"name": "run", "mountPath": "/run/flannel"}
    flanneld = {
        "name": "flanneld", "image": image, "imagePullPolicy": "Never",
        "command": ["/flanneld", "--kube-subnet-mgr", "--iptables-forward-rules=false",
                    "--net-config-path=/etc/kube-flannel/net-conf.json"],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "EVENT_QUEUE_DEPTH", "value": "5000"}, *api],
        "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}},
        "securityContext": {"privileged": False, "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
        "volumeMounts": [run, {"name": "net-conf", "mountPath": "/etc/kube-flannel"}],
    }  # fmt: skip
    writer = {
        "name": "cni-conf", "image": image, "imagePullPolicy": "Never",
        "command": ["/flannel-conf", f"-out={CNI_FILE}"],
        "readinessProbe": {"exec": {"command": ["/flannel-conf", "-check", f"-out={CNI_FILE}"]},
                           "periodSeconds": 2},
        "resources": {"requests": {"cpu": "5m", "memory": "8Mi"}},
        "volumeMounts": [run, {"name": "cni", "mountPath": "/etc/cni/net.d"}],
    }  # fmt: skip
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(NAME),
        "spec": {
            "selector": {"matchLabels": dict(LABELS)},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": NAME, "hostNetwork": True, "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],  # every node, whatever its taints
                    "containers": [flanneld, writer],
                    "volumes": [{"name": "run", "hostPath": {"path": "/run/flannel", "type": "DirectoryOrCreate"}},
                                {"name": "cni", "hostPath": {"path": "/etc/cni/net.d"}},
                                {"name": "net-conf", "configMap": {"name": NAME}}],
                },
            },
        },
    }  # fmt: skip


def objects(image: str | None = None, api_host: str | None = None) -> list[Obj]:
    """Every object, in apply order; ``image`` defaults to the tag built here; ``api_host``: :func:`daemonset`."""
    if image is None:
        from drills.k8s.build.flannel import image_tag

        image = image_tag()
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(NAME),
              "data": {"net-conf.json": json.dumps(NET_CONF)}}  # fmt: skip
    return [*rbac(), config, daemonset(image, api_host)]


def rollout_argv(timeout_s: int = 180) -> list[str]:
    """kubectl arguments (after ``kubectl --context ...``) that return once every node has its configuration."""
    return ["-n", NAMESPACE, "rollout", "status", f"daemonset/{NAME}", f"--timeout={timeout_s}s"]
