"""A drill whose incident was closed ends "closed" (the glossary's *closed*, gameday.metrics): it does not wait
for the stability watch, so it is not the glossary's *resolved*.  Summaries and journals written when the
outcome was spelled "resolved" still read, as "closed"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from drills.summary import EXIT_CODES, DrillFacts, DrillSummary, Outcome
from drills.warroom.view import RoomView, Viewer, describe
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.runbook import load_runbook


def facts(outcome: str) -> dict[str, Any]:
    return {"drill_id": "d1", "scenario": "s", "target": "local", "responder": "autopilot", "seed": 1,
            "time_scale": 60.0, "outcome": outcome, "journal": "j.jsonl", "load_dir": "load",
            "started_at": datetime(2026, 1, 1, tzinfo=UTC)}


def test_closed_is_the_outcome_that_passes() -> None:
    assert "closed" in get_args(Outcome) and "resolved" not in get_args(Outcome)
    assert EXIT_CODES["closed"] == 0 and "resolved" not in EXIT_CODES
    summary = DrillSummary.build(DrillFacts(**facts("closed")), [])
    assert summary.outcome == "closed" and summary.exit_code == 0


def test_an_old_summary_saying_resolved_reads_as_closed() -> None:
    old = DrillSummary.build(DrillFacts(**facts("closed")), []).model_dump(mode="json") | {"outcome": "resolved"}
    summary = DrillSummary.model_validate_json(DrillSummary.model_validate(old).model_dump_json())
    assert summary.outcome == "closed" and DrillFacts(**facts("resolved")).outcome == "closed"
    with pytest.raises(ValidationError):
        DrillFacts(**facts("done"))


def test_the_war_room_says_closed_for_an_old_journal(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path / "journal.jsonl", "d1", durable=False)
    journal.emit(EventType.closed, "alice", {})
    journal.emit(EventType.drill_ended, "runner", {"outcome": "resolved", "reason": "closed by alice"})
    journal.close()
    events = read_journal(journal.path)
    assert describe(events[-1]) == "Drill ended: closed"
    assert RoomView(events, load_runbook(), Viewer(game_master=True)).status()["outcome"] == "closed"
