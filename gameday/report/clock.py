"""Runbook-clock timestamps for people: drills compress time, so "14:32" must mean runbook time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from gameday.journal import Event, EventType


class RunbookClock:
    """Maps an event to the wall-clock time it *stands for*: journal start + t × time_scale."""

    def __init__(self, events: list[Event]) -> None:
        started = next((e for e in events if e.type is EventType.journal_started), events[0] if events else None)
        meta = started.data if started is not None and started.type is EventType.journal_started else {}
        self.scale = float(meta.get("time_scale", 1.0) or 1.0)
        self.origin = _shifted(started.ts, -started.t) if started is not None else datetime.now(UTC)
        try:
            self.zone = ZoneInfo(str(meta.get("timezone") or "UTC"))
        except (KeyError, ValueError):
            self.zone = ZoneInfo("UTC")

    def minutes(self, event: Event) -> float:
        return event.t * self.scale / 60.0

    def at(self, event: Event) -> datetime:
        return self.at_minute(self.minutes(event))

    def at_minute(self, minutes: float) -> datetime:
        """The moment ``minutes`` runbook minutes after the journal started stands for."""
        return _shifted(self.origin, minutes * 60.0).astimezone(self.zone)

    @property
    def zone_label(self) -> str:
        return self.origin.astimezone(self.zone).strftime("%Z") or "UTC"

    def hhmm(self, event: Event) -> str:
        return self.at(event).strftime("%H:%M")

    def stamp(self, event: Event) -> str:
        return self.at(event).strftime("%Y-%m-%d %H:%M ") + self.zone_label


def _shifted(moment: datetime, seconds: float) -> datetime:
    """``moment + seconds``, held inside the calendar (a hand-edited journal may say year 9999)."""
    try:
        return moment + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        edge = datetime.max - timedelta(days=2) if seconds > 0 else datetime.min + timedelta(days=2)
        return edge.replace(tzinfo=UTC)  # two days inside, so any time zone can still show it
