"""Issue 22's slower branch drills, in the chaos lane beside the main suite: the autopilot on the chaos sandbox
takes the decision tree's branch (database down: bring it back and verify "Database connections normal";
unsafe rollback: roll forward, never back) and leaves the sandbox steady."""

from __future__ import annotations

from pathlib import Path

import pytest
from branch_drill_kit import assert_took_the_branch, run_autopilot_drill
from chaos_sandbox import Sandbox, wait_steady

from gameday.journal import EventType

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_database_down_is_brought_back_and_verified_with_its_connections(chaos_sandbox: Sandbox,
                                                                         tmp_path: Path) -> None:
    wait_steady(chaos_sandbox)
    summary = run_autopilot_drill(chaos_sandbox.env, tmp_path / "out", "database-down")
    assert_took_the_branch(summary, ["restart-database"])
    verified = next(e for e in summary["events"] if e.type is EventType.verified)
    assert verified.data["checks"]["database_connections_ok"] is True
    down = [e.data.get("database_up") for e in summary["events"] if e.type is EventType.metric_sample]
    assert 0 in down, "PostgreSQL never read as down"
    wait_steady(chaos_sandbox)


def test_unsafe_rollback_rolls_forward(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    wait_steady(chaos_sandbox)
    summary = run_autopilot_drill(chaos_sandbox.env, tmp_path / "out", "unsafe-rollback")
    assert_took_the_branch(summary, ["roll-forward"])
    wait_steady(chaos_sandbox)


def test_a_rollback_onto_the_migrated_schema_really_breaks_the_old_release(chaos_sandbox: Sandbox) -> None:
    """The decision tree's "NO" is real: v1.2.2 cannot read the schema v1.3.0 migrated, so its patient records
    fail; the fault's revert (roll back, then migrate the schema back) makes them work again."""
    import httpx

    from drills.sandbox.config import HEALTHY_VERSION
    from gameday.releases import MIGRATING
    from gameday.scenario import Fault

    wait_steady(chaos_sandbox)
    target = chaos_sandbox.target
    record = target.inject(Fault.model_validate({"type": "forward-migration"}))
    try:
        assert target.sandbox.deployment().version == MIGRATING.version
        assert httpx.get(f"{target.sandbox.app_url}/api/patients/7", timeout=5).status_code == 200
        assert httpx.get(f"{target.sandbox.app_url}/api/patients", timeout=5).status_code == 500  # its bug
        target.remediate("rollback")
        assert {r.version for r in target.replicas()} == {HEALTHY_VERSION}
        answers = {httpx.get(f"{target.sandbox.app_url}/api/patients/{i}", timeout=5).status_code for i in range(1, 6)}
        assert answers == {500}, f"v1.2.2 on the migrated schema answered {answers}"
    finally:
        target.revert(record)
    assert httpx.get(f"{target.sandbox.app_url}/api/patients/7", timeout=5).status_code == 200
    wait_steady(chaos_sandbox)


def test_a_recurrence_during_the_watch_sends_the_autopilot_back_to_phase_2(chaos_sandbox: Sandbox,
                                                                           tmp_path: Path) -> None:
    wait_steady(chaos_sandbox)
    summary = run_autopilot_drill(chaos_sandbox.env, tmp_path / "out", "recurrence")
    assert_took_the_branch(summary, ["failover-upstream", "failover-upstream"])
    events = summary["events"]
    first_verified = next(i for i, e in enumerate(events) if e.type is EventType.verified)
    came_back = next(i for i, e in enumerate(events) if e.type is EventType.fault_injected and e.data.get("recurrence"))
    again = next(i for i, e in enumerate(events) if e.type is EventType.hypothesis and i > came_back)
    resolved = next(i for i, e in enumerate(events) if e.type is EventType.resolved)
    assert first_verified < came_back < again < resolved
    assert [e.data["ok"] for e in events if e.type is EventType.fault_reverted] == [True, True]
    wait_steady(chaos_sandbox)
