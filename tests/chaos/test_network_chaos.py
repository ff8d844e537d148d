"""The network fault in the chaos lane: the autopilot takes the decision tree's branch for a partition (no
rollback: fail over the network path, verified with the path answering), and a drill holding the fault that is
ended by SIGTERM or killed with SIGKILL leaves no toxic behind (the runner reverts; after kill -9 the next
``gameday`` start does, journaled by ``recovery`` in the dead drill's journal)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from branch_drill_kit import assert_took_the_branch, run_autopilot_drill
from chaos_sandbox import Sandbox, short_scenario, start_drill, strict_journal, wait_steady

from drills.sandbox.toxiproxy import LINKS, Toxiproxy
from gameday.journal import EventType

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]
#: After a partition the backends' pools reconnect on their own back-off (psycopg_pool doubles its wait after
#: each connect the partition made fail), so the pools are whole again up to about twice the partition later.
AFTER_PARTITION_S = 240.0


def toxics(box: Sandbox) -> dict[str, list[str]]:
    proxy = Toxiproxy(box.target.sandbox.toxiproxy_url)
    return {link: names for link in LINKS if (names := [t["name"] for t in proxy.toxics(link)])}


def test_a_partition_is_failed_over_not_rolled_back(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    wait_steady(chaos_sandbox)
    summary = run_autopilot_drill(chaos_sandbox.env, tmp_path / "out", "network-partition")
    assert_took_the_branch(summary, ["failover-network"])
    events = summary["events"]
    fired = {e.data["alertname"] for e in events if e.type is EventType.alert_firing}
    assert "DependencyUnreachable" in fired, fired
    assert 0 in [e.data.get("network_ok") for e in events if e.type is EventType.metric_sample]
    verified = next(e for e in events if e.type is EventType.verified)
    assert verified.data["checks"]["network_path_ok"] is True
    assert toxics(chaos_sandbox) == {}
    wait_steady(chaos_sandbox, AFTER_PARTITION_S)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_drill_ended_holding_the_partition_leaves_no_toxic(chaos_sandbox: Sandbox, tmp_path: Path,
                                                             signum: signal.Signals) -> None:  # fmt: skip
    box = chaos_sandbox
    wait_steady(box)
    drill = start_drill(box, short_scenario("network-partition", tmp_path), tmp_path / "drill", seed=3)
    drill.wait_until(lambda: drill.has("note", "record"), "the fault applied")
    time.sleep(1.5)
    assert set(toxics(box)) == {"pgbouncer"}, "the partition is not on the link"
    assert [r.fault.value for r in box.pending()] == ["network"]
    drill.proc.send_signal(signum)
    drill.proc.wait(120)
    assert drill.journal is not None
    if signum == signal.SIGKILL:
        assert toxics(box) != {}, "nothing reverted a drill killed with SIGKILL: the next start must"
        nxt = box.gameday("sandbox", "status")
        assert nxt.returncode == 0, nxt.stderr
        assert "reverted network" in nxt.stderr, nxt.stderr
    reverted = [e for e in strict_journal(drill.journal) if e["type"] == "fault_reverted"]
    actor = "recovery" if signum == signal.SIGKILL else "runner"
    assert [(e["actor"], e["data"]["ok"]) for e in reverted] == [(actor, True)], reverted
    assert box.pending() == [] and toxics(box) == {}
    wait_steady(box, AFTER_PARTITION_S)
