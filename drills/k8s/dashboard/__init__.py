"""gameday's stand-in for the runbook's Grafana dashboard (``/d/system-overview``): one HTML page, a script
and a style sheet, nothing fetched from the internet; the panels ask Prometheus' ``/api/v1/query_range``
on the same origin (the HTTPS front proxies it).

Why not Grafana: its licence (AGPL) is not allowed here.  The panels are the runbook's own queries, so what
a responder reads on the page is what the runbook's verification step checks.  Ships in the image with
drills/k8s/front.py: no ``gameday`` imports.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: Static files the page loads (served under the front's /-/dashboard/), with their media types.
STATIC = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
#: Same-origin only: the page cannot load or send anything elsewhere.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

# The runbook's queries, verbatim (runbooks/incident-response.md, "Measure the user impact" and "Verify
# Resolution"; the same strings as drills/sandbox/configs.py's recording rules).
ERROR_RATE = 'sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'
REQUEST_RATE = "sum(rate(http_requests_total[1m]))"
P95_LATENCY = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))"


@dataclass(frozen=True)
class Series:
    query: str
    legend: str  # "{{pod}}" takes the series' label


@dataclass(frozen=True)
class Panel:
    id: str
    title: str
    unit: str  # ratio | reqps | seconds | count
    series: list[Series]
    threshold: float | None = None
    note: str = ""
    stacked: bool = field(default=False)


def panels(namespace: str) -> list[Panel]:
    """The dashboard: the runbook's three golden signals, PgBouncer's pool, the pods as the cluster exporter
    names them (drills/k8s/exporter.py, kube-state-metrics' names)."""
    ns = json.dumps(namespace)  # a PromQL string literal
    return [
        Panel("error-rate", "Error rate (5xx / all)", "ratio", [Series(ERROR_RATE, "error rate")], 0.01,
              "runbook: < 1 % to verify the restore"),
        Panel("request-rate", "Request rate", "reqps", [Series(REQUEST_RATE, "requests/s")],
              note="compare with a normal day"),
        Panel("p95-latency", "Latency p95", "seconds", [Series(P95_LATENCY, "p95")], 1.0, "runbook: P95 < 1 s"),
        Panel("pgbouncer-pool", "PgBouncer pool", "count", [
            Series("sum by (database) (pgbouncer_pools_server_active_connections)", "{{database}} server active"),
            Series("sum by (database) (pgbouncer_pools_client_waiting_connections)", "{{database}} clients waiting"),
            Series("max by (database) (pgbouncer_databases_pool_size)", "{{database}} pool size"),
        ], note="waiting clients with every server connection active: the pool is exhausted"),
        Panel("pods-ready", "Pods ready", "count", [
            Series(f'sum(kube_pod_status_ready{{namespace={ns},condition="true"}})', "ready"),
            Series(f'sum(kube_pod_status_ready{{namespace={ns},condition="false"}})', "not ready"),
        ], note=f"namespace {namespace}"),
        Panel("pod-restarts", "Container restarts", "count", [
            Series(f"sum by (pod) (kube_pod_container_status_restarts_total{{namespace={ns}}})", "{{pod}}"),
        ], note="runbook: 0 restarts"),
    ]


def page_config(namespace: str, prometheus_url: str, title: str = "System overview") -> dict[str, Any]:
    """What the page's script reads: its panels and where the alerts are."""
    return {"title": title, "prometheus_url": prometheus_url, "namespace": namespace,
            "panels": [asdict(p) for p in panels(namespace)]}  # fmt: skip


@cache
def _template() -> str:
    return (HERE / "index.html").read_text(encoding="utf-8")


def render_page(config: dict[str, Any]) -> str:
    """The page with its configuration inline (JSON, ``<`` escaped so no string can end the script element)."""
    data = json.dumps(config, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    title = (str(config.get("title", "")).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return _template().replace("{{TITLE}}", title).replace("{{CONFIG}}", data)


def static_file(name: str) -> tuple[bytes, str] | None:
    """A file of the page (``dashboard.js``...), only those listed: no path reaches anything else."""
    if name not in STATIC:
        return None
    return (HERE / name).read_bytes(), STATIC[name]
