"""Ctrl-C and SIGTERM in every phase of a drill, including while the revert itself runs.

The first signal ends the drill and says on screen that the faults are being reverted; a second one does
not skip the revert (it says so too); the exit code is 128 + the signal; the journal records the revert
and the end; the sandbox is back to steady state.  The same holds for the start-up recovery of the next
command when it is interrupted while it reverts what a SIGKILLed drill left.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from chaos_sandbox import (
    Drill,
    Sandbox,
    deployment_cause,
    processes_mentioning,
    record_figures,
    short_scenario,
    start_drill,
    strict_journal,
    wait_steady,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

INT, TERM = signal.SIGINT, signal.SIGTERM
SAYS_REVERTING = "reverting its faults"
SAYS_STILL_REVERTING = "still reverting faults"


def applied(drill: Drill) -> bool:
    return drill.has("note", "record")


def finish(drill: Drill, timeout: float = 180) -> str:
    drill.proc.wait(timeout)
    return drill.output()


def check_clean_end(box: Sandbox, drill: Drill, signum: int, injected: bool) -> list[dict[str, object]]:
    """Exit 128 + signal, no traceback, the journal ends with the revert and drill_ended, nothing left."""
    output = drill.output()
    assert drill.proc.returncode == 128 + signum, f"exit {drill.proc.returncode}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    assert box.pending() == [], "the runner left a fault recorded as injected"
    assert box.markers() == [], "the runner left its active-drill marker"
    assert processes_mentioning(str(drill.out)) == [], "the drill's Locust is still running"
    journal = drill.journal
    assert journal is not None
    events = strict_journal(journal)
    ended = events[-1]
    assert ended["type"] == "drill_ended" and ended["data"]["outcome"] == "interrupted", ended
    reverted = [e for e in events if e["type"] == "fault_reverted"]
    if injected:
        assert SAYS_REVERTING in output, f"the first signal did not say it is reverting:\n{output[-2000:]}"
        assert [(e["actor"], e["data"]["ok"]) for e in reverted] == [("runner", True)], reverted
    else:
        assert reverted == [] and not any(e["type"] == "fault_injected" for e in events)
    wait_steady(box)
    return events


@pytest.mark.parametrize(("phase", "signum", "fault"), [
    ("waiting for steady state", INT, "error-burst"),
    ("blind delay", TERM, "slow-queries"),
    ("during the fault's rollout", INT, "connection-pool-leak"),
    ("fault in effect", TERM, "pgbouncer-down"),
])  # fmt: skip
def test_one_signal_in_a_phase_ends_the_drill_and_reverts(
    phase: str, signum: int, fault: str, chaos_sandbox: Sandbox, tmp_path: Path
) -> None:
    box = chaos_sandbox
    waits_for_steady_state = phase == "waiting for steady state"
    scenario = short_scenario(fault, tmp_path, never_steady=waits_for_steady_state)
    drill = start_drill(box, scenario, tmp_path / "out")
    if waits_for_steady_state:
        drill.wait_until(lambda: "waiting for steady state" in drill.output(), "the wait for steady state")
        time.sleep(0.5)
        assert not drill.has("steady_state"), "the drill stopped waiting for steady state"
    elif phase == "blind delay":
        drill.wait_until(lambda: drill.has("steady_state"), "steady state")
    elif phase == "during the fault's rollout":
        drill.wait_until(lambda: deployment_cause(box).startswith("fault"), "the fault's rollout", period=0.01)
        time.sleep(0.5)
        assert not applied(drill), "the rollout finished before the signal"
    else:
        drill.wait_until(lambda: applied(drill), "the fault applied")
        time.sleep(1.0)
    injected = drill.has("fault_injected")
    drill.proc.send_signal(signum)
    finish(drill)
    check_clean_end(box, drill, signum, injected=injected)
    record_figures(signal_phase=phase, signal=signal.Signals(signum).name, faults_left_behind=0)


def test_second_ctrl_c_during_the_revert_does_not_skip_it(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    box = chaos_sandbox
    drill = start_drill(box, short_scenario("crashloop", tmp_path), tmp_path / "out")
    drill.wait_until(lambda: applied(drill), "the fault applied")
    drill.proc.send_signal(TERM)
    drill.wait_until(lambda: deployment_cause(box).startswith("revert"), "the runner's revert", period=0.01)
    drill.proc.send_signal(INT)
    time.sleep(0.3)
    drill.proc.send_signal(INT)
    output = finish(drill)
    assert SAYS_STILL_REVERTING in output, f"the second signal was not answered on screen:\n{output[-2000:]}"
    check_clean_end(box, drill, TERM, injected=True)
    record_figures(signal_phase="revert, Ctrl-C twice more", signal="SIGTERM+SIGINT+SIGINT", faults_left_behind=0)


def test_ctrl_c_during_the_revert_at_the_normal_end_waits_for_it(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    box = chaos_sandbox
    drill = start_drill(box, short_scenario("connection-pool-leak", tmp_path), tmp_path / "out")
    drill.wait_until(lambda: applied(drill), "the fault applied")
    closed = box.gameday("drill", "log", "close", "--actor", "ic")
    assert closed.returncode == 0, closed.stderr
    drill.wait_until(lambda: deployment_cause(box).startswith("revert"), "the runner's revert", period=0.01)
    drill.proc.send_signal(INT)
    output = finish(drill)
    assert SAYS_STILL_REVERTING in output, output[-2000:]
    assert box.pending() == []
    journal = drill.journal
    assert journal is not None
    events = strict_journal(journal)
    reverted = [e for e in events if e["type"] == "fault_reverted"]
    assert [(e["actor"], e["data"]["ok"]) for e in reverted] == [("runner", True)], reverted
    assert events[-1]["type"] == "drill_ended"
    wait_steady(box)
    record_figures(signal_phase="revert at the normal end", signal="SIGINT", faults_left_behind=0)


def test_ctrl_c_during_start_up_recovery_waits_for_the_revert(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    """A SIGKILLed drill left a rollout fault; the next command reverts it and is interrupted meanwhile."""
    import subprocess

    from chaos_sandbox import GAMEDAY

    box = chaos_sandbox
    drill = start_drill(box, short_scenario("crashloop", tmp_path), tmp_path / "out")
    drill.wait_until(lambda: applied(drill), "the fault applied")
    drill.proc.send_signal(signal.SIGKILL)
    drill.proc.wait(30)
    assert len(box.pending()) == 1
    nxt = subprocess.Popen([GAMEDAY, "sandbox", "status"], env=box.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not deployment_cause(box).startswith("revert") and time.monotonic() < deadline:
        time.sleep(0.01)
    nxt.send_signal(INT)
    _, err = nxt.communicate(timeout=180)
    assert nxt.returncode == 130, err
    assert "Traceback" not in err, err
    assert "reverted crashloop" in err and SAYS_STILL_REVERTING in err, err
    assert box.pending() == [] and box.markers() == []
    journal = drill.journal
    assert journal is not None
    recovered = [e for e in strict_journal(journal) if e["type"] == "fault_reverted"]
    assert [(e["actor"], e["data"]["ok"]) for e in recovered] == [("recovery", True)]
    wait_steady(box)
    record_figures(signal_phase="start-up recovery", signal="SIGINT", faults_left_behind=0)
