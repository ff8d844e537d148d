"""The autopilot escalates while the service is not restored, as the runbook and the simulator say.

The runbook escalates to get the problem fixed ("Escalate/Get SME" when no root cause is found; "if unresolved
after X min" on the ladder); the simulator pages a rung, or notifies the business, only when that comes due
before the restore (the verification the stability watch confirmed).  So the autopilot pages nobody during the
stability watch: a page due then goes out only if the watch fails (at once, then), never if it holds.

The escalation process runs on a plain (not real-time) SimPy clock; a small driver process plays the rest of
the response (the verification, the watch's verdict) by setting the autopilot's ``restored``/``resolved``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy

from drills.autopilot import Autopilot
from gameday.files import load_model
from gameday.journal import EventType
from gameday.runbook import load_runbook
from gameday.scenario import Scenario
from sim.responder import ResponderModel

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "scenarios" / "policies" / "baseline.yaml"
#: Runbook minutes per wall second: one poll (0.5 wall s) is 0.05 runbook minutes.
TIME_SCALE = 6.0


class Unhealthy:
    """The dashboards during an outage (only the CEO's "if > 2 hour outage" looks)."""

    def blind(self) -> bool:  # Prometheus answers
        return False

    def health(self, since: datetime | None = None) -> tuple[bool, dict[str, Any]]:
        return False, {}


def escalations(scenario_file: str, timeline: list[tuple[float, bool, bool]], until: float = 300.0
                ) -> list[tuple[float, EventType, Any]]:
    """Run the autopilot's ladder from acknowledgement (minute 0) while ``timeline`` sets, at each minute,
    (restored, resolved); returns (minute, event, level or who) of what it emitted."""
    scenario = load_model(ROOT / "scenarios" / scenario_file, Scenario)
    pilot = Autopilot(runbook=load_runbook(), scenario=scenario, model=ResponderModel.from_files(BASELINE),
                      target=None, journal=None, view=Unhealthy(),  # type: ignore[arg-type]
                      time_scale=TIME_SCALE, rng=np.random.default_rng(1))
    pilot.env = env = simpy.Environment()
    log: list[tuple[float, EventType, Any]] = []
    pilot.emit = lambda kind, data=None: log.append((env.now, kind, (data or {}).get("level") or (data or {})["who"]))

    def respond():
        for at, restored, resolved in timeline:
            yield env.timeout(at - env.now)
            pilot.restored, pilot.resolved = restored, resolved

    env.process(respond())
    env.process(pilot._escalations(0.0))
    env.run(until=until)
    return log


def pages(log: list[tuple[float, EventType, Any]]) -> list[tuple[float, int]]:
    return [(round(t, 1), level) for t, kind, level in log if kind is EventType.escalated]


def test_the_ladder_climbs_while_the_service_is_down() -> None:
    """SEV-2 (error-burst): L2 after 30 min, L3 after 1 h, L4 after 2 h, all from acknowledgement."""
    assert pages(escalations("error-burst.yaml", [])) == [(30.0, 2), (60.0, 3), (120.0, 4)]


def test_nobody_is_paged_during_a_stability_watch_that_holds() -> None:
    """Verified at 20 min; L2 comes due (30) during the 30-minute watch, which holds (50): no page, as the
    simulator counts none after the restore.  (Before, the autopilot paged L2 at 30 and L3 never.)"""
    assert pages(escalations("error-burst.yaml", [(20.0, True, False), (50.0, True, True)])) == []


def test_a_failed_watch_brings_the_ladder_back_at_once() -> None:
    """Verified at 20, the problem back at 45: L2 (due at 30) is paged then; L3 at 60 as usual; verified again
    at 70, the watch holds at 100, so L4 (due at 120) is never paged."""
    timeline = [(20.0, True, False), (45.0, False, False), (70.0, True, False), (100.0, True, True)]
    got = pages(escalations("error-burst.yaml", timeline))
    assert [level for _, level in got] == [2, 3]
    assert got[0][0] == pytest.approx(45.0, abs=0.1) and got[1][0] == pytest.approx(60.0, abs=0.1)


def test_business_notifications_wait_for_the_watch_too() -> None:
    """User-facing SEV-1 (connection-pool-leak): the product manager and support lead at once, L4 at once
    (the runbook's "or SEV-1"); VP Product (30 min) falls in a watch that holds: not notified, as the simulator
    notifies only when the outage lasted longer than the minutes."""
    log = escalations("connection-pool-leak.yaml", [(20.0, True, False), (50.0, True, True)])
    notified = [who for t, kind, who in log if kind is EventType.notified]
    assert pages(log) == [(0.0, 4)]
    assert "VP Product" not in notified and len(notified) == 2, notified
