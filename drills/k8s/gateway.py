"""The cluster's ingress gateway (``python -m drills.k8s.gateway`` in the ``gateway`` Deployment).

The same gateway as the sandbox's Service (drills/service/gateway.py), fed by the backend Service's
EndpointSlices: ready pods first, every pod with an address when none is ready (panic mode).  Why not the
plain NodePort Service: kube-proxy answers a request with no ready endpoint by refusing the connection and
counts nothing, so during a total outage the runbook's error-rate query would read "no data" instead of
100 %.  An ingress in front (as a hospital's cluster has) makes both targets read the same.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from typing import Any

#: A watch is re-opened (after a fresh list) this often, and after an error once this pause has passed (seconds).
WATCH_TIMEOUT_S = 120
RETRY_S = 1.0


class SliceEndpoints:
    """Addresses of the Service's pods from its EndpointSlices, kept current by a watch on a background thread.

    A watch, not a poll: a pod's readiness reaches the gateway as soon as the API server has it, and an idle
    cluster costs the API server and this pod nothing (two lists a second did, on a 2-core CI machine that
    also runs the drills).  Every watch starts from a fresh list, so a missed event lasts one watch at most.
    """

    def __init__(self, namespace: str, service: str, port: int, api: Any = None) -> None:
        from kubernetes import client, config

        if api is None:
            config.load_incluster_config()
        self.api = client.DiscoveryV1Api(api)
        self.namespace, self.service, self.port = namespace, service, port
        self.selector = f"kubernetes.io/service-name={service}"
        self._slices: dict[str, Any] = {}
        self._ready: list[str] = []
        self._any: list[str] = []
        self._counter = itertools.count()
        self._stopped = threading.Event()
        threading.Thread(target=self._loop, name="endpointslices", daemon=True).start()

    def stop(self) -> None:
        """Ends the watch within ``WATCH_TIMEOUT_S`` (the gateway itself never stops it; tests do)."""
        self._stopped.set()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self._list_then_watch()
            except Exception as exc:  # keep the last addresses; say why in the pod's log
                print(f"gateway: EndpointSlices: {exc}", file=sys.stderr, flush=True)
                self._stopped.wait(RETRY_S)

    def _list_then_watch(self) -> None:
        from kubernetes import watch

        listed = self.api.list_namespaced_endpoint_slice(self.namespace, label_selector=self.selector,
                                                         _request_timeout=5)  # fmt: skip
        self._slices = {piece.metadata.name: piece for piece in listed.items}
        self._publish()
        stream = watch.Watch().stream(
            self.api.list_namespaced_endpoint_slice, self.namespace, label_selector=self.selector,
            resource_version=listed.metadata.resource_version, timeout_seconds=WATCH_TIMEOUT_S,
            _request_timeout=WATCH_TIMEOUT_S + 10,
        )  # fmt: skip
        for event in stream:
            if self._stopped.is_set():
                return
            piece = event["object"]
            if event["type"] == "DELETED":
                self._slices.pop(piece.metadata.name, None)
            elif event["type"] in ("ADDED", "MODIFIED"):
                self._slices[piece.metadata.name] = piece
            else:  # ERROR (e.g. 410 Gone): list again
                return
            self._publish()

    def _publish(self) -> None:
        ready, any_ = [], []
        for piece in self._slices.values():
            for endpoint in piece.endpoints or []:
                terminating = bool(endpoint.conditions and endpoint.conditions.terminating)
                for address in endpoint.addresses or []:
                    if not terminating:
                        any_.append(address)
                    if endpoint.conditions and endpoint.conditions.ready:
                        ready.append(address)
        self._ready, self._any = sorted(ready), sorted(any_)

    def pick(self) -> str | None:
        pool = self._ready or self._any
        if not pool:
            return None
        return f"http://{pool[next(self._counter) % len(pool)]}:{self.port}"


def main() -> int:
    import uvicorn

    from drills.service.gateway import create_app

    endpoints = SliceEndpoints(os.environ["POD_NAMESPACE"], os.environ.get("BACKEND_SERVICE", "hospital-erp-backend"),
                               int(os.environ.get("BACKEND_PORT", "8080")))
    port = int(os.environ.get("PORT", "8080"))
    print(f"gateway: {endpoints.service} pods on :{endpoints.port}, listening on :{port}", flush=True)
    uvicorn.run(create_app(endpoints.pick), host="0.0.0.0", port=port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
