"""Dependencies dying mid-drill (issue #12): Prometheus, Alertmanager, PgBouncer (outside the fault), the
webhook's port, the journal's disk.

In every case the drill ends (or goes on) with a clear message, never a traceback; its fault is reverted;
the journal keeps every event written before the failure (each line parses, ``seq`` has no gap); and a
wait that gives up names its deadline.  Each test brings the sandbox back to steady state itself.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_sandbox import (
    Drill,
    Sandbox,
    record_figures,
    short_scenario,
    start_drill,
    strict_journal,
    wait_steady,
)
from gameday_testkit import small_tmpfs

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

#: The Prometheus grace period the drills here run with (wall seconds; the default is 60).
GRACE_S = 6


def applied(drill: Drill) -> bool:
    return drill.has("note", "record")


def notes(drill: Drill) -> list[str]:
    return [e["data"].get("text", "") for e in drill.events() if e["type"] == "note"]


def check_reverted_and_whole(box: Sandbox, drill: Drill, before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """No traceback, nothing left injected, and the journal starts with every event seen before the failure."""
    output = drill.output()
    assert "Traceback" not in output, output[-3000:]
    assert box.pending() == [], f"the fault was left behind:\n{output[-3000:]}"
    assert box.markers() == [], "the drill's marker was left behind"
    journal = drill.journal
    assert journal is not None
    events = strict_journal(journal)
    assert events[: len(before)] == before, "an event written before the failure was lost or changed"
    return events


def test_prometheus_down_ends_the_drill_after_its_named_grace(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    box = chaos_sandbox
    drill = start_drill(box, short_scenario("slow-queries", tmp_path), tmp_path / "out",
                        env={"GAMEDAY_PROMETHEUS_GRACE": str(GRACE_S)})  # fmt: skip
    drill.wait_until(lambda: applied(drill), "the fault applied")
    before = drill.events()
    supervisor = box.target.sandbox.supervisor
    supervisor.stop("prometheus")
    try:
        drill.proc.wait(60 + GRACE_S)
    finally:
        supervisor.start("prometheus", wait=True)
    output = drill.output()
    assert drill.proc.returncode != 0, output[-3000:]
    assert "Prometheus at" in output and f"GAMEDAY_PROMETHEUS_GRACE={GRACE_S}" in output, output[-3000:]
    events = check_reverted_and_whole(box, drill, before)
    assert any("Prometheus at" in n and "ends if it does not answer" in n for n in notes(drill)), notes(drill)
    assert [(e["actor"], e["data"]["ok"]) for e in events if e["type"] == "fault_reverted"] == [("runner", True)]
    assert events[-1]["type"] == "drill_ended" and events[-1]["data"]["outcome"] == "error", events[-1]
    wait_steady(box)
    record_figures(dependency="prometheus", ended="after its grace", faults_left_behind=0, events_lost=0)


def test_prometheus_silent_while_waiting_for_steady_state_is_waited_out(chaos_sandbox: Sandbox,
                                                                        tmp_path: Path) -> None:
    """A Prometheus that misses answers during the steady-state wait (a reload, a busy kind node: CI saw a
    3-s timeout end a kind drill in error) makes the checks unknown; the wait goes on and ends on its own
    deadline, not on the first silent query."""
    box = chaos_sandbox
    drill = start_drill(box, short_scenario("slow-queries", tmp_path, never_steady=True), tmp_path / "out",
                        env={"GAMEDAY_STEADY_TIMEOUT": "45", "GAMEDAY_PROMETHEUS_GRACE": "40"})  # fmt: skip
    drill.wait_until(lambda: "waiting for steady state" in drill.output(), "the steady-state wait")
    supervisor = box.target.sandbox.supervisor
    supervisor.stop("prometheus")
    try:
        drill.wait_until(lambda: any("ends if it does not answer" in n for n in notes(drill)),
                         "the Prometheus outage noted", timeout=30)  # fmt: skip
    finally:
        supervisor.start("prometheus", wait=True)
    drill.wait_until(lambda: any("Prometheus answers again" in n for n in notes(drill)), "the recovery noted",
                     timeout=30)  # fmt: skip
    drill.proc.wait(90)
    output = drill.output()
    assert "Traceback" not in output, output[-3000:]
    assert drill.journal is not None, output[-3000:]
    events = strict_journal(drill.journal)
    assert events[-1]["type"] == "drill_ended" and events[-1]["data"]["outcome"] == "not-steady", output[-3000:]
    assert not drill.has("fault_injected") and box.pending() == [] and box.markers() == []
    wait_steady(box)


def test_alertmanager_down_is_noted_and_the_drill_goes_on(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    box = chaos_sandbox
    drill = start_drill(box, short_scenario("slow-queries", tmp_path), tmp_path / "out")
    drill.wait_until(lambda: applied(drill), "the fault applied")
    supervisor = box.target.sandbox.supervisor
    supervisor.stop("alertmanager")
    try:
        drill.wait_until(lambda: any("Alertmanager at" in n and "does not answer" in n for n in notes(drill)),
                         "the Alertmanager outage noted", timeout=60)  # fmt: skip
    finally:
        supervisor.start("alertmanager", wait=True)
    drill.wait_until(lambda: any("Alertmanager answers again" in n for n in notes(drill)), "the recovery noted",
                     timeout=60)  # fmt: skip
    assert drill.proc.poll() is None, "the drill ended on an Alertmanager outage"
    before = drill.events()
    done = box.gameday("drill", "log", "close", "--actor", "ic")
    assert done.returncode == 0, done.stderr
    drill.proc.wait(120)
    output = drill.output()
    assert drill.proc.returncode == 0, output[-3000:]
    assert "does not answer: alerts cannot reach the drill" in output, output[-3000:]
    events = check_reverted_and_whole(box, drill, before)
    assert events[-1]["data"]["outcome"] == "closed", events[-1]
    wait_steady(box)
    record_figures(dependency="alertmanager", ended="went on, closed by the IC", faults_left_behind=0, events_lost=0)


def test_pgbouncer_down_outside_the_fault_leaves_the_drill_and_its_revert_working(
    chaos_sandbox: Sandbox, tmp_path: Path
) -> None:
    box = chaos_sandbox
    drill = start_drill(box, short_scenario("slow-queries", tmp_path), tmp_path / "out")
    drill.wait_until(lambda: applied(drill), "the fault applied")
    supervisor = box.target.sandbox.supervisor
    supervisor.stop("pgbouncer")
    try:
        samples = sum(1 for e in drill.events() if e["type"] == "metric_sample")
        drill.wait_until(lambda: sum(1 for e in drill.events() if e["type"] == "metric_sample") >= samples + 3,
                         "three more metric samples with PgBouncer down", timeout=60)  # fmt: skip
        assert drill.proc.poll() is None
        before = drill.events()
        drill.proc.send_signal(15)
        drill.proc.wait(120)
    finally:
        supervisor.start("pgbouncer", wait=True)
    output = drill.output()
    assert drill.proc.returncode == 128 + 15, output[-3000:]
    events = check_reverted_and_whole(box, drill, before)
    assert [(e["actor"], e["data"]["ok"]) for e in events if e["type"] == "fault_reverted"] == [("runner", True)]
    wait_steady(box)
    record_figures(dependency="pgbouncer (outside the fault)", ended="went on until SIGTERM", faults_left_behind=0,
                   events_lost=0)


def test_the_webhook_port_taken_refuses_the_drill_before_any_fault(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    box = chaos_sandbox
    port = box.target.config.ports.webhook
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the last drill's TIME_WAIT connections
    try:
        holder.bind(("127.0.0.1", port))
    except OSError as exc:
        pytest.fail(f"the sandbox's webhook port {port} is already taken by someone else: {exc}")
    holder.listen()
    try:
        drill = start_drill(box, short_scenario("slow-queries", tmp_path), tmp_path / "out")
        drill.proc.wait(120)
    finally:
        holder.close()
    output = drill.output()
    assert drill.proc.returncode == 2, output[-3000:]
    assert f"cannot listen for Alertmanager on 127.0.0.1:{port}" in output, output[-3000:]
    events = check_reverted_and_whole(box, drill, [])
    assert not any(e["type"] == "fault_injected" for e in events), "a fault was injected without the webhook"
    wait_steady(box)
    record_figures(dependency="webhook port taken", ended="refused before injecting", faults_left_behind=0,
                   events_lost=0)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs for the drill's output."""
    with small_tmpfs(tmp_path / "small", "4m") as mount:
        yield mount


def test_the_journal_disk_full_ends_the_drill_and_reverts(
    chaos_sandbox: Sandbox, tmp_path: Path, small_disk: Path
) -> None:
    box = chaos_sandbox
    drill = start_drill(box, short_scenario("slow-queries", tmp_path), small_disk / "out",
                        log=tmp_path / "out.log")  # the terminal is not on the full disk
    drill.wait_until(lambda: applied(drill), "the fault applied")
    before = drill.events()
    with open(small_disk / "filler", "wb") as filler:  # what a runaway log would do
        try:
            while True:
                filler.write(b"f" * 65536)
                filler.flush()
        except OSError:
            pass
    drill.proc.wait(120)
    output = drill.output()
    assert drill.proc.returncode == 2, output[-3000:]
    assert "No space left on device; every earlier event is intact" in output, output[-3000:]
    events = check_reverted_and_whole(box, drill, before)
    assert "faults reverted: 1 (all ok)" in output, f"the revert was not shown:\n{output[-3000:]}"
    (small_disk / "filler").unlink()
    wait_steady(box)
    record_figures(dependency="journal disk full", ended="error, fault reverted", faults_left_behind=0,
                   events_lost=0, events_kept=len(events))
