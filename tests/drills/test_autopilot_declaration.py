"""The autopilot declares an incident the way the runbook model classifies its steps (and the scorer reads them).

The autopilot's generator runs on a plain (not real-time) SimPy clock here: its decisions, not the wall clock,
are under test.  Target and dashboards are not needed for the declaration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy

from drills.autopilot import Autopilot
from gameday.files import load_model
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.runbook import load_runbook
from gameday.scenario import Scenario
from sim.responder import ResponderModel, status_update_gap

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "policies" / "baseline.yaml"


def _declare(tmp_path: Path, user_facing: bool) -> list:
    runbook = load_runbook()
    scenario = load_model(ROOT / "scenarios" / "connection-pool-leak.yaml", Scenario)
    scenario = scenario.model_copy(update={"user_facing": user_facing})
    assert scenario.expected_severity == "SEV-1"
    journal = JournalWriter(tmp_path / "journal.jsonl", "drill-1", durable=False)
    pilot = Autopilot(runbook=runbook, scenario=scenario, model=ResponderModel.from_files(BASELINE), target=None,
                      journal=journal, view=None, time_scale=60.0, rng=np.random.default_rng(1))
    pilot.env = simpy.Environment()
    pilot.env.process(pilot._declare())
    pilot.env.run()
    journal.close()
    return [e for e in read_journal(journal.path)]


@pytest.mark.parametrize("user_facing", [True, False])
def test_declaration_steps_become_the_classified_events(tmp_path: Path, user_facing: bool) -> None:
    events = _declare(tmp_path, user_facing)
    steps = [(e.type, e.data.get("kind")) for e in events if "step" in e.data]
    expected = [
        (EventType.status_update, "announce"),
        (EventType.war_room_created, "war_room"),
        (EventType.paged, "page"),
    ]
    if user_facing:
        expected.append((EventType.status_update, "status_page"))
    assert steps == expected
    roles = [e.data["role"] for e in events if e.type is EventType.role_assigned]
    assert roles[:2] == ["IC", "TL"]  # the roles the declaration template names, whatever the policy staffs


def test_status_update_gap_is_the_simulators_rule() -> None:
    """Reminder at cadence minus the typical writing time, then the draw: late only by a slow draw."""
    assert status_update_gap(15.0, 2.0, 2.0) == 15.0
    assert status_update_gap(15.0, 5.0, 2.0) == 18.0
    assert status_update_gap(1.0, 0.5, 2.0) == 0.5  # the reminder cannot be set in the past
    model = ResponderModel.from_files(BASELINE)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    typical = float(model.policy.steps.status_update.mean())
    writing = model.delay_minutes("status_update", rng_b, severity="SEV-1")
    assert model.status_update_gap_minutes("SEV-1", rng_a) == pytest.approx(15.0 - typical + writing)
    assert model.status_update_gap_minutes("SEV-4", rng_a) is None  # "once at close": no cadence
