"""Issue 22's autopilot drills on the sandbox, shared by the main suite (tests/drills) and the chaos lane
(tests/chaos): run a shipped scenario with the autopilot at a high time scale as a user would start it, then
check that it took the scenario's branch of the decision tree, as the scorer judges it, and reverted its fault."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
#: Runbook seconds per wall second: the 30-minute stability watch takes 6 s, a drill about 45 s.
TIME_SCALE = "300"


def run_autopilot_drill(env: dict[str, str], out: Path, scenario: str, timeout: float = 420) -> dict[str, Any]:
    """``gameday drill run scenarios/<scenario>.yaml --responder autopilot``; its summary (journal events under
    ``events``, the score under ``score``)."""
    from gameday_testkit import finish_drill

    from gameday.journal import read_journal
    from gameday.scoring import score_journal

    proc = subprocess.Popen(
        [GAMEDAY, "drill", "run", str(REPO / "scenarios" / f"{scenario}.yaml"), "--target", "local", "--out",
         str(out), "--responder", "autopilot", "--time-scale", TIME_SCALE, "--seed", "5", "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    output = finish_drill(proc, timeout)
    assert proc.returncode == 0, f"drill failed:\n{output[-4000:]}"
    summary = json.loads(next(out.glob("*/summary.json")).read_text())
    assert summary["outcome"] == "closed" and summary["pending_after"] == [], summary
    summary["events"] = read_journal(summary["journal"])
    (summary["score"],) = score_journal(summary["journal"]).incidents
    return summary


def assert_took_the_branch(summary: dict[str, Any], actions: list[str]) -> None:
    """The autopilot's actions were ``actions`` in that order, the expected alert fired, the declared severity is
    the scenario's, and the scorer's branch checks pass on the journal."""
    from gameday.journal import EventType

    events = summary["events"]
    scenario = next(e for e in events if e.type is EventType.journal_started).data["scenario"]
    taken = [e.data["action"] for e in events if e.type is EventType.action]
    assert taken == actions, taken
    fired = {e.data["alertname"] for e in events if e.type is EventType.alert_firing}
    assert fired & set(scenario["expected_alerts"]), f"none of {scenario['expected_alerts']} fired ({fired})"
    declared = [e.data["severity"] for e in events if e.type is EventType.severity_declared]
    assert declared == [scenario["expected_severity"]], declared
    checks = {c.id: c for c in summary["score"].checks}
    for check_id in ("decision_branch", "remediation_choice", "verification_true", "severity_matches"):
        assert checks[check_id].status.value == "pass", (check_id, checks[check_id].feedback)
    reverted = [e for e in events if e.type is EventType.fault_reverted]
    assert reverted and all(e.data["ok"] for e in reverted), reverted
