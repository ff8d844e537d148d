"""PostgreSQL seen directly (not through PgBouncer), under postgres_exporter's ``pg_up`` and the demo's own
data invariant ``erp_integrity_violations``.

Why directly: with PgBouncer up and PostgreSQL down (the ``database-down`` fault) only a direct connection
tells them apart; and the invariant must be read from the real tables, not from what the backend claims.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from prometheus_client.core import GaugeMetricFamily

from drills.exporters.connection import KeptConnection
from drills.exporters.probes import LinkProbe

#: The data invariant the team can check (docs and the runbook card quote it): no appointment is booked
#: twice (same patient, time and department).  0 when the data is right.
INTEGRITY_SQL = (
    "SELECT count(*) FROM (SELECT 1 FROM appointments GROUP BY patient_id, starts_at, department"
    " HAVING count(*) > 1) AS doubled"
)


class DatabaseProbe:
    """Short queries on one kept connection (:class:`~drills.exporters.connection.KeptConnection`)."""

    def __init__(self, dsn: str) -> None:
        self.connection = KeptConnection(dsn)

    def scalar(self, sql: str) -> float:
        row = self.connection.run(lambda conn: conn.execute(sql).fetchone())
        return float(row[0]) if row and row[0] is not None else 0.0


class DatabasePoller:
    """``pg_up`` and the invariant read over and over by a thread of their own (the blackbox probes' loop,
    drills/exporters/probes.py), so a scrape never waits on PostgreSQL.

    Why: at x120 Prometheus gives a scrape 0.5 s, and a scrape that waited on a database going away (a connect of
    up to a second, tried twice) failed whole: on kind ``pg_up`` went missing instead of reading 0 for most of the
    outage, and ``DatabaseDown`` never fired.  A check in flight for longer than the probes' timeout reads 0."""

    def __init__(self, probe: DatabaseProbe) -> None:
        self.probe = probe
        self._violations: float | None = None
        self._loop = LinkProbe("postgres", self._check, self._forget)

    def _check(self) -> None:
        self.probe.scalar("SELECT 1")  # raises while PostgreSQL does not answer: the loop reads 0
        try:
            self._violations = self.probe.scalar(INTEGRITY_SQL)
        except psycopg.Error:  # up without the app's tables: the invariant is unknown, not 0
            self._violations = None

    def _forget(self) -> None:
        self._violations = None

    def close(self) -> None:
        self._loop.stop()

    def readings(self) -> tuple[float | None, float | None]:
        """``(pg_up, violations)``; ``None`` for what is not known (before the first check; the invariant while
        PostgreSQL is down)."""
        reading = self._loop.reading()
        up = None if reading is None else reading[0]
        return up, (self._violations if up == 1.0 else None)


def database_metrics(poller: DatabasePoller) -> Iterator[Any]:
    """``pg_up`` (0, not absent, while PostgreSQL is down: the ``DatabaseDown`` alert needs a series) and
    ``erp_integrity_violations`` (absent while it cannot be read: unknown is not 0).  Up means the server answers,
    as postgres_exporter's does: a database that answers without the app's tables is up (and the app fails)."""
    up, violations = poller.readings()
    if up is None:
        return
    family = GaugeMetricFamily("pg_up", "PostgreSQL answers a direct connection")
    family.add_metric([], up)
    yield family
    if violations is not None:
        family = GaugeMetricFamily("erp_integrity_violations", "appointments booked more than once (groups)")
        family.add_metric([], violations)
        yield family
