"""The kind cluster exporter's pod and Deployment metrics (drills/k8s/exporter.py) from its watches on the real
test API server: what the alert rules read (replicas, readiness, deletions) follows a scale and a deleted pod,
and PgBouncer out of reach reads ``pgbouncer_up 0``.  (Its Prometheus service discovery needs started
containers, which kwok's pods do not have: tests/kind checks that Prometheus scrapes the real pods.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gameday_testkit import wait_for
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from drills.k8s import informer
from drills.k8s.exporter import ClusterCollector
from drills.k8s.objects import default_world

WORLD = default_world()  # the shipped runbook's names: deployment, selector, namespaces
BACKEND, NAMESPACE = WORLD.backend_deployment, WORLD.namespace

pytestmark = pytest.mark.k8s

UNREACHABLE_PGBOUNCER = "host=127.0.0.1 port=9 dbname=pgbouncer user=erp connect_timeout=1"


@pytest.fixture
def collector(erp_stack: Any, kube_api_client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClusterCollector]:
    monkeypatch.setattr(informer, "WATCH_TIMEOUT_S", 3)  # watches end and re-open during the test too
    seen = ClusterCollector(NAMESPACE, UNREACHABLE_PGBOUNCER, api=kube_api_client)
    try:
        yield seen
    finally:
        seen.stop()


def _samples(collector: ClusterCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def _replicas(collector: ClusterCollector) -> float | None:
    key = ("kube_deployment_spec_replicas", (("deployment", BACKEND), ("namespace", NAMESPACE)))
    return _samples(collector).get(key)


def _ready_pods(collector: ClusterCollector) -> set[str]:
    return {dict(labels)["pod"] for (name, labels), value in _samples(collector).items()
            if name == "kube_pod_status_ready" and dict(labels)["condition"] == "true" and value == 1.0}  # fmt: skip


def test_scale_and_pod_deletion_reach_the_metrics(erp_stack: Any, kube_api_client: Any,
                                                  collector: ClusterCollector) -> None:  # fmt: skip
    from kubernetes import client

    apps, core = client.AppsV1Api(kube_api_client), client.CoreV1Api(kube_api_client)
    desired = apps.read_namespaced_deployment(BACKEND, NAMESPACE).spec.replicas
    assert _replicas(collector) == desired
    assert _samples(collector)[("pgbouncer_up", ())] == 0.0

    apps.patch_namespaced_deployment_scale(BACKEND, NAMESPACE, {"spec": {"replicas": desired + 1}})
    try:
        wait_for(lambda: _replicas(collector) == desired + 1, "the new replica count")
        backend = f"app={BACKEND}"
        wait_for(lambda: len(_ready_pods(collector) & _backend_pods(core, backend)) == desired + 1,
                 "every backend pod ready in the metrics")  # fmt: skip
        victim = sorted(_backend_pods(core, backend))[0]
        core.delete_namespaced_pod(victim, NAMESPACE, grace_period_seconds=0)
        wait_for(lambda: victim not in _ready_pods(collector), "the deleted pod gone from the metrics")
    finally:
        apps.patch_namespaced_deployment_scale(BACKEND, NAMESPACE, {"spec": {"replicas": desired}})
    wait_for(lambda: _replicas(collector) == desired, "the replica count restored")


def _backend_pods(core: Any, selector: str) -> set[str]:
    return {p.metadata.name for p in core.list_namespaced_pod(NAMESPACE, label_selector=selector).items
            if p.metadata.deletion_timestamp is None}  # fmt: skip
