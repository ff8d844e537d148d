"""The drill's detection is an alert that fires after its fault: one journaled before the fault, or firing since
before it (a previous drill's replaced pod still scraped when this drill began: a kind bench at 17:54 on
2026-12-05 scored that as an MTTD of 0.02 min), detects nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

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


def test_a_fault_clock_started_late_is_journaled_once_as_fault_active(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """kind's leaking release served 4 wall s after its injection at scale 60: ``fault_active`` is stamped at that
    moment (4 runbook minutes later), once; a clock that started with the injection writes nothing."""
    from gameday.journal import JournalWriter, read_journal

    def run(clock_start: float | None, polls: int = 3) -> list[Event]:
        path = tmp_path / f"j-{clock_start}.jsonl"
        journal = JournalWriter(path, incident="d", durable=False)
        injection = journal.emit(EventType.fault_injected, "runner", {"fault": "connection-pool-leak"})
        start = None if clock_start is None else injection.ts.timestamp() + clock_start
        runner = SimpleNamespace(state=DrillState(injection=injection), journal=journal, time_scale=60.0,
                                 scenario=SimpleNamespace(fault=SimpleNamespace(type=SimpleNamespace(
                                     value="connection-pool-leak"))),
                                 target=SimpleNamespace(fault_clock_start=lambda: start))
        for _ in range(polls):
            DrillRunner._check_fault_clock(runner)  # type: ignore[arg-type]
        journal.close()
        return [e for e in read_journal(path) if e.type is EventType.fault_active]

    (active,) = run(4.0)
    assert active.data == {"fault": "connection-pool-leak", "unscaled_seconds": 4.0, "runbook_minutes": 4.0}
    injected = next(e for e in read_journal(tmp_path / "j-4.0.jsonl") if e.type is EventType.fault_injected)
    assert active.t == pytest.approx(injected.t + 4.0, abs=0.01)  # stamped at the clock's start, not when seen
    assert run(0.0) == []  # started with its injection
    assert run(None) == []  # not known yet (the release is still rolling out)
