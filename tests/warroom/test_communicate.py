"""The Communicate panel's writes over real HTTP (the path ``gameday drill log`` takes: names checked against the
runbook, template fields recorded) and what the panel says is due, timed as the scorer times it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gameday_testkit import wait_for
from warroom_helpers import LiveRoom

from drills.warroom.view import RoomView, Viewer
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.runbook import load_runbook

E = EventType


def post(client: httpx.Client, body: dict) -> httpx.Response:
    return client.post("/api/act", json=body)


def test_every_message_of_the_runbook_goes_through_the_validated_path(live_room: LiveRoom) -> None:
    carol = live_room.client()
    assert post(carol, {"type": "declare", "actor": "alice", "level": 1}).status_code == 200
    drafts = {
        name: carol.get(f"/api/draft/{name}").json()["text"]
        for name in ("declaration", "status-update", "status-page", "initial-notice", "resolution-notice")
    }
    assert "**IC**:" in drafts["declaration"] and "**Status**:" in drafts["status-page"]
    assert drafts["initial-notice"].startswith("Subject: Service Issue")
    assert "Root Cause:" in drafts["resolution-notice"]
    sends = [
        {"type": "declaration", "message": drafts["declaration"], "channels": ["slack"]},
        {"type": "update", "message": drafts["status-update"], "channels": ["Slack", "Status Page", "Email"]},
        {"type": "status_page", "status": "identified", "message": "We found the cause", "channels": ["Status Page"]},
        {"type": "notice", "kind": "initial", "message": drafts["initial-notice"], "channels": ["Email"]},
        {"type": "notify", "who": "product manager", "channels": ["Email"]},
    ]
    for body in sends:
        answer = post(carol, {"actor": "carol", **body})
        assert answer.status_code == 200, (body["type"], answer.text)
    events = {e.type: e for e in read_journal(live_room.journal) if e.actor == "carol"}
    declared = events[E.declaration_posted]
    assert declared.data["channels"] == ["Slack"]  # the runbook's spelling written back
    assert set(declared.data["fields"]) >= {"severity", "summary", "ic", "tl", "war_room"}
    assert declared.data["fields"]["severity"] == "SEV-1"
    assert events[E.status_update].data["fields"]["status"] == "Investigating"
    assert events[E.status_page].data["status"] == "Identified"
    notice = events[E.external_notice].data
    assert notice["kind"] == "initial" and notice["fields"]["current_status"] == "Investigating"
    assert events[E.notified].data == {"who": "Product Manager", "channels": ["Email"]}
    # what the timeline says
    notice_text = "Initial notice to users (Email): Subject: Service Issue - Hospital ERP System"

    def timeline() -> list[str] | None:  # the room reads the journal as it grows: on a loaded machine, a moment later
        texts = [i["text"] for i in carol.get("/api/state").json()["timeline"]]
        return texts if notice_text in " ".join(texts) else None

    texts = wait_for(timeline, "the initial notice in the room's timeline", timeout=15)
    assert any(t.startswith("Status page: Identified (Status Page)") for t in texts)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"type": "update", "message": "m", "channels": ["Teams"]},
            "channels.0: no channel 'Teams' (the runbook has Slack, Status Page, Email)",
        ),
        (
            {"type": "status_page", "status": "Fixed", "message": "m"},
            "status: no status 'Fixed' (the status page template has Investigating, Identified, Monitoring",
        ),
        ({"type": "notify", "who": "The Board"}, "who: no person to notify 'The Board'"),
        ({"type": "notice", "kind": "final", "message": "m"}, "kind"),
    ],
)
def test_names_the_runbook_lacks_are_refused(live_room: LiveRoom, body: dict, fragment: str) -> None:
    carol = live_room.client()
    before = live_room.lines()
    answer = post(carol, {"actor": "carol", **body})
    assert answer.status_code == 422 and fragment in answer.json()["error"], answer.text
    assert live_room.lines() == before


def dues(tmp_path: Path, rows: list[tuple[float, EventType, dict]], scenario: dict | None = None) -> dict:
    """The Communicate panel of a journal (time scale 1: runbook minutes are wall minutes), by due key."""
    journal = JournalWriter(tmp_path / "journal.jsonl", "d1", durable=False)
    journal.emit(
        E.journal_started,
        "runner",
        {"source": "drill", "time_scale": 1.0, **({"scenario": scenario} if scenario else {})},
        t=0.0,
    )
    journal.emit(E.alert_firing, "alertmanager", {"alertname": "HighErrorRate"}, t=60.0)
    for minute, kind, data in rows:
        journal.emit(kind, "alice", data, t=minute * 60)
    journal.close()
    panel = RoomView(read_journal(journal.path), load_runbook(), Viewer(game_master=True)).communication()
    return {d["key"]: d for d in panel["dues"]} | {"_channels": panel["channels"]}


def test_what_is_due_follows_the_runbook(tmp_path: Path) -> None:
    sev1 = (3.0, E.severity_declared, {"severity": "SEV-1", "level": 1})
    due = dues(tmp_path, [sev1, (5.0, E.notified, {"who": "Product Manager"})])
    assert due["_channels"] == ["Slack", "Status Page", "Email"]
    assert due["initial-notice"]["due_t"] == (3 + 15) * 60  # 15 min from the declaration, as the scorer counts
    assert due["initial-notice"]["rule"] == "within 15 min of the declaration"
    assert due["notify:Product Manager"]["done_t"] == 5 * 60
    support = due["notify:Customer Support Lead"]
    assert support["due_t"] == 3 * 60 and support["done_t"] is None
    assert due["notify:VP Product"]["due_t"] == (3 + 30) * 60
    assert due["notify:CEO"]["due_t"] == (3 + 120) * 60
    # restored before two hours: the CEO need not be told; nothing is due once the incident is over
    restored = dues(tmp_path / "b", [sev1, (40.0, E.verified, {})])
    assert restored["notify:CEO"]["due_t"] is None and "not needed" in restored["notify:CEO"]["note"]
    over = dues(tmp_path / "c", [sev1, (40.0, E.verified, {}), (71.0, E.resolved, {})])
    assert all(d["due_t"] is None for k, d in over.items() if k != "_channels")


def test_severities_and_incidents_the_runbook_does_not_tell_of(tmp_path: Path) -> None:
    sev3 = dues(tmp_path, [(3.0, E.severity_declared, {"severity": "SEV-3", "level": 3})])
    assert sev3 == {"_channels": ["Slack"]}  # no external notice, no business escalation for SEV-3
    hidden = dues(
        tmp_path / "b",
        [(3.0, E.severity_declared, {"severity": "SEV-1", "level": 1})],
        scenario={"name": "x", "user_facing": False},
    )
    assert hidden == {"_channels": ["Slack", "Status Page", "Email"]}


def test_drill_log_takes_the_same_messages(live_room: LiveRoom) -> None:
    """``gameday drill log`` writes what the panel writes, with the same checks (one line, exit 2, on refusal)."""
    import os
    import subprocess
    import sys

    gameday = str(Path(sys.executable).with_name("gameday"))

    def log(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [gameday, "drill", "log", *args, "--actor", "dave"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ},
        )

    assert log("declare", "--sev", "1").returncode == 0
    assert (
        log(
            "notice", "initial", "Subject: Service Issue\n\nCurrent Status: Investigating", "--channel", "email"
        ).returncode
        == 0
    )
    assert log("status-page", "monitoring", "Fix deployed; watching", "--channel", "Status Page").returncode == 0
    assert log("notify", "VP Product").returncode == 0
    before = live_room.lines()
    refused = log("status-page", "Fixed", "m")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "status: no status 'Fixed'" in refused.stderr
    assert live_room.lines() == before
    events = [e for e in read_journal(live_room.journal) if e.actor == "dave"]
    assert [e.type for e in events] == [E.severity_declared, E.external_notice, E.status_page, E.notified]
    assert events[1].data == {
        "kind": "initial",
        "message": "Subject: Service Issue\n\nCurrent Status: Investigating",
        "channels": ["Email"],
        "fields": {"subject": "Service Issue", "current_status": "Investigating"},
    }
    assert events[2].data["status"] == "Monitoring" and events[3].data == {"who": "VP Product", "channels": []}
