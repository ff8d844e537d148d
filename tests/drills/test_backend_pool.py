"""The backend pool's reconnect pace (pure logic of psycopg_pool's attempt, as the pool uses it)."""

from __future__ import annotations

from psycopg_pool.base import AttemptWithBackoff

from drills.service.pool import SteadyRetry


def delays(attempt: AttemptWithBackoff, failures: int) -> list[float]:
    out = []
    for n in range(failures):
        attempt.update_delay(float(n * 4))  # a failed attempt every few seconds, as while a partition lasts
        out.append(attempt.delay)
    return out


def test_a_lost_connection_is_retried_about_every_second_not_after_a_doubling_delay() -> None:
    steady = delays(SteadyRetry(timeout=300.0), 8)
    assert all(0.85 <= d <= 1.15 for d in steady), steady
    # psycopg_pool's own: after a minute's partition the next try came a minute after the heal
    doubling = delays(AttemptWithBackoff(timeout=300.0), 8)
    assert doubling[-1] > 60, doubling
