"""Exact event trace of a tiny, fully deterministic case: every minute is computed by hand."""

from __future__ import annotations

import pytest

from gameday.journal import read_journal
from sim.journal_out import write_journal
from sim.kernel import run_replication
from sim.model import compile_model
from sim.policy import Policy


def fixed(value: float) -> dict:
    return {"dist": "fixed", "value": value}


@pytest.fixture()
def tiny(seed_runbook):
    policy = Policy.model_validate({
        "kind": "policy",
        "name": "tiny",
        "arrivals_per_day": {"SEV-1": 1.0},
        "detection": {"alert_probability": 0.0, "user_report": fixed(10)},
        "responders": {"oncall": 1, "answer_probability": 1.0, "ack": fixed(2)},
        "steps": {"assess": fixed(3), "declare": fixed(1), "assemble": fixed(4), "war_room": fixed(2),
                  "hypothesis": fixed(1), "investigate": fixed(5), "rollback": fixed(6), "verify": fixed(2),
                  "close": fixed(5), "review": fixed(60)},
        "decisions": {"root_cause_probability": 1.0, "rollback_probability": 1.0, "rollback_success": 1.0,
                      "recurrence_probability": 0.0},
        "escalation": {"levels": [{"level": 4, "answer_probability": 1.0, "ack": fixed(7)}]},
    })
    return compile_model(policy, seed_runbook)


def test_exact_trace_of_one_incident(tiny, tmp_path):
    rep = run_replication(tiny, 1, seed=1, trace=True)
    path = tmp_path / "tiny.jsonl"
    write_journal(path, tiny, [(0, rep)])
    events = read_journal(path)
    assert events[0].type.value == "journal_started"
    assert events[0].data["source"] == "sim" and events[0].data["time_scale"] == 1.0
    t0 = rep.arrival[0]
    got = [(round(e.t / 60 - t0, 9), e.type.value, e.data.get("step", e.data.get("level", ""))) for e in events[1:]]
    # detected 10, ack +2 = 12; assess 3 -> 15, declare 1 -> 16, assemble 4 -> 20, war room 2 -> 22,
    # investigate 1+5 -> 28, rollback 6 -> 34, verify 2 -> 36 (restored), watch 30 (seed runbook) -> 66
    # (resolved: gameday.metrics), close 5 -> 71, review 60 -> 131.  SEV-1 pages L4 at once (runbook:
    # "or SEV-1"); L2 (+30) and L3 (+60) come after the restore at 36 and are never paged.
    expected = [
        (0, "incident_started", ""),
        (10, "detected", ""),
        (10, "paged", 1),
        (12, "acknowledged", ""),
        (12, "escalated", 4),
        (12, "step_started", "Assess Severity"),
        (15, "step_finished", "Assess Severity"),
        (15, "step_started", "Declare Incident"),
        (16, "step_finished", "Declare Incident"),
        (16, "severity_declared", 1),
        (16, "step_started", "Assemble Response Team"),
        (20, "step_finished", "Assemble Response Team"),
        (20, "step_started", "Create War Room"),
        (22, "step_finished", "Create War Room"),
        (22, "war_room_created", ""),
        (22, "step_started", "Investigate & Diagnose"),
        (22, "hypothesis", ""),
        (28, "step_finished", "Investigate & Diagnose"),
        (28, "step_started", "Implement Fix"),
        (31, "status_update", ""),  # SEV-1 updates every 15 min (seed runbook) from declaration at 16
        (34, "step_finished", "Implement Fix"),
        (34, "action", ""),
        (34, "mitigated", ""),
        (34, "step_started", "Verify Resolution"),
        (36, "step_finished", "Verify Resolution"),
        (36, "verified", ""),
        (36, "step_started", "Monitor Stability"),
        (46, "status_update", ""),  # updates go on through the watch, until resolved
        (61, "status_update", ""),
        (66, "step_finished", "Monitor Stability"),
        (66, "resolved", ""),
        (66, "step_started", "Close Incident"),
        (71, "step_finished", "Close Incident"),
        (71, "closed", ""),
        (71, "step_started", "Post-Incident Review"),
        (131, "step_finished", "Post-Incident Review"),
        (131, "postmortem_filed", ""),
    ]
    assert [(pytest.approx(t, abs=1e-6), ty, d) for t, ty, d in expected] == got
    assert rep.declared[0] - t0 == pytest.approx(16)
    assert rep.restored[0] - t0 == pytest.approx(36)


def test_second_incident_queues_behind_the_first(tiny):
    """One on-call: an incident detected while the responder is busy waits until the first is restored."""
    rep = run_replication(tiny, 400, seed=2)
    order = rep.detected.argsort()
    free = 0.0
    for i in order:
        start = max(rep.detected[i], free)
        assert rep.wait[i] == pytest.approx(start - rep.detected[i], abs=1e-9)
        free = start + 26.0  # ack 2 + 24 minutes of work until the restore, every time
    assert (rep.wait > 0).any()
