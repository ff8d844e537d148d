"""The kernel's FIFO queue recursion against the same on-call pool written as SimPy processes."""

from __future__ import annotations

import numpy as np
import pytest
from tests_sim_helpers import queue_policy

from sim.kernel import run_replication
from sim.model import compile_model
from sim.policy import load_policy
from sim.reference import simpy_waits


@pytest.mark.parametrize("oncall", [1, 2, 3])
def test_kernel_queue_equals_simpy_resource(seed_runbook, oncall):
    model = compile_model(queue_policy(0.1, 15.0, oncall), seed_runbook)
    rep = run_replication(model, 5000, seed=oncall)
    expected = simpy_waits(rep.detected, rep.hold, oncall)
    assert (rep.wait > 0).mean() > 0.2  # a loaded queue, so the check means something
    np.testing.assert_allclose(rep.wait, expected, rtol=0, atol=1e-7)


def test_full_lifecycle_queue_equals_simpy_resource(seed_runbook, policies_dir):
    """The whole runbook lifecycle (baseline policy): hold times from the walk, pool from SimPy."""
    model = compile_model(load_policy(str(policies_dir / "baseline.yaml")), seed_runbook)
    rep = run_replication(model, 5000, seed=12)
    np.testing.assert_allclose(rep.wait, simpy_waits(rep.detected, rep.hold, 1), rtol=0, atol=1e-6)
