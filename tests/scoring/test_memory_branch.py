"""The memory leak's branch on crafted journals (``decision_branch``): rolling the leaking release back with no pod
OOMKilled at verification passes; a restart instead of the rollback, or pods still OOMKilled (or not measured)
when resolution was verified, fails with one line naming the runbook's step.  Real writer, real scoring engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from branch_journals import branch_journal, decision_branch

from gameday.scoring import Status

SCENARIO = {"kind": "scenario", "name": "memory-leak", "title": "x", "expected_severity": "SEV-2",
            "user_facing": True, "rollback_safe": True, "safe_remediations": ["rollback"],
            "expected_alerts": ["BackendOOMKilled"], "fault": {"type": "memory-leak"}}
NO_SAMPLE = object()


def _journal(path: Path, actions: list[tuple[str, str]], oom_killed: Any) -> Path:
    """``actions`` (name, kind) from minute 10; ``oom_killed`` in every sample from minute 30, 2 before
    (``NO_SAMPLE``: the key is absent)."""
    timed = [(name, kind, 10 + i) for i, (name, kind) in enumerate(actions)]

    def sample(minute: int) -> dict[str, Any]:
        return {} if oom_killed is NO_SAMPLE else {"oom_killed": oom_killed if minute >= 30 else 2.0}

    return branch_journal(path, SCENARIO, "v1.2.6 leaks memory", timed, sample)


def test_rolling_back_with_no_pod_oom_killed_at_verification_passes(tmp_path: Path) -> None:
    check = decision_branch(_journal(tmp_path / "j.jsonl", [("rollback", "rollback")], 0.0))
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
    check = decision_branch(_journal(tmp_path / "j.jsonl", actions, oom_killed))
    assert check.status is Status.failed
    assert check.feedback.startswith(says) and "\n" not in check.feedback, check.feedback
