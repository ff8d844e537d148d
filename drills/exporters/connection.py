"""One kept database connection for an exporter: reopened after a failure, bounded when its peer vanishes.

Why bounded: on kind a stopped pod's address goes silent (no RST, unlike a local process that dies), so a query on
the kept connection waited for TCP's own timeouts — minutes — and the scrape with it: the exporter stopped
answering exactly while PostgreSQL or PgBouncer was down, and ``pg_up`` 0 never reached Prometheus.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

T = TypeVar("T")
#: libpq's bounds (ms / s): a send unacknowledged this long fails, as does a connect.
TCP_USER_TIMEOUT_MS = 1000
CONNECT_TIMEOUT_S = 1


class KeptConnection:
    """Calls run on one autocommit connection; a failure closes it and the call is tried once on a new one."""

    def __init__(self, dsn: str, **connect_kwargs: Any) -> None:
        self.dsn = dsn
        self.connect_kwargs = connect_kwargs
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def run(self, call: Callable[[psycopg.Connection], T]) -> T:
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(
                            self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                            tcp_user_timeout=TCP_USER_TIMEOUT_MS, **self.connect_kwargs,
                        )  # fmt: skip
                    return call(self._conn)
                except psycopg.Error:
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")
