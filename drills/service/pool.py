"""The backend's connection pool: psycopg's, with steady reconnects and a count of what requests hold.

Why not the plain pool: a connection lost while the database path is down (a network partition, PgBouncer gone) is
re-added with a delay that doubles after every failed attempt (1, 2, 4 ... 128 s, psycopg_pool's backoff), so a
backend whose path was down for a minute got its connections back up to a minute *after* the path healed: the fix
worked, the service did not come back, and a drill's verification saw a pool short of connections. A team's real pool
retries on demand; this one retries about every second (each attempt bounded by ``connect_timeout``).

``checked_out`` counts the connections requests hold (the leaky release's kept ones too): the pool's own statistics
count a connection still being re-added as neither idle nor free, which read as "in use" long after every request
had given its connection back (chaos CI: ``in_use=1`` for minutes after a partition).

``_add_connection`` and ``AttemptWithBackoff`` are psycopg_pool's (pinned in pyproject.toml).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from psycopg_pool.base import AttemptWithBackoff


class SteadyRetry(AttemptWithBackoff):
    """A reconnect every ~1 s (the initial delay, jittered), never a doubling one."""

    DELAY_BACKOFF = 1.0


class BackendPool(AsyncConnectionPool):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked_out = 0

    async def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        await super()._add_connection(attempt or SteadyRetry(timeout=self.reconnect_timeout), growing)

    @contextlib.asynccontextmanager
    async def held(self, timeout: float | None = None) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """:meth:`connection`, counted in :attr:`checked_out` while a request holds it."""
        async with self.connection(timeout=timeout) as conn:
            self.checked_out += 1
            try:
                yield conn
            finally:
                self.checked_out -= 1

    async def take(self) -> psycopg.AsyncConnection[Any]:
        """:meth:`getconn`, counted until :meth:`give_back` (a connection never given back stays counted)."""
        conn = await self.getconn()
        self.checked_out += 1
        return conn

    async def give_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.checked_out -= 1
        await self.putconn(conn)
