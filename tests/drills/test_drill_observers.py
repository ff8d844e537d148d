"""Observers without the sandbox: the webhook over real HTTP, window compression, the journal tail,
and SIGTERM turned into a clean interrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from drills.observers.journal_tail import JournalTail
from drills.observers.prometheus import compress_windows
from drills.observers.webhook import AlertReceiver, parse_time
from gameday.journal import EventType, JournalWriter, read_journal


def _payload(status: str, starts: str = "2026-01-24T05:30:00.123456789Z") -> dict:
    return {
        "version": "4",
        "status": status,
        "receiver": "gameday",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "HighErrorRate", "severity": "critical"},
                "annotations": {},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-01-24T05:40:00Z",
                "fingerprint": "abc123",
            }
        ],
    }


def test_webhook_journals_each_transition_once(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path / "j.jsonl", "d1")
    receiver = AlertReceiver(journal, port=0).start()
    try:
        for body in (_payload("firing"), _payload("firing"), _payload("resolved"), _payload("resolved")):
            assert httpx.post(receiver.url, json=body, timeout=5).status_code == 200
        assert httpx.post(receiver.url, content=b"not json", timeout=5).status_code == 400
    finally:
        receiver.stop()
        journal.close()
    events = read_journal(tmp_path / "j.jsonl")
    assert [e.type for e in events] == [EventType.alert_firing, EventType.alert_resolved]
    assert events[0].actor == "alertmanager"
    assert events[0].data["alertname"] == "HighErrorRate" and events[0].data["severity"] == "critical"
    assert receiver.firing() == []


def test_webhook_refuses_non_loopback(tmp_path: Path) -> None:
    from gameday.errors import TargetError

    with pytest.raises(TargetError):
        AlertReceiver(JournalWriter(tmp_path / "j.jsonl", "d1"), host="0.0.0.0")


def test_alertmanager_times() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    stamp = parse_time("2026-01-24T05:30:00.123456789Z")
    assert stamp is not None and stamp.microsecond == 123456 and stamp.utcoffset() is not None


def test_compress_windows_scales_and_floors() -> None:
    query = 'sum(rate(x{s=~"5.."}[1m])) / sum(rate(x[5m]))'
    assert compress_windows(query, 1.0, 10) == 'sum(rate(x{s=~"5.."}[60s])) / sum(rate(x[300s]))'
    assert compress_windows(query, 60.0, 10) == 'sum(rate(x{s=~"5.."}[10s])) / sum(rate(x[10s]))'
    assert compress_windows(query, 10.0, 2) == 'sum(rate(x{s=~"5.."}[6s])) / sum(rate(x[30s]))'
    assert compress_windows("up", 60.0, 10) == "up"


def test_tail_sees_other_writers_and_waits_for_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    ours = JournalWriter(path, "d1")
    tail = JournalTail(path)
    ours.emit(EventType.note, "runner")
    theirs = JournalWriter(path, "d1")
    theirs.emit(EventType.acknowledged, "alice")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"half": ')
    seen = tail.new_events()
    assert [(e.type, e.actor, e.seq) for e in seen] == [
        (EventType.note, "runner", 0),
        (EventType.acknowledged, "alice", 1),
    ]
    assert tail.new_events() == []


def test_sigterm_becomes_a_clean_interrupt_and_cleanup_still_runs(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    script = textwrap.dedent(
        f"""
        import sys, time
        from drills.recovery import DrillInterrupted, interrupts_as_exceptions
        with interrupts_as_exceptions():
            try:
                print("ready", flush=True)
                time.sleep(30)
            except DrillInterrupted as exc:
                open({str(marker)!r}, "w").write(str(exc.exit_code))
                sys.exit(exc.exit_code)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    assert marker.read_text() == str(128 + signal.SIGTERM)


def test_active_marker_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from drills import runner
    from gameday.errors import SafetyError

    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path))
    with pytest.raises(SafetyError, match="no drill is running"):
        runner.open_active_journal()
    journal = tmp_path / "d" / "journal.jsonl"
    JournalWriter(journal, "d1").emit(EventType.journal_started, "runner", {"source": "drill"})
    active = runner.ActiveDrill(
        drill_id="d1", incident="d1", journal=str(journal), out_dir=str(journal.parent), target="local",
        scenario="s", time_scale=60.0, started_at=datetime.now(UTC), runner_pid=os.getpid(),
    )
    runner.write_active(active)
    assert runner.read_active() == active
    event = runner.log_event("role_assigned", "bob", {"role": "ic", "person": "alice"})
    assert event.data == {"role": "IC", "person": "alice"} and event.actor == "bob"
    event = runner.log_event("severity_declared", "bob", {"level": 2})
    assert event.data["severity"] == "SEV-2"
    from gameday.errors import InputError

    with pytest.raises(InputError):
        runner.log_event("severity_declared", "bob", {"level": 9})
    runner.clear_active("d1")
    assert runner.read_active() is None
    assert [e.seq for e in read_journal(journal)] == [0, 1, 2]
    assert json.loads(journal.read_text().splitlines()[1])["actor"] == "bob"
