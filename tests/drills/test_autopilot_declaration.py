"""The autopilot declares an incident the way the runbook model classifies its steps (and the scorer reads them).

The autopilot's generator runs on a plain (not real-time) SimPy clock here: its decisions, not the wall clock,
are under test.  Target and dashboards are not needed for the declaration.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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


class Outage:
    """The dashboards during the outage: what the declaration's impact field reads."""

    def blind(self) -> bool:  # Prometheus answers
        return False

    def health(self, since: datetime | None = None) -> tuple[bool, dict[str, Any]]:
        return False, {"error_rate": 0.9059697422570934, "p95_seconds": None}


def _declare(tmp_path: Path, user_facing: bool) -> list:
    runbook = load_runbook()
    scenario = load_model(ROOT / "scenarios" / "connection-pool-leak.yaml", Scenario)
    scenario = scenario.model_copy(update={"user_facing": user_facing})
    assert scenario.expected_severity == "SEV-1"
    journal = JournalWriter(tmp_path / "journal.jsonl", "drill-1", durable=False)
    pilot = Autopilot(
        runbook=runbook,
        scenario=scenario,
        model=ResponderModel.from_files(BASELINE),
        target=None,
        journal=journal,
        view=Outage(),
        time_scale=60.0,  # type: ignore[arg-type]
        rng=np.random.default_rng(1),
    )
    pilot.env = simpy.Environment()
    pilot.env.process(pilot._declare())
    pilot.env.run(until=60)  # the update cadence runs until resolved: an hour of it
    journal.close()
    return [e for e in read_journal(journal.path)]


@pytest.mark.parametrize("user_facing", [True, False])
def test_declaration_steps_become_the_classified_events(tmp_path: Path, user_facing: bool) -> None:
    events = _declare(tmp_path, user_facing)
    steps = [(e.type, e.data["step"]) for e in events if "step" in e.data]
    expected = [
        (EventType.declaration_posted, "Create incident in Slack"),  # the declaration message, in its template
        (EventType.war_room_created, "Create war room channel"),
        (EventType.paged, "Page on-call team"),
    ]
    if user_facing:
        expected.append((EventType.status_page, "Update status page"))  # its first status
    assert steps == expected
    roles = [e.data["role"] for e in events if e.type is EventType.role_assigned]
    assert roles[:2] == ["IC", "TL"]  # the roles the declaration template names, whatever the policy staffs
    assert "CL" in roles  # the autopilot posts the updates and notices: the runbook gives that to the CL
    posted = next(e for e in events if e.type is EventType.declaration_posted)
    assert posted.actor == "autopilot-ic"  # the IC declares
    assert list(posted.data["fields"]) == ["severity", "summary", "impact", "detected", "ic", "tl", "war_room"]
    assert posted.data["fields"]["ic"] == "@autopilot-ic"
    assert posted.data["fields"]["impact"] == "error rate 90.6%"
    assert "**War Room**: #incident-drill-1" in posted.data["message"]
    notices = [e for e in events if e.type is EventType.external_notice]
    pages = [e.data["status"] for e in events if e.type is EventType.status_page]
    if user_facing:  # users are told, within the runbook's 15 min, by the CL
        assert [(e.data["kind"], e.actor) for e in notices] == [("initial", "autopilot-cl")]
        assert notices[0].data["fields"]["current_status"] == "Investigating"
        assert notices[0].data["channels"] == ["Email"]
        assert pages == ["Investigating"]
    else:
        assert notices == [] and pages == []


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


def test_figures_are_written_as_the_runbook_writes_them() -> None:
    """Not "error rate 0.9059697422570934": a percentage with one decimal, p95 in seconds."""
    from drills.autopilot_comms import impact, percent

    assert percent(0.9059697422570934) == "90.6%"
    assert percent(0.004) == "0.4%" and percent(None) == "unknown"
    assert impact({"error_rate": 0.9059697422570934, "p95_seconds": 1.23456}) == "error rate 90.6%, p95 1.23 s"


def test_updates_fill_the_update_template_for_every_channel(tmp_path: Path) -> None:
    runbook = load_runbook()
    scenario = load_model(ROOT / "scenarios" / "connection-pool-leak.yaml", Scenario)
    journal = JournalWriter(tmp_path / "journal.jsonl", "drill-1", durable=False)
    pilot = Autopilot(
        runbook=runbook,
        scenario=scenario,
        model=ResponderModel.from_files(BASELINE),
        target=None,
        journal=journal,
        view=None,
        time_scale=60.0,
        rng=np.random.default_rng(1),
    )
    pilot.env = simpy.Environment()
    first = pilot.comms.update({"error_rate": 0.9059697422570934, "p95_seconds": 2.5}, healthy=False)
    pilot.comms.identified("Roll back backend")
    second = pilot.comms.update({"error_rate": 0.5}, healthy=False)
    journal.close()
    assert first["channels"] == ["Slack", "Status Page", "Email"]
    assert first["message"] == "Update #1: investigating; error rate 90.6%, p95 2.50 s"
    assert list(first["fields"]) == ["time", "number", "status", "summary", "next_update", "impact"]
    assert first["fields"]["next_update"] == (journal.start + timedelta(minutes=15)).strftime("%H:%M UTC")
    assert (second["number"], second["status"]) == (2, "Identified")


def _slow_team(tmp_path: Path, seed: int = 1) -> tuple[Autopilot, list[tuple[float, EventType, dict]]]:
    """An autopilot whose draws would overrun every clock: declaring takes 30 min, writing a notice 20, the
    team assembles in 25 (no role waits); what it emits is logged against its runbook clock."""
    import yaml

    from sim.policy import Policy

    data = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    data["steps"] = {
        "declare": {"dist": "fixed", "value": 30.0},
        "status_update": {"dist": "fixed", "value": 20.0},
        "assemble": {"dist": "fixed", "value": 25.0},
    }
    data["responders"]["roles"] = {}
    runbook = load_runbook()
    scenario = load_model(ROOT / "scenarios" / "connection-pool-leak.yaml", Scenario)
    pilot = Autopilot(
        runbook=runbook,
        scenario=scenario,
        model=ResponderModel(policy=Policy.model_validate(data), runbook=runbook),
        target=None,
        journal=JournalWriter(tmp_path / "journal.jsonl", "drill-1", durable=False),
        view=Outage(),
        time_scale=60.0,
        rng=np.random.default_rng(seed),
    )  # type: ignore[arg-type]
    pilot.env = env = simpy.Environment()
    log: list[tuple[float, EventType, dict]] = []
    pilot.emit = lambda kind, data=None: log.append((env.now, kind, data or {}))  # type: ignore[method-assign]
    return pilot, log


def test_a_slow_draw_is_cut_at_the_runbooks_clock(tmp_path: Path) -> None:
    """The alert is seen at minute 0: SEV-1 is declared by its 15 min response time less one poll (0.5) and the
    2 min margin, users hear 13 min after the declaration (15 less the margin), and the business list's
    "immediately" goes out at the declaration, not after the 25 min assembly.  Each cut is journaled."""
    from drills.autopilot import DEADLINE_MARGIN_MINUTES

    pilot, log = _slow_team(tmp_path)
    pilot.declare_by = pilot._declare_by()
    assert pilot.declare_by == 15.0 - 0.5 - DEADLINE_MARGIN_MINUTES
    pilot.env.process(pilot._declare())
    pilot.env.run(until=60)
    first = {kind: t for t, kind, _ in reversed(log)}
    assert first[EventType.severity_declared] == 12.5
    notice = next(t for t, kind, d in log if kind is EventType.external_notice and d["kind"] == "initial")
    assert notice == 12.5 + 15.0 - DEADLINE_MARGIN_MINUTES
    told = [(t, d["who"]) for t, kind, d in log if kind is EventType.notified]
    assert told[:2] == [(12.5, "Product Manager"), (12.5, "Customer Support Lead")]
    assert first[EventType.role_assigned] == 12.5 + 25.0  # the assembly itself is not cut: no clock on it
    cuts = [d["text"] for _, kind, d in log if kind is EventType.note]
    assert cuts == [
        "declare cut to 12.5 min (drawn 30.0) to keep the runbook's clock: declare SEV-1 within 15 min of detection",
        "status_update cut to 13.0 min (drawn 20.0) to keep the runbook's clock: tell users within 15 min "
        "of the declaration",
    ]


def test_the_declaration_steps_go_out_as_the_incident_is_declared(tmp_path: Path) -> None:
    """Step 1.3, "For SEV-1/SEV-2 incidents, immediately": the #incidents message, the war room, the page and the
    status page at the declaration (minute 12.5), not after the 25 min assembly; the update cadence counts from
    the declaration message (the reminder, 15 min less the typical 20 min of writing, is now; writing takes 20)."""
    pilot, log = _slow_team(tmp_path)
    pilot.declare_by = pilot._declare_by()
    pilot.env.process(pilot._declare())
    pilot.env.run(until=60)
    first = {kind: t for t, kind, _ in reversed(log)}
    for kind in (EventType.declaration_posted, EventType.war_room_created, EventType.paged, EventType.status_page):
        assert first[kind] == first[EventType.severity_declared] == 12.5, kind
    assert first[EventType.role_assigned] == 12.5 + 25.0
    updates = [t for t, kind, _ in log if kind is EventType.status_update]
    assert updates[:2] == [12.5 + 20.0, 12.5 + 40.0]
    kinds = [kind for _, kind, _ in log]
    assert kinds.index(EventType.declaration_posted) < kinds.index(EventType.role_assigned)


def test_cutting_a_step_leaves_every_later_draw_alone(tmp_path: Path) -> None:
    """The delay is drawn whether or not the clock cuts it, so the rest of the drill's draws are the seed's."""
    cut, _ = _slow_team(tmp_path / "a", seed=5)
    kept, _ = _slow_team(tmp_path / "b", seed=5)
    cut.declare_by = 1.0
    for pilot in (cut, kept):
        pilot.env.process(pilot.step("assess", pilot.declare_by))
        pilot.env.run()
    assert cut.env.now == 1.0 < kept.env.now
    assert cut.rng.random() == kept.rng.random()
