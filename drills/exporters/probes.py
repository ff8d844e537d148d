"""Blackbox probes of the backend's network links, as a team's blackbox exporter on the backend's node would run
them: ``SELECT 1`` to PgBouncer and ``GET /health`` of the eligibility service, through the same Toxiproxy links
the backend uses (``probe_success``, ``probe_duration_seconds``, labelled ``target``).

Why: PgBouncer's and PostgreSQL's own checks (``pgbouncer_up``, ``pg_up``) go around the links, so they stay
green in a network fault; these say whether the path from the backend works and how slow it is.  Each probe
runs in a thread of its own, so a probe stuck in a partition (no reply, no reset) never holds up a scrape: one
in flight for longer than its timeout reads as a failure.  The sandbox's exporter and the cluster exporter
(drills/k8s/exporter.py, through the cluster's Toxiproxy Service) both run them, so the shared alert rules
``DependencyUnreachable`` / ``DependencyLatencyHigh`` read the same series on both targets.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
from prometheus_client.core import GaugeMetricFamily

#: Seconds between two probes of a link, and how long one may take before it counts as failed (wall seconds).
PERIOD_S = 0.25
TIMEOUT_S = 2.0


class LinkProbe:
    """One dependency probed over and over through its link; :meth:`reading` is the latest result."""

    def __init__(self, target: str, check: Callable[[], None], reset: Callable[[], None]) -> None:
        self.target = target
        self._check = check
        self._reset = reset
        self._lock = threading.Lock()
        self._result: tuple[float, float] | None = None  # (success, seconds) of the last finished probe
        self._since: float | None = None  # when the probe now in flight started
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"probe-{target}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            start = time.monotonic()
            with self._lock:
                self._since = start
            try:
                self._check()
                ok = 1.0
            except Exception:  # any failure of the path (refused, reset, timed out) is a failed probe
                ok = 0.0
                self._reset()
            with self._lock:
                self._result, self._since = (ok, time.monotonic() - start), None
            self._stopped.wait(PERIOD_S)

    def stop(self) -> None:
        """End the loop after the probe in flight (an exporter's probes live as long as it; a test's do not)."""
        self._stopped.set()
        self._thread.join(TIMEOUT_S + 1.0)

    def reading(self) -> tuple[float, float] | None:
        """``(success, seconds)``; ``None`` before the first probe has had its chance."""
        with self._lock:
            since, result = self._since, self._result
        if since is not None and time.monotonic() - since > TIMEOUT_S:
            return 0.0, time.monotonic() - since  # stuck: no answer is a failure
        return result


class DatabaseLink:
    """``SELECT 1`` on one kept connection (as the backend's pool keeps them), opened again after a failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None

    def check(self) -> None:
        if self._conn is None:
            self._conn = psycopg.connect(self.url, connect_timeout=int(TIMEOUT_S), autocommit=True,
                                         prepare_threshold=None)  # fmt: skip
        self._conn.execute("SELECT 1")

    def reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


class HttpLink:
    """``GET /health`` on a kept-alive client, as the backend's HTTP client calls the upstream."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client = httpx.Client(timeout=TIMEOUT_S)

    def check(self) -> None:
        self._client.get(f"{self.url}/health").raise_for_status()

    def reset(self) -> None:
        self._client.close()
        self._client = httpx.Client(timeout=TIMEOUT_S)


def link_probes(database_url: str, upstream_url: str) -> list[LinkProbe]:
    """The backend's two links, probed from now on."""
    database, upstream = DatabaseLink(database_url), HttpLink(upstream_url)
    return [LinkProbe("pgbouncer", database.check, database.reset),
            LinkProbe("eligibility", upstream.check, upstream.reset)]  # fmt: skip


def probe_metrics(probes: list[LinkProbe]) -> Iterator[Any]:
    """blackbox_exporter's names, one series per link (none before its first probe)."""
    success = GaugeMetricFamily("probe_success", "the dependency answered through the backend's link",
                                labels=["target"])  # fmt: skip
    seconds = GaugeMetricFamily("probe_duration_seconds", "how long the probe took (or has been waiting)",
                                labels=["target"])  # fmt: skip
    for probe in probes:
        reading = probe.reading()
        if reading is not None:
            success.add_metric([probe.target], reading[0])
            seconds.add_metric([probe.target], reading[1])
    yield from (success, seconds)
