"""``pg_up`` comes from a loop of its own, never from the scrape: a PostgreSQL that refuses or never answers reads
0 (the DatabaseDown alert needs that series), and the invariant is unknown (absent) meanwhile.  The real database
side is exercised by the branch drills (sandbox) and tests/kind's database-down drill, where DatabaseDown fired
for the first time on kind with this loop."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
from gameday_testkit import silent_port as silent

from drills.exporters.database import DatabasePoller, DatabaseProbe, database_metrics


def metrics(poller: DatabasePoller) -> dict[str, float]:
    return {family.name: family.samples[0].value for family in database_metrics(poller)}


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "no reading in time"
        time.sleep(0.05)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a database gone silent behind a Service)."""
    with silent() as port:
        yield port


def test_a_refusing_database_reads_down_without_an_invariant() -> None:
    with socket.socket() as sock:  # a free port, then closed: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    poller = DatabasePoller(DatabaseProbe(f"host=127.0.0.1 port={port} dbname=x user=x connect_timeout=1"))
    try:
        eventually(lambda: poller.readings()[0] is not None)
        assert metrics(poller) == {"pg_up": 0.0}
    finally:
        poller.close()


def test_a_database_that_never_answers_reads_down(silent_port: int) -> None:
    poller = DatabasePoller(DatabaseProbe(f"host=127.0.0.1 port={silent_port} dbname=x user=x connect_timeout=1"))
    try:
        eventually(lambda: poller.readings()[0] == 0.0)
        assert metrics(poller) == {"pg_up": 0.0}
        assert poller.readings() == (0.0, None)
    finally:
        poller.close()
