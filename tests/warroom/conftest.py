"""War-room fixtures.

``live_room``: a real war-room server (uvicorn on a free loopback port) over a journal that a "running
drill" owns: the active-drill marker names this test process as the runner, in a temporary state folder,
so every write takes the real ``drill log`` path and the real journal lock.  The browser tests use a real
sandbox drill instead (tests/warroom/test_browser.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warroom_helpers import LiveRoom

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "connection-pool-leak.yaml"


@pytest.fixture
def live_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveRoom]:
    from drills.warroom.drill_link import announce, withdraw
    from drills.warroom.server import start_war_room
    from gameday.files import load_model
    from gameday.journal import EventType, JournalWriter
    from gameday.runbook import load_runbook
    from gameday.scenario import Scenario

    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path / "state"))
    scenario = load_model(SCENARIO, Scenario)
    started = datetime.now(UTC)
    drill_id = f"{scenario.name}-{started:%Y%m%dT%H%M%SZ}-s0"
    out = tmp_path / "out" / drill_id
    journal = out / "journal.jsonl"
    runbook = load_runbook()
    with JournalWriter(journal, drill_id, start=started) as writer:
        writer.emit(EventType.journal_started, "runner", at=started, data={
            "source": "drill", "time_scale": 60.0, "runbook": runbook.source,
            "scenario": scenario.model_dump(mode="json"), "target": "local", "responder": "human",
            "drill_id": drill_id})
        writer.emit(EventType.fault_injected, "runner", {"fault": scenario.fault.type.value, "params": {}})
        writer.emit(EventType.note, "runner", {"text": f"fault {scenario.fault.type.value} applied"})
        writer.emit(EventType.war_room_created, "alice", {"channel": f"#incident-{drill_id}"})
    active = announce(drill_id=drill_id, incident=drill_id, journal=str(journal.resolve()), out_dir=str(out.resolve()),
                      target="local", scenario=scenario.name, time_scale=60.0, started_at=started,
                      runner_pid=os.getpid())
    server = start_war_room(journal, runbook=runbook)
    try:
        yield LiveRoom(journal=journal, server=server, drill_id=drill_id, active=active)
    finally:
        server.stop()
        withdraw(active)
