"""The cluster's Prometheus and Alertmanager settings at a time scale: the same detection chain and the same
alert rules as the local sandbox (:mod:`drills.detection`, :func:`drills.sandbox.configs.alert_rules`).

Why here and not in the manifests: a compressed drill must measure the team, not the cluster's fixed
intervals, so a drill rewrites these ConfigMaps for its time scale and reloads both services through their
own reload APIs (:mod:`drills.k8s.detection`); between drills the cluster runs at :data:`RESTING_SCALE`,
in runbook time like production, so the runbook's queries read as they do there.
"""

from __future__ import annotations

from typing import Any

import yaml

from drills.detection import DetectionChain, WallDetection, deleted_pod_memory_s, duration
from drills.sandbox.configs import alert_rules

PROMETHEUS_CONFIG = "prometheus-config"
ALERTMANAGER_CONFIG = "alertmanager-config"
PROMETHEUS_FILE, RULES_FILE, ALERTMANAGER_FILE = "prometheus.yml", "alert_rules.yml", "alertmanager.yml"
#: Between drills: one runbook second per wall second.
RESTING_SCALE = 1.0


def resting() -> WallDetection:
    """The chain a cluster runs at when no drill is on (the policy's defaults, in real time)."""
    return DetectionChain().at(RESTING_SCALE)


def prometheus_yml(wall: WallDetection, app_namespace: str, alertmanager: str) -> dict[str, Any]:
    """Scrape every backend pod (HTTP discovery from the cluster exporter), the gateway and the exporter in
    ``app_namespace``; alerts to ``alertmanager`` (``host:port``)."""
    scrape = duration(wall.scrape_interval_s)

    def svc(name: str, port: int) -> str:
        return f"{name}.{app_namespace}.svc:{port}"

    return {
        "global": {"scrape_interval": scrape, "scrape_timeout": scrape,
                   "evaluation_interval": duration(wall.evaluation_interval_s)},
        "rule_files": [f"/etc/prometheus/{RULES_FILE}"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            # Debian's Prometheus has no Kubernetes discovery: the exporter lists the backend's pods
            {"job_name": "backend", "metrics_path": "/metrics",
             "http_sd_configs": [{"url": f"http://{svc('cluster-exporter', 9100)}/sd/backend",
                                  "refresh_interval": duration(max(wall.scrape_interval_s, 1.0))}]},
            {"job_name": "gateway", "metrics_path": "/-/metrics",
             "static_configs": [{"targets": [svc("gateway", 80)]}]},
            {"job_name": "cluster-exporter", "static_configs": [{"targets": [svc("cluster-exporter", 9100)]}]},
        ],
    }  # fmt: skip


def cluster_alert_rules(wall: WallDetection) -> dict[str, Any]:
    """The sandbox's rules, with the rule window and ``for`` of this chain."""
    return alert_rules(duration(wall.rule_window_s), duration(wall.alert_for_s),
                       duration(deleted_pod_memory_s(wall.rule_window_s)))


def alertmanager_yml(wall: WallDetection) -> dict[str, Any]:
    """The runner reads alerts from the API (:mod:`drills.k8s.alerts`): no receiver has to reach the host."""
    return {
        "route": {"receiver": "drill", "group_by": ["alertname"], "group_wait": duration(wall.group_wait_s),
                  "group_interval": duration(wall.group_interval_s),
                  "repeat_interval": duration(wall.repeat_interval_s)},
        "receivers": [{"name": "drill"}],
    }


def _dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, width=200)


def config_data(wall: WallDetection, app_namespace: str, alertmanager: str) -> dict[str, dict[str, str]]:
    """ConfigMap name -> ``data`` for this chain."""
    return {
        PROMETHEUS_CONFIG: {PROMETHEUS_FILE: _dump(prometheus_yml(wall, app_namespace, alertmanager)),
                            RULES_FILE: _dump(cluster_alert_rules(wall))},
        ALERTMANAGER_CONFIG: {ALERTMANAGER_FILE: _dump(alertmanager_yml(wall))},
    }  # fmt: skip


def config_maps(wall: WallDetection, namespace: str, app_namespace: str, alertmanager: str) -> list[dict[str, Any]]:
    """The two ConfigMaps as objects of ``namespace`` (the monitoring namespace)."""
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
             "data": data} for name, data in config_data(wall, app_namespace, alertmanager).items()]  # fmt: skip
