"""The cluster exporter (``python -m drills.k8s.exporter`` in the ``cluster-exporter`` Deployment).

kube-state-metrics cannot be built here (its Go module is not served), and the alert rules need pod
states under its names; PgBouncer's pool metrics come from its admin console under pgbouncer_exporter's
names.  One small process, like the sandbox's exporter, watching the namespace's pods and Deployments with
the official ``kubernetes`` client.
It runs as its own Deployment so that ``pgbouncer_up`` drops to 0 when PgBouncer is scaled away.

It also serves Prometheus' HTTP service discovery of the backend pods (``/sd/backend``: every pod with an
address, labelled ``pod`` and ``version``), because Debian's Prometheus is built without Kubernetes
discovery; upstream Prometheus reads the same endpoint.

And the blackbox probes of the backend's network links (drills/exporters/probes.py), through the same Toxiproxy
Service the backend uses (``LINK_DATABASE_URL``, ``LINK_UPSTREAM_URL``), as the sandbox's exporter probes its own.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from drills.exporters.database import DatabasePoller, DatabaseProbe, database_metrics
from drills.exporters.memory import UsagePoller, kube_containers, memory_families
from drills.exporters.pgbouncer import PgBouncerAdmin, pgbouncer_metrics
from drills.exporters.probes import LinkProbe, link_probes, probe_metrics
from drills.k8s.informer import WatchedList

VERSION_LABEL = "app.kubernetes.io/version"


def pod_families(pods: list[Any], namespace: str) -> Iterator[Any]:
    """kube-state-metrics' pod families for ``pods`` (``kubernetes`` client V1Pod objects)."""
    restarts = CounterMetricFamily("kube_pod_container_status_restarts", "container restarts",
                                   labels=["namespace", "pod", "container"])
    waiting = GaugeMetricFamily("kube_pod_container_status_waiting_reason", "container waiting reason",
                                labels=["namespace", "pod", "container", "reason"])
    running = GaugeMetricFamily("kube_pod_container_status_running", "container running",
                                labels=["namespace", "pod", "container"])
    ready = GaugeMetricFamily("kube_pod_status_ready", "pod ready", labels=["namespace", "pod", "condition"])
    deleting = GaugeMetricFamily("kube_pod_deletion_timestamp", "unix time the pod's deletion was requested",
                                 labels=["namespace", "pod"])
    for pod in pods:
        name = pod.metadata.name
        if pod.metadata.deletion_timestamp is not None:
            deleting.add_metric([namespace, name], pod.metadata.deletion_timestamp.timestamp())
        for status in pod.status.container_statuses or []:
            restarts.add_metric([namespace, name, status.name], float(status.restart_count or 0))
            state = status.state
            if state is not None and state.waiting is not None and state.waiting.reason:
                waiting.add_metric([namespace, name, status.name, state.waiting.reason], 1.0)
            running.add_metric([namespace, name, status.name], 1.0 if state and state.running else 0.0)
        is_ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        ready.add_metric([namespace, name, "true"], 1.0 if is_ready else 0.0)
        ready.add_metric([namespace, name, "false"], 0.0 if is_ready else 1.0)
    yield from (restarts, waiting, running, ready, deleting)


def deployment_families(deployments: list[Any], namespace: str) -> Iterator[Any]:
    spec = GaugeMetricFamily("kube_deployment_spec_replicas", "desired replicas", labels=["namespace", "deployment"])
    available = GaugeMetricFamily("kube_deployment_status_replicas_available", "available replicas",
                                  labels=["namespace", "deployment"])
    for dep in deployments:
        spec.add_metric([namespace, dep.metadata.name], float(dep.spec.replicas or 0))
        available.add_metric([namespace, dep.metadata.name], float(dep.status.available_replicas or 0))
    yield from (spec, available)


def backend_targets(pods: list[Any], port: int) -> list[dict[str, Any]]:
    """Prometheus HTTP SD groups: one per backend pod whose containers have started (their startup probe
    passed) and that is not being deleted.  Ready or not: a pod that lost its database still answers with
    503s the runbook's error rate must count; a pod still starting, or crash-looping, has nothing to scrape
    (its ``BackendCrashLooping`` comes from the pod states)."""
    groups = []
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        statuses = pod.status.container_statuses or []
        started = bool(statuses) and all(s.started for s in statuses)
        if pod.status.pod_ip and started and not pod.metadata.deletion_timestamp:
            labels = pod.metadata.labels or {}
            groups.append({"targets": [f"{pod.status.pod_ip}:{port}"],
                           "labels": {"pod": pod.metadata.name, "version": labels.get(VERSION_LABEL, "")}})
    return groups


class ClusterCollector(Collector):
    """The namespace's pods and Deployments as watches keep them (drills/k8s/informer.py: a scrape never waits
    for the API server, so a loaded node cannot make the exporter miss scrapes, and a state change is there at
    the next scrape); PgBouncer at scrape time (a refused connection is immediate: ``pgbouncer_up`` 0)."""

    def __init__(self, namespace: str, pgbouncer_dsn: str, api: Any = None, database_dsn: str | None = None,
                 links: list[LinkProbe] | None = None) -> None:
        from kubernetes import client, config

        if api is None:
            config.load_incluster_config()
        self.namespace = namespace
        self.admin = PgBouncerAdmin(pgbouncer_dsn)
        #: PostgreSQL directly, as on the sandbox: ``pg_up`` and the data invariant (drills/exporters/database.py)
        self.database = DatabasePoller(DatabaseProbe(database_dsn)) if database_dsn else None
        #: the backend's paths to PgBouncer and the eligibility service, through Toxiproxy (probe_success)
        self.links = links or []
        self.watched_pods = WatchedList(client.CoreV1Api(api).list_namespaced_pod, namespace, what="pods").start()
        self.watched_deployments = WatchedList(client.AppsV1Api(api).list_namespaced_deployment, namespace,
                                               what="deployments").start()  # fmt: skip
        self.watched_pods.wait_listed(10)
        self.watched_deployments.wait_listed(10)
        #: what ``kubectl top pods`` shows, for container_memory_working_set_bytes (drills/exporters/memory.py)
        self.usage = UsagePoller(lambda: client.CustomObjectsApi(api).list_namespaced_custom_object(
            "metrics.k8s.io", "v1beta1", namespace, "pods", _request_timeout=5))

    @property
    def pods(self) -> list[Any]:
        return self.watched_pods.items()

    def stop(self) -> None:
        self.usage.stop()
        self.watched_pods.stop()
        self.watched_deployments.stop()

    def collect(self) -> Iterator[Any]:
        if self.watched_pods.wait_listed(0) and self.watched_deployments.wait_listed(0):
            yield from pod_families(self.watched_pods.items(), self.namespace)
            yield from memory_families(kube_containers(self.watched_pods.items(), self.namespace, self.usage.usage))
            yield from deployment_families(self.watched_deployments.items(), self.namespace)
        yield from pgbouncer_metrics(self.admin)
        if self.database is not None:
            yield from database_metrics(self.database)
        yield from probe_metrics(self.links)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """One scrape a second would flood the pod's log."""


def make_app(collector: ClusterCollector, selector: str, backend_port: int) -> Callable[..., Any]:
    """WSGI: ``/sd/backend`` (HTTP SD JSON), everything else the metrics."""
    metrics = make_wsgi_app(REGISTRY)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != "/sd/backend":
            return metrics(environ, start_response)
        key, value = selector.split("=", 1)
        pods = [p for p in collector.pods if (p.metadata.labels or {}).get(key) == value]
        body = json.dumps(backend_targets(pods, backend_port)).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def main() -> int:
    namespace = os.environ["POD_NAMESPACE"]  # the downward API (manifests/cluster-exporter.yaml)
    database_link, upstream_link = os.environ.get("LINK_DATABASE_URL"), os.environ.get("LINK_UPSTREAM_URL")
    links = link_probes(database_link, upstream_link) if database_link and upstream_link else None
    collector = ClusterCollector(namespace, os.environ["PGBOUNCER_DSN"], database_dsn=os.environ.get("DATABASE_DSN"),
                                 links=links)
    REGISTRY.register(collector)
    port = int(os.environ.get("PORT", "9100"))
    app = make_app(collector, os.environ["BACKEND_SELECTOR"],
                   int(os.environ.get("BACKEND_PORT", "8080")))
    server = make_server("0.0.0.0", port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    print(f"cluster-exporter: namespace {namespace}, listening on :{port}", flush=True)
    # PID 1 of its container: without a handler the kernel ignores SIGTERM, and every deletion of the pod (the
    # runbook's emergency `kubectl delete pods --all`) waited out the 30 s grace period for the SIGKILL
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
