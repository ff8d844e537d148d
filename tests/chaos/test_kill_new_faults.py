"""kill -9 of a drill holding one of issue 22's faults, at the moments that matter for each: the fault in effect,
the runner's own revert under way (a rollout back, a schema migrated back), a team's maintenance mode on.  The
next ``gameday`` start must revert it (``fault_reverted`` by ``recovery`` in the dead drill's journal) and the
sandbox must be steady again: v1.2.2 everywhere, knobs (timeout, maintenance) at their defaults, PostgreSQL up,
the schema back to ``patients.ward``, no appointment booked twice (``chaos_sandbox.steady_problems``)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from chaos_sandbox import Sandbox, deployment_cause, short_scenario, start_drill, strict_journal, wait_steady

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

#: scenario, the moment of the kill
CASES = [
    ("bad-config", "fault in effect"),
    ("database-down", "fault in effect"),
    ("unsafe-rollback", "fault in effect"),  # the schema migrated forward by v1.3.0's pods
    ("unsafe-rollback", "during the runner's revert"),  # rolled back, schema maybe not yet
    ("data-corruption", "in maintenance mode"),  # a responder took the system offline, doubled rows in the table
]


@pytest.mark.timeout(240 * len(CASES))
def test_sigkill_with_a_new_fault_is_cleaned_up_by_the_next_start(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    box = chaos_sandbox
    for index, (name, moment) in enumerate(CASES):
        scenario = short_scenario(name, tmp_path)
        drill = start_drill(box, scenario, tmp_path / f"kill-{index}-{name}", seed=index)
        drill.wait_until(lambda d=drill: d.has("note", "record"), "the fault applied")
        if moment == "during the runner's revert":
            drill.proc.send_signal(signal.SIGTERM)
            drill.wait_until(lambda: deployment_cause(box).startswith("revert"), "the runner's revert", period=0.01)
            time.sleep(0.3)
        elif moment == "in maintenance mode":
            time.sleep(2.0)  # v1.2.5 rolls out and books twice
            done = box.gameday("sandbox", "remediate", "maintenance-on", "--actor", "alice")
            assert done.returncode == 0, done.stderr
        else:
            time.sleep(1.5)
        left = box.pending()
        drill.proc.send_signal(signal.SIGKILL)
        drill.proc.wait(30)
        context = f"{name} killed {moment}"
        events = strict_journal(drill.journal) if drill.journal else []
        runner_done = any(e["type"] == "fault_reverted" and e["actor"] == "runner" for e in events)
        if not (moment == "during the runner's revert" and runner_done):  # else the revert beat the kill
            assert [r.fault.value for r in left] == [drill_fault(scenario)], f"{context}: pending {left}"

        nxt = box.gameday("sandbox", "status")
        assert nxt.returncode == 0, nxt.stderr
        assert box.pending() == [], f"{context}: a fault is still recorded as injected"
        events = strict_journal(drill.journal) if drill.journal else []
        recovered = [e for e in events if e["type"] == "fault_reverted" and e["actor"] == "recovery"]
        if left:
            assert f"reverted {left[0].fault.value}" in nxt.stderr, f"{context}: recovery said {nxt.stderr!r}"
            assert [e["data"]["ok"] for e in recovered] == [True], f"{context}: {recovered}"
        wait_steady(box)


def drill_fault(scenario: Path) -> str:
    import yaml

    return str(yaml.safe_load(scenario.read_text(encoding="utf-8"))["fault"]["type"])
