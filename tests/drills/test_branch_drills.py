"""Issue 22's branches of the decision tree, each an autopilot drill on a fresh sandbox (the database-down and
unsafe-rollback drills run in the chaos lane, tests/chaos/test_branch_drills_chaos.py, beside this suite)."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from branch_drill_kit import assert_took_the_branch, run_autopilot_drill
from test_drill_e2e import assert_nothing_left, sandbox, target_of  # noqa: F401 - sandbox is a fixture

from drills.exporters.database import INTEGRITY_SQL
from drills.sandbox.configs import database_url
from gameday.journal import EventType

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_bad_config_is_reverted_not_rolled_back(sandbox: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    summary = run_autopilot_drill(sandbox, tmp_path / "out", "bad-config")
    assert_took_the_branch(summary, ["revert-config"])
    during = [e.data["error_rate"] or 0.0 for e in summary["events"] if e.type is EventType.metric_sample]
    assert max(during) > 0.05, "the configuration change never pushed the error rate over the alert's 5%"
    assert_nothing_left(sandbox)


def test_data_at_risk_goes_offline_repairs_and_restores(sandbox: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    summary = run_autopilot_drill(sandbox, tmp_path / "out", "data-corruption")
    assert_took_the_branch(summary, ["maintenance-on", "rollback", "repair-data", "maintenance-off"])
    events = summary["events"]
    repaired = next(e for e in events if e.type is EventType.note and e.data.get("action") == "repair-data")
    removed = re.search(r"(\d+) duplicated", repaired.data["text"])
    assert removed and int(removed.group(1)) > 0, f"the release never doubled a booking: {repaired.data['text']}"
    verified = next(e for e in events if e.type is EventType.verified)
    assert verified.data["checks"]["integrity_violations"] == 0  # the exporter's reading of the tables
    with psycopg.connect(database_url(target_of(sandbox).config, direct=True)) as conn:
        assert conn.execute(INTEGRITY_SQL).fetchone() == (0,)
    assert_nothing_left(sandbox)


def test_a_memory_leak_is_rolled_back_after_real_oom_kills(sandbox: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    summary = run_autopilot_drill(sandbox, tmp_path / "out", "memory-leak")
    assert_took_the_branch(summary, ["rollback"])
    events = summary["events"]
    fired = {e.data["alertname"] for e in events if e.type is EventType.alert_firing}
    assert "BackendOOMKilled" in fired, fired
    killed = [e.data.get("oom_killed") or 0 for e in events if e.type is EventType.metric_sample]
    assert max(killed) > 0, "no backend pod was OOMKilled during the drill"
    verified = next(e for e in events if e.type is EventType.verified)
    assert verified.data["checks"]["no_oom_killed"] is True
    assert_nothing_left(sandbox)
