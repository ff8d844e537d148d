"""The incident history store (DuckDB): drill journals, past incidents, reviews and their action items.

The runbook's metrics programme -- incident count and its trend, repeat incidents, the monthly review, action
items "reviewed in the weekly team meeting until complete" -- needs incidents kept past the one report each gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def record_drill(journal: str | Path, console: Any = None) -> bool:
    """Add a finished drill's journal (and the review it names) to the default store.  Called by the drill runner:
    a failure is said in one line and never raised, so recording can not fail a drill.  ``GAMEDAY_HISTORY=off``
    turns it off."""
    import os

    if os.environ.get("GAMEDAY_HISTORY", "").lower() == "off":
        return False
    try:
        from gameday.history.ingest import read_journal_file, read_review_file
        from gameday.history.store import HistoryStore

        record = read_journal_file(Path(journal))
        reviews = [read_review_file(record.review, record.name)] if record.review is not None else []
        store = HistoryStore(lock_timeout=30.0)
        done = store.add([record], reviews)
    except Exception as exc:  # the drill is over and reverted; its journal stays on disk
        _say(console, f"[yellow]history: not recorded ({exc}); add it later: gameday history add {journal}[/]")
        return False
    _say(console, f"history: {done[0].what} in {store.path}")
    return True


def _say(console: Any, text: str) -> None:
    if console is not None:
        console.print(text, highlight=False, soft_wrap=True)
