"""The sandbox's kube-state-metrics and pgbouncer_exporter in one small process.

Metric names follow those two exporters, so the alert rules read the same on the sandbox and on a
cluster: pod restarts / CrashLoopBackOff / readiness from the kubelets' published state, and PgBouncer's
``SHOW POOLS`` / ``SHOW DATABASES`` from its admin console; and blackbox probes of the backend's network links
(``drills/exporters/probes.py``, the cluster exporter's too).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from drills.exporters.database import DatabasePoller, DatabaseProbe, database_metrics
from drills.exporters.memory import ContainerMemory, memory_families
from drills.exporters.pgbouncer import PgBouncerAdmin, pgbouncer_metrics
from drills.exporters.probes import link_probes, probe_metrics
from drills.sandbox.config import SandboxConfig
from drills.sandbox.configs import ADMIN_USER, database_url, upstream_url
from drills.sandbox.kubelet import load_config
from drills.sandbox.paths import Layout


class SandboxCollector(Collector):
    def __init__(self, cfg: SandboxConfig) -> None:
        self.layout = Layout(cfg.home)
        self.admin = PgBouncerAdmin(
            f"host=127.0.0.1 port={cfg.ports.pgbouncer} dbname=pgbouncer user={ADMIN_USER} connect_timeout=1")
        self.database = DatabasePoller(DatabaseProbe(database_url(cfg, direct=True)))
        self.links = link_probes(database_url(cfg), upstream_url(cfg))  # the backend's path, blackbox-style

    def collect(self) -> Iterator[Any]:
        yield from self._pods()
        yield from self._pgbouncer()
        yield from database_metrics(self.database)
        yield from probe_metrics(self.links)

    def _pods(self) -> Iterator[Any]:
        restarts = CounterMetricFamily("kube_pod_container_status_restarts", "container restarts",
                                       labels=["namespace", "pod", "container"])
        waiting = GaugeMetricFamily("kube_pod_container_status_waiting_reason", "waiting reason",
                                    labels=["namespace", "pod", "container", "reason"])
        ready = GaugeMetricFamily("kube_pod_status_ready", "pod ready", labels=["namespace", "pod", "condition"])
        running = GaugeMetricFamily("kube_pod_container_status_running", "container running",
                                    labels=["namespace", "pod", "container"])
        deleting = GaugeMetricFamily("kube_pod_deletion_timestamp", "pod is being deleted (since, Unix time)",
                                     labels=["namespace", "pod"])
        memory: list[ContainerMemory] = []
        for path in sorted(self.layout.pods.glob("*.json")):
            try:
                pod = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            name = pod["name"]
            memory.append(ContainerMemory("sandbox", name, "backend", (pod.get("last_state") or {}).get("reason"),
                                          pod.get("memory_limit_bytes"), pod.get("memory_bytes")))
            restarts.add_metric(["sandbox", name, "backend"], pod.get("restarts", 0))
            for reason in ("CrashLoopBackOff", "ContainerCreating"):
                waiting.add_metric(["sandbox", name, "backend", reason], 1.0 if pod.get("state") == reason else 0.0)
            is_ready = bool(pod.get("ready"))
            ready.add_metric(["sandbox", name, "true"], 1.0 if is_ready else 0.0)
            ready.add_metric(["sandbox", name, "false"], 0.0 if is_ready else 1.0)
            running.add_metric(["sandbox", name, "backend"], 1.0 if pod.get("state") == "Running" else 0.0)
            if pod.get("state") in ("Terminating", "Terminated"):
                deleting.add_metric(["sandbox", name], path.stat().st_mtime)
        yield from (restarts, waiting, ready, running, deleting)
        yield from memory_families(memory)

    def _pgbouncer(self) -> Iterator[Any]:
        yield from pgbouncer_metrics(self.admin)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="drills.sandbox.exporter")
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    cfg = load_config(args.home)
    REGISTRY.register(SandboxCollector(cfg))
    start_http_server(cfg.ports.exporter, addr="127.0.0.1")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
