"""Follows a journal other processes append to (``gameday drill log``, ``gameday sandbox rollout``)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from gameday.journal import Event


class JournalTail:
    """Returns the complete events appended since the last call; a half-written line waits for its end."""

    def __init__(self, path: str | Path, offset: int = 0) -> None:
        self.path = Path(path)
        self.offset = offset

    def new_events(self) -> list[Event]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        events: list[Event] = []
        for line in chunk[: end + 1].splitlines():
            if not line.strip():
                continue
            try:
                events.append(Event.model_validate(json.loads(line)))
            except (ValueError, ValidationError):
                continue  # the journal loader reports bad lines; a follower just skips them
        return events
