"""The node-loss branch on crafted journals (``decision_branch``): bringing the lost node back (``restore-node``)
before resolving passes; resolving with the backend still short of a node, or restoring it only after the
resolution, fails with one line naming the runbook's step.  Real writer, real scoring engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gameday.journal import EventType, JournalWriter
from gameday.scoring import Status, score_journal

E = EventType
SCENARIO = {"kind": "scenario", "name": "node-loss", "title": "x", "expected_severity": "SEV-3",
            "user_facing": False, "rollback_safe": False, "safe_remediations": ["restore-node"],
            "expected_alerts": ["BackendDown"], "fault": {"type": "node-loss"}, "targets": ["kubernetes"]}


def _journal(path: Path, actions: list[tuple[str, str, int]]) -> Path:
    """A hypothesis, ``actions`` (name, kind, minute), verified at 40, resolved at 71 after the watch."""
    with JournalWriter(path, "drill-1", durable=False) as j:
        j.emit(E.journal_started, "runner", {"source": "drill", "time_scale": 1.0, "scenario": SCENARIO}, t=0)
        j.emit(E.fault_injected, "runner", {"fault": "node-loss"}, t=60)
        for minute in range(80):
            j.emit(E.metric_sample, "prometheus", {"error_rate": 0.0, "p95_seconds": 0.1, "replicas_ready": 3,
                                                   "replicas_desired": 3}, t=minute * 60 + 30)  # fmt: skip
        j.emit(E.hypothesis, "alice", {"text": "worker 2 is NotReady"}, t=5 * 60)
        for name, kind, minute in actions:
            j.emit(E.action, "alice", {"action": name, "kind": kind}, t=minute * 60)
        for minute, kind in ((40, E.verified), (71, E.resolved), (72, E.closed)):
            j.emit(kind, "alice", {}, t=minute * 60)
    return path


def _branch(path: Path) -> Any:
    (incident,) = score_journal(path).incidents
    return next(c for c in incident.checks if c.id == "decision_branch")


def test_bringing_the_lost_node_back_before_resolving_passes(tmp_path: Path) -> None:
    check = _branch(_journal(tmp_path / "j.jsonl", [("restore-node", "restore-node", 10)]))
    assert check.status is Status.passed, check.feedback
    assert "the lost node brought back (restore-node) before resolving" in check.expected


@pytest.mark.parametrize("actions", [
    [("restart", "restart", 10)],  # the pods replaced, the node left down
    [("restart", "restart", 10), ("restore-node", "restore-node", 75)],  # brought back only after resolving
])  # fmt: skip
def test_resolving_short_of_a_node_fails_in_one_line_naming_the_step(tmp_path: Path,
                                                                     actions: list[tuple[str, str, int]]) -> None:
    check = _branch(_journal(tmp_path / "j.jsonl", actions))
    assert check.status is Status.failed
    assert check.feedback.startswith("Step 3.2: the lost worker node was not brought back (restore-node) before "
                                     "resolving") and "\n" not in check.feedback, check.feedback
