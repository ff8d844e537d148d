"""After close, the war room links the team's monthly trend (``gameday review monthly``) beside the drill's report,
when there is a history store to read; without one it shows no link (issue 23)."""

from __future__ import annotations

import os
from pathlib import Path

from warroom_helpers import LiveRoom

from gameday.journal import EventType, JournalWriter

REPO = Path(__file__).resolve().parents[2]


def _close(room: LiveRoom) -> None:
    with JournalWriter(room.journal, room.drill_id) as writer:
        writer.emit(EventType.closed, "alice", {})


def test_the_after_close_view_links_the_monthly_trend(live_room: LiveRoom) -> None:
    from gameday.history.ingest import read_review_file, read_timeline_file
    from gameday.history.store import HistoryStore

    incidents = REPO / "examples" / "incidents"
    store = HistoryStore(Path(os.environ["GAMEDAY_STATE_DIR"]) / "history.duckdb")
    store.add([read_timeline_file(incidents / "2026-01-24-001-timeline.md")],
              [read_review_file(incidents / "2026-01-24-001-review.md")])
    _close(live_room)
    client = live_room.client()
    body = client.get("/api/report").json()
    assert body["trend"] == "/report/review.html"
    page = client.get(body["trend"])
    assert page.status_code == 200 and "Monthly incident review" in page.text and "2026-01-24-001-A5" in page.text


def test_no_store_no_link(live_room: LiveRoom) -> None:
    _close(live_room)
    assert live_room.client().get("/api/report").json()["trend"] is None


def test_a_report_asked_for_right_after_the_close_is_given(live_room: LiveRoom) -> None:
    """The room's feed polls the journal; the report must not wait for the poll to see the close (CI: a loaded
    machine's poll came after the request, which was refused as 'not closed'). Here the app runs without its polling
    task at all, so only the journal itself can say the incident is closed."""
    from fastapi.testclient import TestClient

    from drills.warroom.app import create_app
    from drills.warroom.security import COOKIE, Access
    from gameday.runbook import load_runbook

    access = Access()
    client = TestClient(create_app(live_room.journal, load_runbook(), access))  # no lifespan: the feed never polls
    client.cookies.set(COOKIE, access.responder_token)
    assert client.get("/api/report").status_code == 409  # not closed yet: refused
    _close(live_room)
    answer = client.get("/api/report")
    assert answer.status_code == 200, answer.text
    assert answer.json()["html"] == "/report/report.html"
