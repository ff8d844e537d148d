"""The cluster exporter (``python -m drills.k8s.exporter`` in the ``cluster-exporter`` Deployment).

kube-state-metrics cannot be built here (its Go module is not served), and the alert rules need pod
states under its names; PgBouncer's pool metrics come from its admin console under pgbouncer_exporter's
names.  One small process, like the sandbox's exporter, reading the namespace's pods with the official
``kubernetes`` client at scrape time (the scrape interval is a second or so; one list call each).
It runs as its own Deployment so that ``pgbouncer_up`` drops to 0 when PgBouncer is scaled away.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from drills.exporters.pgbouncer import PgBouncerAdmin, pgbouncer_metrics


def pod_families(pods: list[Any], namespace: str) -> Iterator[Any]:
    """kube-state-metrics' pod families for ``pods`` (``kubernetes`` client V1Pod objects)."""
    restarts = CounterMetricFamily("kube_pod_container_status_restarts", "container restarts",
                                   labels=["namespace", "pod", "container"])
    waiting = GaugeMetricFamily("kube_pod_container_status_waiting_reason", "container waiting reason",
                                labels=["namespace", "pod", "container", "reason"])
    running = GaugeMetricFamily("kube_pod_container_status_running", "container running",
                                labels=["namespace", "pod", "container"])
    ready = GaugeMetricFamily("kube_pod_status_ready", "pod ready", labels=["namespace", "pod", "condition"])
    for pod in pods:
        name = pod.metadata.name
        for status in pod.status.container_statuses or []:
            restarts.add_metric([namespace, name, status.name], float(status.restart_count or 0))
            state = status.state
            if state is not None and state.waiting is not None and state.waiting.reason:
                waiting.add_metric([namespace, name, status.name, state.waiting.reason], 1.0)
            running.add_metric([namespace, name, status.name], 1.0 if state and state.running else 0.0)
        is_ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        ready.add_metric([namespace, name, "true"], 1.0 if is_ready else 0.0)
        ready.add_metric([namespace, name, "false"], 0.0 if is_ready else 1.0)
    yield from (restarts, waiting, running, ready)


def deployment_families(deployments: list[Any], namespace: str) -> Iterator[Any]:
    spec = GaugeMetricFamily("kube_deployment_spec_replicas", "desired replicas", labels=["namespace", "deployment"])
    available = GaugeMetricFamily("kube_deployment_status_replicas_available", "available replicas",
                                  labels=["namespace", "deployment"])
    for dep in deployments:
        spec.add_metric([namespace, dep.metadata.name], float(dep.spec.replicas or 0))
        available.add_metric([namespace, dep.metadata.name], float(dep.status.available_replicas or 0))
    yield from (spec, available)


class ClusterCollector(Collector):
    def __init__(self, namespace: str, pgbouncer_dsn: str) -> None:
        from kubernetes import client, config

        config.load_incluster_config()
        self.namespace = namespace
        self.core = client.CoreV1Api()
        self.apps = client.AppsV1Api()
        self.admin = PgBouncerAdmin(pgbouncer_dsn)

    def collect(self) -> Iterator[Any]:
        from kubernetes.client.exceptions import ApiException

        try:
            pods = self.core.list_namespaced_pod(self.namespace, _request_timeout=5).items
            deployments = self.apps.list_namespaced_deployment(self.namespace, _request_timeout=5).items
        except (ApiException, OSError) as exc:  # no pod series this scrape; say why in the pod's log
            print(f"cluster-exporter: cannot list the namespace: {exc}", file=sys.stderr, flush=True)
        else:
            yield from pod_families(pods, self.namespace)
            yield from deployment_families(deployments, self.namespace)
        yield from pgbouncer_metrics(self.admin)


def main() -> int:
    namespace = os.environ["POD_NAMESPACE"]  # the downward API (manifests/cluster-exporter.yaml)
    dsn = os.environ["PGBOUNCER_DSN"]
    REGISTRY.register(ClusterCollector(namespace, dsn))
    port = int(os.environ.get("PORT", "9100"))
    start_http_server(port, addr="0.0.0.0")
    print(f"cluster-exporter: namespace {namespace}, listening on :{port}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
