"""The on-call pool settles uncontended requests on the spot and is otherwise stock SimPy's FIFO Resource."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from sim.simpy_pool import OnCallPool


def _serve(make_pool, capacity: int, seed: int) -> tuple[list[tuple[int, float, float]], int]:
    """Random arrivals holding a responder for random times; (job, granted, released) per job, events."""
    rng = np.random.default_rng(seed)
    gaps, holds = rng.exponential(1.0, 400).tolist(), rng.exponential(capacity * 0.9, 400).tolist()
    env = simpy.Environment()
    pool = make_pool(env, capacity)
    served: list[tuple[int, float, float]] = []

    def job(j: int):
        with pool.request() as req:
            yield req
            granted = env.now
            yield env.timeout(holds[j])
        served.append((j, granted, env.now))

    def source():
        for j, gap in enumerate(gaps):
            yield env.timeout(gap)
            env.process(job(j))

    env.process(source())
    env.run()
    return sorted(served), next(env._eid)


@pytest.mark.parametrize("capacity", [1, 2, 3])
def test_same_grants_as_simpy_resource(capacity):
    stock, stock_events = _serve(lambda env, c: simpy.Resource(env, capacity=c), capacity, seed=capacity)
    pool, pool_events = _serve(OnCallPool, capacity, seed=capacity)
    assert pool == stock
    waited = sum(1 for j, granted, _ in stock if granted > 0 and j > 0)
    assert waited > 0  # some jobs queued, so the stock path was exercised too
    assert pool_events < stock_events  # uncontended grants and releases are no events any more


def test_uncontended_request_is_granted_at_once_and_queued_ones_in_order():
    env = simpy.Environment()
    pool = OnCallPool(env, 1)
    first = pool.request()
    assert first.processed and first.ok and pool.count == 1
    second, third = pool.request(), pool.request()
    assert not second.triggered and list(pool.queue) == [second, third]
    pool.release(first)
    env.run()
    assert second.processed and not third.triggered and pool.users == [second]


def test_a_cancelled_request_leaves_the_queue():
    env = simpy.Environment()
    pool = OnCallPool(env, 1)
    held = pool.request()
    waiting = pool.request()
    waiting.cancel()
    pool.release(waiting)  # never granted: nothing to free
    assert pool.users == [held] and not pool.queue
    pool.release(held)
    assert pool.count == 0
