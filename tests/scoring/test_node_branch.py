"""The node-loss branch on crafted journals (``decision_branch``): bringing the lost node back (``restore-node``)
before resolving passes; resolving with the backend still short of a node, or restoring it only after the
resolution, fails with one line naming the runbook's step.  Real writer, real scoring engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from branch_journals import branch_journal, decision_branch

from gameday.scoring import Status

SCENARIO = {"kind": "scenario", "name": "node-loss", "title": "x", "expected_severity": "SEV-3",
            "user_facing": False, "rollback_safe": False, "safe_remediations": ["restore-node"],
            "expected_alerts": ["BackendDown"], "fault": {"type": "node-loss"}, "targets": ["kubernetes"]}


def _journal(path: Path, actions: list[tuple[str, str, int]]) -> Path:
    return branch_journal(path, SCENARIO, "worker 2 is NotReady", actions)


def test_bringing_the_lost_node_back_before_resolving_passes(tmp_path: Path) -> None:
    check = decision_branch(_journal(tmp_path / "j.jsonl", [("restore-node", "restore-node", 10)]))
    assert check.status is Status.passed, check.feedback
    assert "the lost node brought back (restore-node) before resolving" in check.expected


@pytest.mark.parametrize("actions", [
    [("restart", "restart", 10)],  # the pods replaced, the node left down
    [("restart", "restart", 10), ("restore-node", "restore-node", 75)],  # brought back only after resolving
])  # fmt: skip
def test_resolving_short_of_a_node_fails_in_one_line_naming_the_step(tmp_path: Path,
                                                                     actions: list[tuple[str, str, int]]) -> None:
    check = decision_branch(_journal(tmp_path / "j.jsonl", actions))
    assert check.status is Status.failed
    assert check.feedback.startswith("Step 3.2: the lost worker node was not brought back (restore-node) before "
                                     "resolving") and "\n" not in check.feedback, check.feedback
