"""The kind gateway's view of the backend's pods (drills/k8s/gateway.py), from real EndpointSlices on the test API
server: ready pods first, every non-terminating pod when none is ready (panic mode), nobody when the slices are
gone; changes arrive through its watch, and a watch the server ends is re-opened from a fresh list."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from gameday_testkit import wait_for

from drills.k8s import informer
from drills.k8s.gateway import SliceEndpoints
from drills.k8s.objects import default_world

pytestmark = pytest.mark.k8s

SERVICE = default_world().backend_deployment  # the backend's Service carries the Deployment's name


def _slice(name: str, endpoints: dict[str, tuple[bool, bool]]) -> Any:
    """An EndpointSlice of ``SERVICE``: address -> (ready, terminating)."""
    from kubernetes import client

    return client.V1EndpointSlice(
        metadata=client.V1ObjectMeta(name=name, labels={"kubernetes.io/service-name": SERVICE}),
        address_type="IPv4",
        ports=[client.DiscoveryV1EndpointPort(name="http", port=8080, protocol="TCP")],
        endpoints=[client.V1Endpoint(addresses=[address],
                                     conditions=client.V1EndpointConditions(ready=ready, terminating=terminating))
                   for address, (ready, terminating) in endpoints.items()],
    )  # fmt: skip


@pytest.fixture
def discovery(kube_api_client: Any) -> Any:
    from kubernetes import client

    return client.DiscoveryV1Api(kube_api_client)


@pytest.fixture
def endpoints(kube_api_client: Any, namespace: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SliceEndpoints]:
    monkeypatch.setattr(informer, "WATCH_TIMEOUT_S", 2)  # the server ends each watch soon: re-opening is tested too
    seen = SliceEndpoints(namespace, SERVICE, 8080, api=kube_api_client)
    try:
        yield seen
    finally:
        seen.stop()


def _picks(seen: SliceEndpoints, n: int = 6) -> set[str]:
    return {url for url in (seen.pick() for _ in range(n)) if url}


def test_ready_pods_first_then_every_live_pod_then_nobody(
        discovery: Any, namespace: str, endpoints: SliceEndpoints) -> None:
    assert endpoints.pick() is None
    discovery.create_namespaced_endpoint_slice(namespace, _slice("backend-a", {
        "198.18.0.11": (True, False), "198.18.0.12": (False, False), "198.18.0.13": (False, True)}))
    wait_for(lambda: _picks(endpoints) == {"http://198.18.0.11:8080"}, "the ready pod")

    discovery.patch_namespaced_endpoint_slice("backend-a", namespace, _slice("backend-a", {
        "198.18.0.11": (False, False), "198.18.0.12": (False, False), "198.18.0.13": (False, True)}))
    wait_for(lambda: _picks(endpoints) == {"http://198.18.0.11:8080", "http://198.18.0.12:8080"},
             "panic mode: every pod that is not terminating")  # fmt: skip

    discovery.create_namespaced_endpoint_slice(namespace, _slice("backend-b", {"198.18.0.21": (True, False)}))
    wait_for(lambda: _picks(endpoints) == {"http://198.18.0.21:8080"}, "the ready pod of a second slice")

    discovery.delete_namespaced_endpoint_slice("backend-b", namespace)
    discovery.delete_namespaced_endpoint_slice("backend-a", namespace)
    wait_for(lambda: endpoints.pick() is None, "no pod once the slices are gone")


def test_a_change_after_the_server_ended_the_watch_still_arrives(
        discovery: Any, namespace: str, endpoints: SliceEndpoints) -> None:
    discovery.create_namespaced_endpoint_slice(namespace, _slice("backend-a", {"198.18.0.31": (True, False)}))
    wait_for(lambda: _picks(endpoints) == {"http://198.18.0.31:8080"}, "the ready pod")
    time.sleep(informer.WATCH_TIMEOUT_S + 1)  # the server has ended the first watch by now
    discovery.patch_namespaced_endpoint_slice("backend-a", namespace, _slice("backend-a", {
        "198.18.0.31": (True, False), "198.18.0.32": (True, False)}))
    wait_for(lambda: _picks(endpoints) == {"http://198.18.0.31:8080", "http://198.18.0.32:8080"},
             "the change made after the first watch ended")  # fmt: skip
