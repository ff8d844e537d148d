"""The backend's Prometheus metrics, named as the runbook's PromQL expects them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: dense between 0.1 s and 1 s, where the p95 < 1 s verification threshold is decided
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5,
                   2.0, 3.0, 5.0, 10.0)


class Metrics:
    """One registry per app, so tests can build several apps in one process."""

    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests by route and status", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds", "HTTP request latency", ["method", "route"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.pool_in_use = Gauge("db_pool_connections_in_use", "connections checked out of the app pool",
                                 registry=self.registry)
        self.pool_size = Gauge("db_pool_size", "configured maximum of the app pool", registry=self.registry)
        self.pool_waiting = Gauge("db_pool_waiting", "requests waiting for a pool connection",
                                  registry=self.registry)
        self.leaked = Gauge("db_pool_leaked_connections", "connections never returned (the leaky release's bug)",
                            registry=self.registry)
        info = Gauge("app_version_info", "running release", ["version"], registry=self.registry)
        info.labels(version=version).set(1)
