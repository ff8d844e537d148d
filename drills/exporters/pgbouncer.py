"""PgBouncer's admin console as pgbouncer_exporter metrics (``pgbouncer_up``, ``pgbouncer_pools_*``,
``pgbouncer_databases_pool_size``).  ``pgbouncer_up`` is 0, not absent, while PgBouncer is down: the
``PgBouncerDown`` alert needs a series to compare."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from prometheus_client.core import GaugeMetricFamily

from drills.exporters.connection import KeptConnection

POOL_COLUMNS = {  # SHOW POOLS column -> metric suffix (pgbouncer_exporter's names)
    "cl_active": "client_active_connections",
    "cl_waiting": "client_waiting_connections",
    "sv_active": "server_active_connections",
    "sv_idle": "server_idle_connections",
    "sv_used": "server_used_connections",
    "maxwait": "client_maxwait_seconds",
}


class PgBouncerAdmin:
    """SHOW commands over the admin console (simple query protocol, autocommit, hence ClientCursor)."""

    def __init__(self, dsn: str) -> None:
        self.connection = KeptConnection(dsn, cursor_factory=psycopg.ClientCursor)

    def show(self, what: str) -> list[dict[str, Any]]:
        def query(conn: psycopg.Connection) -> list[dict[str, Any]]:
            with conn.cursor() as cur:
                cur.execute(f"SHOW {what}")
                names = [c.name for c in cur.description or []]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        return self.connection.run(query)


def pgbouncer_metrics(admin: PgBouncerAdmin) -> Iterator[Any]:
    """One scrape's PgBouncer families."""
    up = GaugeMetricFamily("pgbouncer_up", "PgBouncer admin console answers")
    try:
        pools = admin.show("POOLS")
        databases = admin.show("DATABASES")
    except psycopg.Error:
        up.add_metric([], 0.0)
        yield up
        return
    up.add_metric([], 1.0)
    yield up
    for column, suffix in POOL_COLUMNS.items():
        family = GaugeMetricFamily(f"pgbouncer_pools_{suffix}", f"SHOW POOLS {column}", labels=["database", "user"])
        for row in pools:
            if row.get("database") != "pgbouncer" and column in row:
                family.add_metric([row["database"], row["user"]], float(row[column] or 0))
        yield family
    size = GaugeMetricFamily("pgbouncer_databases_pool_size", "SHOW DATABASES pool_size", labels=["database"])
    for row in databases:
        if row.get("name") != "pgbouncer":
            size.add_metric([row["name"]], float(row.get("pool_size") or 0))
    yield size
