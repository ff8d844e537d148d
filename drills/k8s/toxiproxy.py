"""The cluster's Toxiproxy API, reached from the host through the API server's service proxy.

Why the service proxy: the drill runner needs no host port of its own for it (nothing more listens on the host),
the call carries the kube context's credentials and the allowlist that every other change of the drill passed,
and it goes to the drill's namespace only.  The calls are the sandbox's (:class:`drills.sandbox.toxiproxy.Toxiproxy`);
only how they travel differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import urllib3

from drills.sandbox.toxiproxy import Toxiproxy
from gameday.errors import TargetError

if TYPE_CHECKING:
    from drills.k8s.target import KubernetesTarget

#: gameday's Toxiproxy in the application's namespace (manifests/toxiproxy.yaml.j2): Service, Deployment, ConfigMap.
TOXIPROXY = "toxiproxy"
#: The Service's port of Toxiproxy's HTTP API.
API_PORT = "api"
#: The links' ports, each the port of the Service it stands in front of (the backend changes only the host).
LINK_PORTS = {"pgbouncer": 6432, "upstream": 8090}


class ClusterToxiproxy(Toxiproxy):
    """The Toxiproxy of ``target``'s namespace, every call a request to the API server (dry-run: printed)."""

    def __init__(self, target: KubernetesTarget, timeout: float = 10.0) -> None:
        self.target = target
        self.base = f"/api/v1/namespaces/{target.namespace}/services/{TOXIPROXY}:{API_PORT}/proxy"
        super().__init__(f"service/{TOXIPROXY} in {target.namespace} (through the API server)", timeout)

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        if self.target.dry_run and method != "GET":
            self.target._change(f"Toxiproxy {method} {path}", body, lambda: None)
            return 200, b""
        if self.target.dry_run:
            return 200, b"[]"  # nothing was sent: nothing to read back
        return self._send(method, path, body)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        from kubernetes.client.exceptions import ApiException

        api = self.target.api_client
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        try:
            method, url, headers, payload, _ = api.param_serialize(method, self.base + path, header_params=headers,
                                                                   body=body, auth_settings=["BearerToken"])
            answer = api.call_api(method, url, headers, payload, _request_timeout=self.timeout)
            content = answer.read() or b""
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise TargetError(f"Toxiproxy ({self.url}) does not answer: {type(exc).__name__}") from None
        return answer.status, content


def replace_pods(target: KubernetesTarget, deployment: dict[str, Any]) -> list[str]:
    """Delete the pods of Toxiproxy's ``deployment`` (read as JSON): its ReplicaSet starts new ones, whose links come
    from the config file without toxics.  The Deployment itself is left as it was; the names deleted."""
    from kubernetes.client.exceptions import ApiException

    labels = deployment["spec"]["selector"].get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    core, namespace = target.core, target.namespace
    try:
        pods = [p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=selector).items]
    except ApiException as exc:
        raise TargetError(f"cannot list Toxiproxy's pods in {namespace}: {exc.status} {exc.reason}") from None
    for name in pods:
        target._change(f"delete pod/{name} (Toxiproxy's links back without toxics)", {},
                       lambda name=name: _delete_pod(core, name, namespace))
    return pods


def _delete_pod(core: Any, name: str, namespace: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        core.delete_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status != 404:  # a pod gone meanwhile is as good as deleted
            raise TargetError(f"cannot delete pod/{name} in {namespace}: {exc.status} {exc.reason}") from None
