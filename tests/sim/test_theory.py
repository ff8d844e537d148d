"""Both engines against queueing theory and closed forms (fixed seeds; tolerances from the sampling error).

Every test runs on the vector kernel and on the SimPy engine; the SimPy engine runs fewer incidents
(it is ~20x slower), so its tolerances, computed from its own sampling error, are wider but still sharp.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests_sim_helpers import queue_policy

from sim.model import compile_model
from sim.runner import replicate, run

#: incidents per engine relative to the vector kernel's counts below
SCALE = {"vector": 1.0, "simpy": 0.2}


@pytest.fixture(params=["vector", "simpy"])
def engine(request) -> str:
    return request.param


def size(n: int, engine: str) -> int:
    return int(n * SCALE[engine])


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C)."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


@pytest.mark.parametrize(("c", "lam", "mean"), [(1, 0.05, 12.0), (2, 0.1, 15.0), (3, 0.2, 12.0)])
def test_waiting_time_matches_erlang_c(seed_runbook, c, lam, mean, engine):
    policy = queue_policy(lam, mean, c)
    outcomes = run(policy, seed_runbook, size(200_000, engine), seed=20260101, replications=20, engine=engine)
    means = np.array([o.wait.mean() for o in outcomes])
    se = means.std(ddof=1) / math.sqrt(means.size)
    theory = erlang_c_wait(lam, 1 / mean, c)
    # replication means are ~independent and normal: 4 standard errors is a 1-in-15,000 false alarm
    assert abs(means.mean() - theory) < 4 * se, (means.mean(), theory, se)
    assert se < 0.05 / math.sqrt(SCALE[engine]) * theory  # and the test is sharp enough to mean something


def test_two_level_ladder_matches_closed_form(seed_runbook, engine):
    """Resolution ~ Exp(m) after ack; L2 paged at `after`, answers with p per page (timeout tau, at most K
    pages), ack ~ Exp(a).  P(paged) = e^{-after/m};  P(engaged before resolution) =
    sum_{k<K} p (1-p)^k e^{-(after + k tau)/m} * m/(m + a)."""
    ladder = seed_runbook.escalation.model_copy(update={"technical": seed_runbook.escalation.technical[:2]})
    runbook = seed_runbook.model_copy(update={"escalation": ladder})
    m, after, p, tau, k_max, a = 40.0, 30.0, 0.6, 10.0, 3, 5.0
    policy = queue_policy(0.001, m, None, escalation={
        "severities": ["SEV-1"],
        "levels": [{"level": 2, "after_minutes": after, "answer_probability": p, "timeout_minutes": tau,
                    "max_pages": k_max, "ack": {"dist": "exponential", "mean": a}}]})
    model = compile_model(policy, runbook)
    n = size(200_000, engine)
    rep = replicate(model, n, 7, 0, engine=engine)
    paged = rep.escalation_paged[:, 0].mean()
    engaged = np.isfinite(rep.escalation_engaged[:, 0]).mean()
    p_paged = math.exp(-after / m)
    p_engaged = sum(p * (1 - p) ** k * math.exp(-(after + k * tau) / m) for k in range(k_max)) * m / (m + a)
    for observed, expected in ((paged, p_paged), (engaged, p_engaged)):
        se = math.sqrt(expected * (1 - expected) / n)
        assert abs(observed - expected) < 4 * se, (observed, expected)


def test_littles_law(seed_runbook, policies_dir, engine):
    """Time-average number of open incidents (sampled at random instants) = lambda * mean time in system."""
    from sim.policy import load_policy

    policy = load_policy(str(policies_dir / "baseline.yaml"))
    model = compile_model(policy, seed_runbook)
    rep = replicate(model, size(100_000, engine), 3, 0, engine=engine)
    lam = model.rates_per_minute.sum()
    horizon = rep.arrival.max()
    probes = np.sort(np.random.default_rng(99).uniform(0.1 * horizon, 0.9 * horizon, 20_000))
    opened = np.searchsorted(np.sort(rep.arrival), probes, side="right")
    closed = np.searchsorted(np.sort(rep.restored), probes, side="right")
    in_system = (opened - closed).mean()
    expected = lam * (rep.restored - rep.arrival).mean()
    assert in_system == pytest.approx(expected, rel=0.05 / math.sqrt(SCALE[engine]))


def test_more_responders_never_wait_longer(seed_runbook, engine):
    """Same arrivals and work (CRN), FIFO: every incident's wait is non-increasing in c."""
    waits = []
    for c in (1, 2, 3, 4):
        model = compile_model(queue_policy(0.06, 14.0, c), seed_runbook)
        waits.append(replicate(model, size(30_000, engine), 11, 0, engine=engine).wait)
    for fewer, more in itertools.pairwise(waits):
        assert (more <= fewer + 1e-9).all()
        assert more.mean() <= fewer.mean()
    assert waits[0].mean() > waits[-1].mean() > -1e-12


@settings(max_examples=25, deadline=None)
@given(
    rate=st.floats(0.001, 2.0),
    mean=st.floats(0.1, 500.0),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 400),
)
@pytest.mark.parametrize("engine_name", ["vector", "simpy"])
def test_unlimited_responders_never_queue(seed_runbook, rate, mean, seed, n, engine_name):
    model = compile_model(queue_policy(rate, mean, None), seed_runbook)
    rep = replicate(model, n, seed, 0, engine=engine_name)
    assert (rep.wait == 0).all()
    assert (rep.acknowledged == rep.detected).all()
    assert (rep.restored >= rep.acknowledged).all()
