"""Follows the journal for every open page: one reader, many listeners, state cached per journal version."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drills.observers.journal_tail import JournalTail
from drills.warroom.card import command_card, drill_target
from drills.warroom.redact import Redactor
from drills.warroom.view import RoomView, Viewer, revealed, sample_row, timeline_item
from gameday.journal import Event, EventType, journal_meta
from gameday.runbook.model import Runbook

#: How often the journal is looked at (wall seconds): the alert-to-page latency budget is 1 s.
POLL_S = 0.05


@dataclass
class Rendered:
    """Everything one kind of viewer gets at one journal version."""

    version: int
    revealed: bool
    items: list[dict[str, Any]]
    samples: list[list[Any]]
    last_seq: int


class JournalFeed:
    def __init__(self, journal: Path, runbook: Runbook) -> None:
        self.journal = journal
        self.runbook = runbook
        self.events: list[Event] = []
        self.version = 0
        self._tail = JournalTail(journal)
        self._changed: asyncio.Condition | None = None
        self._cache: dict[tuple[int, bool], Rendered] = {}
        self._cards: dict[str, dict[str, Any]] = {}
        self.redactor = Redactor()
        self.refresh()

    # -- reading -------------------------------------------------------------------------------------------

    def refresh(self) -> bool:
        new = self._tail.new_events()
        if not new:
            return False
        first_batch = not self.events
        self.events.extend(new)
        self.version += 1
        if first_batch or any(e.type is EventType.journal_started for e in new):
            self.redactor = self._redactor()
        return True

    def _redactor(self) -> Redactor:
        meta = journal_meta(self.events)
        scenario = meta.get("scenario") or {}
        names = [scenario.get("name"), scenario.get("title"), (scenario.get("fault") or {}).get("type")]
        names += [s.get("type") for s in scenario.get("stages") or []]
        return Redactor.for_drill(str(meta.get("drill_id") or (self.events[0].incident if self.events else "")),
                                  [n for n in names if n])

    async def run(self) -> None:
        """Poll until cancelled; wake every listener when the journal grew."""
        self._changed = asyncio.Condition()
        while True:
            if self.refresh():
                async with self._changed:
                    self._changed.notify_all()
            await asyncio.sleep(POLL_S)

    async def wait(self, version: int, timeout: float) -> None:
        if self.version != version or self._changed is None:
            if self._changed is None:
                await asyncio.sleep(timeout)
            return
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.version != version), timeout)

    # -- what a viewer sees --------------------------------------------------------------------------------

    def viewer(self, game_master: bool) -> Viewer:
        return Viewer(game_master=game_master, redactor=self.redactor)

    def now_t(self) -> float:
        if not self.events:
            return 0.0
        first = self.events[0]
        origin = first.ts - timedelta(seconds=first.t)
        return round((datetime.now(UTC) - origin).total_seconds(), 3)

    def rendered(self, game_master: bool) -> Rendered:
        key = (self.version, game_master)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        viewer = self.viewer(game_master)
        events = list(self.events)
        is_revealed = revealed(events)
        items = [i for e in events if (i := timeline_item(e, viewer, is_revealed)) is not None]
        samples = [sample_row(e) for e in events if e.type is EventType.metric_sample]
        rendered = Rendered(self.version, is_revealed, items, samples, events[-1].seq if events else -1)
        self._cache = {k: v for k, v in self._cache.items() if k[0] == self.version}
        self._cache[key] = rendered
        return rendered

    def card(self) -> dict[str, Any]:
        """The runbook's command card for the drill's target (the same for every viewer)."""
        target = drill_target(journal_meta(self.events))
        if target not in self._cards:
            self._cards[target] = command_card(self.runbook, target)
        return self._cards[target]

    def panels(self, game_master: bool) -> dict[str, Any]:
        return RoomView(list(self.events), self.runbook, self.viewer(game_master)).panels(self.now_t())

    def snapshot(self, game_master: bool) -> dict[str, Any]:
        r = self.rendered(game_master)
        return {"kind": "snapshot", "version": r.version, "now_t": self.now_t(), "last_seq": r.last_seq,
                "timeline": r.items, "samples": r.samples, "panels": self.panels(game_master)}

    def update(self, game_master: bool, after_seq: int) -> dict[str, Any]:
        r = self.rendered(game_master)
        items = r.items[bisect.bisect_right([i["seq"] for i in r.items], after_seq):]
        samples = r.samples[bisect.bisect_right([s[0] for s in r.samples], after_seq):]
        return {"kind": "update", "version": r.version, "now_t": self.now_t(), "last_seq": r.last_seq,
                "timeline": items, "samples": samples, "panels": self.panels(game_master)}
