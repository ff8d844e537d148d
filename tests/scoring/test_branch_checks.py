"""The decision tree's branches on crafted journals: the right branch passes, each wrong one fails with one line
naming the runbook's step (``decision_branch``, gameday/scoring/checks_branches.py; the rollback question is
``remediation_choice``'s).  Journals are written with the real writer and scored by the real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gameday.journal import EventType, JournalWriter
from gameday.scoring import Status, score_journal

E = EventType


def _journal(tmp_path: Path, scenario: dict[str, Any], steps: list[tuple[float, EventType, dict[str, Any]]],
             violations: float | None = 0.0, database_up: float | None = 1.0, waiting: float = 0.0) -> Path:
    """A drill journal: the scenario, a fault, samples every runbook minute (the given readings), then ``steps``
    (runbook minutes, type, data)."""
    path = tmp_path / "journal.jsonl"
    base = {"kind": "scenario", "name": "x", "title": "x", "expected_severity": "SEV-1", "user_facing": True,
            "rollback_safe": True, "safe_remediations": ["rollback"]}
    with JournalWriter(path, "drill-1", durable=False) as j:
        j.emit(E.journal_started, "runner", {"source": "drill", "time_scale": 1.0, "scenario": {**base, **scenario}},
               t=0)
        j.emit(E.fault_injected, "runner", {"fault": scenario["fault"]["type"]}, t=60)
        for minute in range(0, 80):
            j.emit(E.metric_sample, "prometheus", {
                "error_rate": 0.0, "p95_seconds": 0.1, "replicas_ready": 3, "replicas_desired": 3,
                "integrity_violations": violations, "database_up": database_up, "pool_waiting": waiting},
                t=minute * 60 + 30)
        for minute, kind, data in steps:
            j.emit(kind, "alice", data, t=minute * 60)
    return path


def _check(path: Path, check_id: str) -> Any:
    (incident,) = score_journal(path).incidents
    return next(c for c in incident.checks if c.id == check_id)


def _act(minute: float, name: str, kind: str | None = None) -> tuple[float, EventType, dict[str, Any]]:
    return minute, E.action, {"action": name, "kind": kind or name}


DATA = {"fault": {"type": "data-corruption"}, "data_at_risk": True,
        "safe_remediations": ["maintenance-on", "rollback", "repair-data", "maintenance-off"]}
VERIFY_AND_CLOSE = [(40, E.verified, {}), (71, E.resolved, {}), (72, E.closed, {})]


def test_data_at_risk_offline_repair_restore_passes(tmp_path: Path) -> None:
    steps = [(5, E.hypothesis, {"text": "v1.2.5 doubles bookings"}), _act(10, "maintenance-on"),
             _act(11, "rollback"), _act(12, "repair-data"), _act(13, "maintenance-off"), *VERIFY_AND_CLOSE]
    check = _check(_journal(tmp_path, DATA, steps), "decision_branch")
    assert check.status is Status.passed, check.feedback


@pytest.mark.parametrize(("steps", "violations", "says"), [
    # repaired while the system still took writes: the wrong branch of "Is data integrity at risk?"
    ([_act(10, "rollback"), _act(11, "repair-data"), _act(12, "maintenance-on"), _act(13, "maintenance-off")], 0.0,
     "Step 2.3: data integrity at risk → take the system offline (maintenance-on) before repairing the data"),
    ([_act(10, "maintenance-on"), _act(11, "rollback"), _act(13, "maintenance-off")], 0.0,
     "Step 2.3: data integrity at risk → repair the data; no repair-data was taken"),
    ([_act(10, "maintenance-on"), _act(11, "rollback"), _act(12, "repair-data")], 0.0,
     "then restore (maintenance-off)"),
    # the right order, but the database still held doubled rows when the team said it was fixed
    ([_act(10, "maintenance-on"), _act(11, "rollback"), _act(12, "repair-data"), _act(13, "maintenance-off")], 4.0,
     "Step 3.2: the data invariant was broken when resolution was verified (4 appointment(s) booked twice"),
    ([_act(10, "maintenance-on"), _act(11, "rollback"), _act(12, "repair-data"), _act(13, "maintenance-off")], None,
     "Step 3.2: the data invariant was not measured"),
])  # fmt: skip
def test_data_at_risk_wrong_branches_fail_naming_the_step(tmp_path: Path, steps: list, violations: float | None,
                                                          says: str) -> None:
    path = _journal(tmp_path, DATA, [(5, E.hypothesis, {"text": "h"}), *steps, *VERIFY_AND_CLOSE],
                    violations=violations)
    check = _check(path, "decision_branch")
    assert check.status is Status.failed
    assert says in check.feedback and "\n" not in check.feedback


def test_offline_when_data_is_not_at_risk_fails(tmp_path: Path) -> None:
    scenario = {"fault": {"type": "config-change"}, "safe_remediations": ["revert-config"]}
    steps = [(5, E.hypothesis, {"text": "h"}), _act(10, "maintenance-on"), _act(11, "revert-config", "rollback"),
             _act(12, "maintenance-off"), *VERIFY_AND_CLOSE]
    check = _check(_journal(tmp_path, scenario, steps), "decision_branch")
    assert check.status is Status.failed
    assert check.feedback.startswith("Step 2.3: data integrity was not at risk → fix while keeping partial service")
    fine = [(5, E.hypothesis, {"text": "h"}), _act(10, "revert-config", "rollback"), *VERIFY_AND_CLOSE]
    (tmp_path / "ok").mkdir()
    assert _check(_journal(tmp_path / "ok", scenario, fine), "decision_branch").status is Status.passed


def test_a_rollback_onto_a_forward_only_migration_is_the_wrong_branch(tmp_path: Path) -> None:
    scenario = {"fault": {"type": "forward-migration"}, "rollback_safe": False, "safe_remediations": ["roll-forward"]}
    wrong = [(5, E.hypothesis, {"text": "h"}), _act(10, "rollback"), *VERIFY_AND_CLOSE]
    check = _check(_journal(tmp_path, scenario, wrong), "remediation_choice")
    assert check.status is Status.failed
    assert check.feedback == ("Step 2.3: can we roll back safely? NO → ship a hotfix or a workaround; "
                              "the team rolled back.")
    right = [(5, E.hypothesis, {"text": "h"}), _act(10, "roll-forward"), *VERIFY_AND_CLOSE]
    (tmp_path / "ok").mkdir()
    assert _check(_journal(tmp_path / "ok", scenario, right), "remediation_choice").status is Status.passed


@pytest.mark.parametrize(("up", "waiting", "ok"), [(1.0, 0.0, True), (0.0, 0.0, False), (1.0, 5.0, False),
                                                   (None, 0.0, False)])
def test_database_connections_normal_at_verification(tmp_path: Path, up: float | None, waiting: float,
                                                      ok: bool) -> None:
    scenario = {"fault": {"type": "database-down"}, "rollback_safe": False, "safe_remediations": ["restart-database"]}
    steps = [(5, E.hypothesis, {"text": "h"}), _act(10, "restart-database", "restart"), *VERIFY_AND_CLOSE]
    check = _check(_journal(tmp_path, scenario, steps, database_up=up, waiting=waiting), "decision_branch")
    assert (check.status is Status.passed) is ok, check.feedback
    if not ok:
        assert check.feedback.startswith("Step 3.2: 'Database connections normal' did not hold")


def test_a_recurrence_during_the_watch_must_send_the_team_back_to_phase_2(tmp_path: Path) -> None:
    scenario = {"fault": {"type": "error-burst"}, "rollback_safe": False, "safe_remediations": ["failover-upstream"],
                "expected_alerts": ["HighErrorRate"]}
    came_back = (50, E.alert_firing, {"alertname": "HighErrorRate"})
    blip = [(5, E.hypothesis, {"text": "h"}), _act(10, "failover-upstream"), (40, E.verified, {}),
            (50, E.alert_firing, {"alertname": "HighLatencyP95"}), (71, E.resolved, {}), (72, E.closed, {})]
    (tmp_path / "blip").mkdir()
    assert _check(_journal(tmp_path / "blip", scenario, blip), "decision_branch").status is Status.passed
    resolved_anyway = [(5, E.hypothesis, {"text": "h"}), _act(10, "failover-upstream"), (40, E.verified, {}),
                       came_back, (71, E.resolved, {}), (72, E.closed, {})]
    check = _check(_journal(tmp_path, scenario, resolved_anyway), "decision_branch")
    assert check.status is Status.failed
    assert check.feedback.startswith("Step 3.3: the problem came back during the stability watch (HighErrorRate)")
    back_to_phase_2 = [(5, E.hypothesis, {"text": "h"}), _act(10, "failover-upstream"), (40, E.verified, {}),
                       came_back, (52, E.hypothesis, {"text": "it came back"}), _act(54, "failover-upstream"),
                       (58, E.verified, {}), (89, E.resolved, {}), (90, E.closed, {})]
    (tmp_path / "ok").mkdir()
    check = _check(_journal(tmp_path / "ok", scenario, back_to_phase_2), "decision_branch")
    assert check.status is Status.passed, check.feedback
    assert "back to Phase 2" in check.expected
