"""The memory leak's branch on crafted journals (``decision_branch``): rolling the leaking release back with no pod
OOMKilled at verification passes; a restart instead of the rollback, or pods still OOMKilled (or not measured)
when resolution was verified, fails with one line naming the runbook's step.  Real writer, real scoring engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gameday.journal import EventType, JournalWriter
from gameday.scoring import Status, score_journal

E = EventType
SCENARIO = {"kind": "scenario", "name": "memory-leak", "title": "x", "expected_severity": "SEV-2",
            "user_facing": True, "rollback_safe": True, "safe_remediations": ["rollback"],
            "expected_alerts": ["BackendOOMKilled"], "fault": {"type": "memory-leak"}}
NO_SAMPLE = object()


def _journal(path: Path, actions: list[tuple[str, str]], oom_killed: Any) -> Path:
    """A hypothesis, ``actions`` (name, kind) from minute 10, verified at 40, resolved after the watch; a sample
    every runbook minute with ``oom_killed`` (``NO_SAMPLE``: the key is absent)."""
    with JournalWriter(path, "drill-1", durable=False) as j:
        j.emit(E.journal_started, "runner", {"source": "drill", "time_scale": 1.0, "scenario": SCENARIO}, t=0)
        j.emit(E.fault_injected, "runner", {"fault": "memory-leak"}, t=60)
        for minute in range(80):
            data = {"error_rate": 0.0, "p95_seconds": 0.1, "replicas_ready": 3, "replicas_desired": 3}
            if oom_killed is not NO_SAMPLE:
                data["oom_killed"] = oom_killed if minute >= 30 else 2.0  # pods were OOMKilled before the fix
            j.emit(E.metric_sample, "prometheus", data, t=minute * 60 + 30)
        j.emit(E.hypothesis, "alice", {"text": "v1.2.6 leaks memory"}, t=5 * 60)
        for i, (name, kind) in enumerate(actions):
            j.emit(E.action, "alice", {"action": name, "kind": kind}, t=(10 + i) * 60)
        for minute, kind in ((40, E.verified), (71, E.resolved), (72, E.closed)):
            j.emit(kind, "alice", {}, t=minute * 60)
    return path


def _branch(path: Path) -> Any:
    (incident,) = score_journal(path).incidents
    return next(c for c in incident.checks if c.id == "decision_branch")


def test_rolling_back_with_no_pod_oom_killed_at_verification_passes(tmp_path: Path) -> None:
    check = _branch(_journal(tmp_path / "j.jsonl", [("rollback", "rollback")], 0.0))
    assert check.status is Status.passed, check.feedback
    assert "no pod OOMKilled at verification" in check.expected


@pytest.mark.parametrize(("actions", "oom_killed", "says"), [
    ([("restart", "restart")], 0.0,
     "Step 2.3: can we roll back safely? YES → roll back the leaking release; restarting the pods only frees"),
    ([("rollback", "rollback")], 1.0,
     "Step 3.2: 1 backend pod(s) had last died OOMKilled when resolution was verified"),
    ([("rollback", "rollback")], None, "Step 3.2: whether pods were OOMKilled was not measured"),
])  # fmt: skip
def test_the_wrong_branch_fails_in_one_line_naming_the_step(tmp_path: Path, actions: list[tuple[str, str]],
                                                             oom_killed: float | None, says: str) -> None:
    check = _branch(_journal(tmp_path / "j.jsonl", actions, oom_killed))
    assert check.status is Status.failed
    assert check.feedback.startswith(says) and "\n" not in check.feedback, check.feedback
