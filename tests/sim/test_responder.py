"""The autopilot's responder API: stable names, same distributions as the policy, runbook ladder."""

from __future__ import annotations

import numpy as np
import pytest

from gameday.errors import InputError
from sim.responder import STEPS, ResponderModel


@pytest.fixture(scope="module")
def model(seed_runbook_path, policies_dir):
    return ResponderModel.from_files(policies_dir / "baseline.yaml", seed_runbook_path)


def test_steps_are_the_documented_ones(model):
    assert model.steps == STEPS
    assert set(STEPS) >= {"acknowledge", "assess", "declare", "assemble", "investigate", "hypothesis", "fix",
                          "verify", "status_update"}


def test_delays_follow_the_policy_distribution(model):
    rng = np.random.default_rng(11)
    acks = np.array([model.delay_minutes("acknowledge", rng) for _ in range(4000)])
    # baseline: acknowledgement ~ Exponential(mean 4 min); the sample mean has sd 4/sqrt(4000) = 0.063
    assert abs(acks.mean() - 4.0) < 0.3
    assert (acks > 0).all()


def test_same_rng_state_gives_same_delays(model):
    a = [model.delay_minutes(s, np.random.default_rng(5)) for s in model.steps]
    b = [model.delay_minutes(s, np.random.default_rng(5)) for s in model.steps]
    assert a == b and all(x >= 0 for x in a)


def test_escalation_ladder_comes_from_runbook_and_policy(model, policies_dir):
    assert model.escalate_after_minutes(2) == 30.0
    assert model.escalate_after_minutes(4, "SEV-1") == 0.0
    faster = ResponderModel.from_files(policies_dir / "faster-escalation.yaml", model.runbook.source)
    assert faster.escalate_after_minutes(2) == 15.0
    with pytest.raises(InputError):
        model.escalate_after_minutes(9)


def test_unknown_step_is_an_input_error(model):
    with pytest.raises(InputError):
        model.delay_minutes("dance", np.random.default_rng(0))
