"""The autopilot reports every failure of its remediation worker, a bug as well as a refused action.

Pure logic: the target and the view are small stand-ins (the real ones are exercised by the end-to-end
drills); the runbook, policy, scenario and journal are the real ones, on a clock fast enough that the
runbook minutes before the fix pass in milliseconds.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drills.autopilot import Autopilot
from gameday.errors import TargetError
from gameday.files import load_model
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.remediations import Remediation
from gameday.runbook import load_runbook
from gameday.scenario import Scenario
from sim.responder import ResponderModel

ROOT = Path(__file__).resolve().parents[2]


class FailingTarget:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls: list[str] = []

    def remediate(self, action: str, **params: Any) -> str:
        self.calls.append(action)
        raise self.error


class AlwaysFiring:
    """What the autopilot sees: an alert that fires and metrics that never recover."""

    def firing(self) -> list[str]:
        return ["HighErrorRate"]

    def blind(self) -> bool:  # Prometheus answers
        return False

    def health(self, since: datetime | None = None) -> tuple[bool, dict[str, Any]]:  # DrillView.health's
        return False, {"error_rate": 0.5}


def run_autopilot(tmp_path: Path, error: Exception) -> tuple[Autopilot, list[str]]:
    runbook = load_runbook()
    scenario = load_model(ROOT / "scenarios" / "connection-pool-leak.yaml", Scenario)
    model = ResponderModel.from_files(ROOT / "scenarios" / "policies" / "baseline.yaml")
    journal = JournalWriter(tmp_path / "journal.jsonl", "d1")
    target = FailingTarget(error)
    autopilot = Autopilot(runbook=runbook, scenario=scenario, model=model, target=target,  # type: ignore[arg-type]
                          journal=journal, view=AlwaysFiring(), time_scale=600_000.0,  # type: ignore[arg-type]
                          rng=np.random.default_rng(1))  # fmt: skip
    autopilot.start()
    autopilot._thread.join(60)
    assert not autopilot._thread.is_alive(), "the autopilot did not stop after its remediation failed"
    autopilot.stop()
    journal.close()
    assert target.calls == [Remediation.rollback]
    notes = [e.data["text"] for e in read_journal(journal.path) if e.type is EventType.note]
    return autopilot, notes


def test_a_bug_in_the_remediation_worker_is_reported_as_a_crash(tmp_path: Path) -> None:
    autopilot, notes = run_autopilot(tmp_path, RuntimeError("boom"))
    assert isinstance(autopilot.error, RuntimeError) and autopilot.crashed
    assert autopilot.error_text == "RuntimeError: boom"
    assert "autopilot crashed: RuntimeError: boom" in notes


@pytest.mark.parametrize("error", [TargetError("rollout refused")])
def test_a_refused_remediation_is_a_give_up_not_a_crash(tmp_path: Path, error: Exception) -> None:
    autopilot, notes = run_autopilot(tmp_path, error)
    assert autopilot.error is error and not autopilot.crashed
    assert "autopilot gave up: rollout refused" in notes
