"""The drill's detection is an alert that fires after its fault: one journaled before the fault, or firing since
before it (a previous drill's replaced pod still scraped when this drill began: a kind bench at 17:54 on
2026-12-05 scored that as an MTTD of 0.02 min), detects nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from drills.runner import DrillRunner, DrillState
from gameday.journal import Event, EventType

START = datetime(2026, 12, 5, 17, 54, 31, tzinfo=UTC)


def _event(seq: int, type: EventType, at: float, **data: object) -> Event:
    return Event(ts=START + timedelta(seconds=at), t=at, seq=seq, incident="d", type=type, actor="x", data=data)


def _fired_after_fault(alert: Event, injection: Event | None) -> bool:
    runner = SimpleNamespace(state=DrillState(injection=injection))
    return DrillRunner._fired_after_fault(runner, alert)  # type: ignore[arg-type]


def iso(at: float) -> str:
    return (START + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")


def test_only_an_alert_firing_after_the_fault_detects_it() -> None:
    fault = _event(4, EventType.fault_injected, 10.05)
    assert _fired_after_fault(_event(5, EventType.alert_firing, 12.0, starts_at=iso(11.5)), fault)
    assert _fired_after_fault(_event(5, EventType.alert_firing, 12.0), fault)  # no start time: journaled after it
    # journaled before the fault (read by the runner after it)
    assert not _fired_after_fault(_event(3, EventType.alert_firing, 9.89, starts_at=iso(6.0)), fault)
    # journaled after the fault, but firing since before it
    assert not _fired_after_fault(_event(6, EventType.alert_firing, 10.2, starts_at=iso(6.0)), fault)
    assert not _fired_after_fault(_event(6, EventType.alert_firing, 10.2), None)  # no fault yet
