"""kill -9 of a drill holding the memory leak while its pods are being OOM-killed: the next ``gameday`` start
reverts it (``fault_reverted`` by ``recovery`` in the dead drill's journal), and the sandbox is steady again:
v1.2.2 on every replica, the pace knob at its default, no pod left with an OOMKilled last state."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from chaos_sandbox import Sandbox, short_scenario, start_drill, strict_journal, wait_steady

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def oom_killed(box: Sandbox) -> list[str]:
    sandbox = box.target.sandbox
    return [r.name for r in sandbox.replicas()
            if (sandbox.pod_detail(r.name).get("last_state") or {}).get("reason") == "OOMKilled"]  # fmt: skip


def test_sigkill_while_pods_are_oom_killed_is_cleaned_up_by_the_next_start(chaos_sandbox: Sandbox,
                                                                          tmp_path: Path) -> None:  # fmt: skip
    box = chaos_sandbox
    wait_steady(box)
    drill = start_drill(box, short_scenario("memory-leak", tmp_path), tmp_path / "drill", seed=4)
    drill.wait_until(lambda: drill.has("note", "record"), "the fault applied")
    drill.wait_until(lambda: bool(oom_killed(box)), "a replica OOMKilled", period=0.2)
    assert [r.fault.value for r in box.pending()] == ["memory-leak"]
    drill.proc.send_signal(signal.SIGKILL)
    drill.proc.wait(30)
    assert [r.fault.value for r in box.pending()] == ["memory-leak"], "the kill left nothing to recover?"

    nxt = box.gameday("sandbox", "status")
    assert nxt.returncode == 0, nxt.stderr
    assert "reverted memory-leak" in nxt.stderr, nxt.stderr
    assert box.pending() == []
    assert drill.journal is not None
    recovered = [e for e in strict_journal(drill.journal) if e["type"] == "fault_reverted" and e["actor"] == "recovery"]
    assert [e["data"]["ok"] for e in recovered] == [True], recovered
    wait_steady(box)  # v1.2.2 everywhere, knobs at their defaults
    time.sleep(1.0)
    assert oom_killed(box) == [], "a pod of the healthy release was OOMKilled"
