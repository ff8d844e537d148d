"""The war room's escalation ladder shows the next rung due only while the service is not restored, as the
simulator and the autopilot escalate (the runbook escalates to get the problem fixed): nothing is due during
the stability watch after a verification, and the ladder is back when an alert fires after it."""

from __future__ import annotations

from pathlib import Path

from drills.warroom.view import RoomView, Viewer
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.runbook import load_runbook

E = EventType


def ladder(tmp_path: Path, rows: list[tuple[float, EventType]]) -> dict:
    """The ladder panel of a SEV-2 journal (time scale 1: runbook minutes are wall minutes)."""
    journal = JournalWriter(tmp_path / "journal.jsonl", "d1", durable=False)
    journal.emit(E.paged, "pagerduty", {"who": "on-call", "level": 1}, t=0.0)
    journal.emit(E.acknowledged, "alice", {}, t=0.0)
    journal.emit(E.severity_declared, "alice", {"severity": "SEV-2", "level": 2}, t=60.0)
    for minute, kind in rows:
        journal.emit(kind, "alice", {"alertname": "HighErrorRate"} if kind is E.alert_firing else {}, t=minute * 60)
    journal.close()
    return RoomView(read_journal(journal.path), load_runbook(), Viewer(game_master=True)).ladder()


def test_the_next_rung_is_due_while_the_service_is_down(tmp_path: Path) -> None:
    nxt = ladder(tmp_path, [(10.0, E.action)])["next"]
    assert nxt["level"] == 2 and nxt["due_t"] == 30 * 60


def test_no_rung_is_due_during_the_stability_watch(tmp_path: Path) -> None:
    assert ladder(tmp_path, [(10.0, E.action), (20.0, E.verified)])["next"] is None


def test_an_alert_after_the_verification_brings_the_ladder_back(tmp_path: Path) -> None:
    nxt = ladder(tmp_path, [(20.0, E.verified), (40.0, E.alert_firing)])["next"]
    assert nxt is not None and nxt["level"] == 2
