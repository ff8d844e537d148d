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
from typing import Any

from drills.k8s.informer import WatchedList


class SliceEndpoints:
    """Addresses of the Service's pods from its EndpointSlices, kept current by a watch (drills/k8s/informer.py):
    a pod's readiness reaches the gateway as soon as the API server has it."""

    def __init__(self, namespace: str, service: str, port: int, api: Any = None) -> None:
        from kubernetes import client, config

        if api is None:
            config.load_incluster_config()
        self.service, self.port = service, port
        self._ready: list[str] = []
        self._any: list[str] = []
        self._counter = itertools.count()
        self.slices = WatchedList(
            client.DiscoveryV1Api(api).list_namespaced_endpoint_slice, namespace, what="EndpointSlices",
            label_selector=f"kubernetes.io/service-name={service}", on_change=self._publish,
        )  # fmt: skip
        self.slices.start()

    def stop(self) -> None:
        self.slices.stop()

    def _publish(self) -> None:
        ready, any_ = [], []
        for piece in self.slices.items():
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

    endpoints = SliceEndpoints(os.environ["POD_NAMESPACE"], os.environ["BACKEND_SERVICE"],
                               int(os.environ.get("BACKEND_PORT", "8080")))
    port = int(os.environ.get("PORT", "8080"))
    print(f"gateway: {endpoints.service} pods on :{endpoints.port}, listening on :{port}", flush=True)
    uvicorn.run(create_app(endpoints.pick), host="0.0.0.0", port=port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
