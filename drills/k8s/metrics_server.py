"""metrics-server's objects (the metrics API behind ``kubectl top``) as Python dicts, for the kind cluster.

Why: the runbook's Useful Commands include ``kubectl top nodes`` and ``kubectl top pods -A --sort-by=memory``,
which fail without the ``metrics.k8s.io`` API.  These are upstream v0.8.0's ``manifests/base`` objects with
the image built here (:mod:`drills.k8s.build.metrics_server`, preloaded into the node: never pulled) and the
flags a kind node needs: its kubelet's serving certificate is self-signed (``--kubelet-insecure-tls``) and it
is reached at its InternalIP only.  Nothing listens beyond the node (a ClusterIP Service, no hostNetwork, no
NodePort) and nothing looks up an outside name.

Apply with ``kubectl apply --server-side -f -`` of ``as_list(objects())``, then wait for
``kubectl wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io``.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "kube-system"
NAME = "metrics-server"
APISERVICE = "v1beta1.metrics.k8s.io"
LABELS = {"k8s-app": NAME}
#: metrics-server's HTTPS port in its pod (the pod network: not the node's kubelet port, though the same number).
PORT = 10250
#: How often the kubelets are scraped; ``kubectl top`` answers after the first two scrapes (CPU is a rate).
RESOLUTION = "15s"
ARGS = (
    "--cert-dir=/tmp",
    f"--secure-port={PORT}",
    "--kubelet-preferred-address-types=InternalIP",
    "--kubelet-use-node-status-port",
    "--kubelet-insecure-tls",
    f"--metric-resolution={RESOLUTION}",
)

Obj = dict[str, Any]


def _meta(name: str, namespaced: bool = True, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespaced:
        meta["namespace"] = NAMESPACE
    meta.update(extra)
    return meta


def _subject() -> list[Obj]:
    return [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]


def rbac() -> list[Obj]:
    """The ServiceAccount and what it may do: read nodes' metrics, pods and nodes; delegate authn/authz to the
    API server (auth-delegator, and the extension-apiserver-authentication ConfigMap in kube-system)."""
    rbac_v1 = "rbac.authorization.k8s.io/v1"
    aggregate = {f"rbac.authorization.k8s.io/aggregate-to-{role}": "true" for role in ("view", "edit", "admin")}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME)},
        {"apiVersion": rbac_v1, "kind": "ClusterRole",
         "metadata": _meta("system:aggregated-metrics-reader", False, labels={**LABELS, **aggregate}),
         "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"],
                    "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": rbac_v1, "kind": "ClusterRole", "metadata": _meta("system:metrics-server", False),
         "rules": [{"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": rbac_v1, "kind": "RoleBinding", "metadata": _meta("metrics-server-auth-reader"),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "extension-apiserver-authentication-reader"},
         "subjects": _subject()},
        {"apiVersion": rbac_v1, "kind": "ClusterRoleBinding",
         "metadata": _meta("metrics-server:system:auth-delegator", False),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
         "subjects": _subject()},
        {"apiVersion": rbac_v1, "kind": "ClusterRoleBinding", "metadata": _meta("system:metrics-server", False),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:metrics-server"},
         "subjects": _subject()},
    ]  # fmt: skip


def deployment(image: str) -> Obj:
    """One replica, non-root, read-only root, certificates in an emptyDir; the image is never pulled."""
    probe = {"httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 5,
             "failureThreshold": 3}
    container = {
        "name": NAME,
        "image": image,
        "imagePullPolicy": "Never",
        "args": list(ARGS),
        "ports": [{"name": "https", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "httpGet": {**probe["httpGet"], "path": "/livez"}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
        "securityContext": {"readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": 1000,
                            "allowPrivilegeEscalation": False, "seccompProfile": {"type": "RuntimeDefault"},
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp-dir", "mountPath": "/tmp"}],
    }  # fmt: skip
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(LABELS)},
            "strategy": {"rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "priorityClassName": "system-cluster-critical",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [container],
                    "volumes": [{"name": "tmp-dir", "emptyDir": {}}],
                },
            },
        },
    }


def objects(image: str | None = None) -> list[Obj]:
    """Every object of metrics-server, in apply order; ``image`` defaults to the tag built here
    (``gameday/metrics-server:<version of tools/metrics-server/go.mod>``)."""
    if image is None:
        from drills.k8s.build.metrics_server import image_tag

        image = image_tag()
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": _meta(NAME),
        "spec": {"type": "ClusterIP", "selector": dict(LABELS),
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https",
                            "appProtocol": "https"}]},
    }  # fmt: skip
    apiservice = {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": _meta(APISERVICE, False),
        # metrics-server serves a self-signed certificate it makes in --cert-dir at start
        "spec": {"service": {"name": NAME, "namespace": NAMESPACE, "port": 443}, "group": "metrics.k8s.io",
                 "version": "v1beta1", "insecureSkipTLSVerify": True, "groupPriorityMinimum": 100,
                 "versionPriority": 100},
    }  # fmt: skip
    return [*rbac(), service, deployment(image), apiservice]


def as_list(objs: list[Obj]) -> Obj:
    """One ``v1/List`` document, what ``kubectl apply -f -`` takes as JSON."""
    return {"apiVersion": "v1", "kind": "List", "items": objs}


def wait_argv(timeout_s: int = 180) -> list[str]:
    """kubectl arguments (after ``kubectl --context ...``) that return once ``kubectl top`` can answer."""
    return ["wait", "--for=condition=Available", f"apiservice/{APISERVICE}", f"--timeout={timeout_s}s"]
