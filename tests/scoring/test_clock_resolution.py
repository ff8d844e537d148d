"""Checks that compare two durations allow the drill clock's resolution at the journal's time scale, and say so.

A drill at time scale 120 ticks every half wall second, which is a runbook minute: a 30-minute stability watch
that the clock measured as 29.4 minutes was kept.  A simulated journal's clock is exact: no allowance.
"""

from __future__ import annotations

import json
from pathlib import Path

from gameday.scoring import Status, score_journal


def _journal(fixtures: Path, tmp_path: Path, *, earlier_s: float, resolution_s: float | None) -> Path:
    """perfect.jsonl (time scale 60: a wall second is a runbook minute) resolved ``earlier_s`` wall seconds
    before its 30-minute watch ends, with the drill clock's resolution in ``journal_started``."""
    lines = [json.loads(line) for line in (fixtures / "perfect.jsonl").read_text().splitlines()]
    for event in lines:
        if event["type"] == "journal_started" and resolution_s is not None:
            event["data"]["clock_resolution_s"] = resolution_s
        if event["type"] in ("resolved", "closed"):
            event["t"] -= earlier_s
    path = tmp_path / "journal.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    return path


def _watch(path: Path):
    (incident,) = score_journal(path).incidents
    return next(c for c in incident.checks if c.id == "stability_watch")


def test_a_watch_short_by_less_than_the_clock_resolution_is_kept(fixtures: Path, tmp_path: Path) -> None:
    check = _watch(_journal(fixtures, tmp_path, earlier_s=0.6, resolution_s=1.0))
    assert check.status is Status.passed, check
    assert check.observed == "watched 29.4 min"
    assert "± 1.0 min: the clock's resolution at time scale 60" in check.expected


def test_without_a_resolution_the_same_watch_is_short(fixtures: Path, tmp_path: Path) -> None:
    check = _watch(_journal(fixtures, tmp_path, earlier_s=0.6, resolution_s=None))
    assert check.status is Status.failed
    assert "resolution" not in check.expected


def test_a_watch_short_by_more_than_the_resolution_fails_and_says_why(fixtures: Path, tmp_path: Path) -> None:
    check = _watch(_journal(fixtures, tmp_path, earlier_s=1.5, resolution_s=1.0))
    assert check.status is Status.failed
    assert check.feedback.startswith("Resolved after 28.5 min of watching; the runbook asks for 30 min")
    assert "the clock's resolution at time scale 60" in check.feedback
