"""A journal changes nothing but the log: the SimPy engine gives bit-identical Replications with and without it.

Without a journal the engine takes shortcuts (the first-page ack as one wait, the ladder and its rungs'
pages as timed callbacks instead of processes waiting ``done | timeout``); with a journal it keeps the
processes, so that rows logged at one instant keep their order.  Both paths must decide the same pages,
engagements and times, for every shipped policy, with a limited, an unlimited and a held-to-close on-call.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.engine_simpy import simulate
from sim.model import compile_model
from sim.policy import Policy, load_policy

POLICIES = ("baseline", "auto-rollback", "secondary-oncall", "faster-escalation")


def _variants(policy: Policy) -> dict[str, Policy]:
    responders = policy.responders
    return {
        "as-is": policy,
        "unlimited": policy.model_copy(update={"responders": responders.model_copy(update={"oncall": None})}),
        "closed-2": policy.model_copy(update={"release_at": "closed",
                                              "responders": responders.model_copy(update={"oncall": 2})}),
    }


@pytest.mark.parametrize("name", POLICIES)
def test_journal_and_plain_runs_give_identical_replications(seed_runbook, policies_dir, name):
    for variant, policy in _variants(load_policy(str(policies_dir / f"{name}.yaml"))).items():
        model = compile_model(policy, seed_runbook)
        plain, _ = simulate(model, 2500, seed=3, replication=1)
        logged, engine = simulate(model, 2500, seed=3, replication=1, journal=True)
        assert engine.log, variant
        assert plain.escalation_paged.any(), variant  # the ladder is exercised
        for field in dataclasses.fields(plain):
            a, b = getattr(plain, field.name), getattr(logged, field.name)
            if isinstance(a, np.ndarray):
                assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (variant, field.name)
            else:
                assert a == b, (variant, field.name)
