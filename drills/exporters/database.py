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


def database_metrics(probe: DatabaseProbe) -> Iterator[Any]:
    """``pg_up`` (0, not absent, while PostgreSQL is down: the ``DatabaseDown`` alert needs a series) and
    ``erp_integrity_violations`` (absent while it cannot be read: unknown is not 0).  Up means the server answers,
    as postgres_exporter's does: a database that answers without the app's tables is up (and the app fails)."""
    up = GaugeMetricFamily("pg_up", "PostgreSQL answers a direct connection")
    try:
        probe.scalar("SELECT 1")
    except psycopg.Error:
        up.add_metric([], 0.0)
        yield up
        return
    up.add_metric([], 1.0)
    yield up
    try:
        violations = probe.scalar(INTEGRITY_SQL)
    except psycopg.Error:
        return
    family = GaugeMetricFamily("erp_integrity_violations", "appointments booked more than once (groups)")
    family.add_metric([], violations)
    yield family
