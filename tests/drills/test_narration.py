"""The drill's live narration: one line per event at any width (CI logs, `| tee`, COLUMNS=80)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from drills.narration import narrate
from gameday.journal import Event, EventType

E = EventType


def _event(seq: int, kind: EventType, actor: str, data: dict) -> Event:
    return Event(ts=datetime(2026, 3, 2, 9, tzinfo=UTC), t=80.2 + seq, seq=seq, incident="d", type=kind, actor=actor,
                 data=data)


def test_one_line_per_event_at_80_columns() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False, color_system=None)
    events = [
        _event(1, E.replica_state, "target", {"name": "backend-1", "state": "Running", "ready": False,
                                              "version": "v1.2.3"}),
        _event(2, E.status_update, "autopilot", {"message": "Update #1: error rate 1.0 and every replica is "
                                                            "crash looping, rollback under way"}),
        _event(3, E.alert_firing, "alertmanager", {"alertname": "PgBouncerPoolSaturated"}),
        _event(4, E.metric_sample, "prometheus", {"error_rate": 1.0}),  # not narrated
    ]
    for event in events:
        narrate(event, 60.0, console)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].rstrip().endswith("backend-1 Running ready=False v=v1.2.3")
    assert "PgBouncerPoolSaturated" in lines[2]
