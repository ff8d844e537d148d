"""War-room fixtures.

``live_room``: a real war-room server (uvicorn on a free loopback port) over a journal that a "running
drill" owns: the active-drill marker names this test process as the runner, in a temporary state folder,
so every write takes the real ``drill log`` path and the real journal lock.  The browser tests use a real
sandbox drill instead (tests/warroom/test_browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gameday_testkit import stand_in_drill
from warroom_helpers import LiveRoom

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "connection-pool-leak.yaml"


@pytest.fixture
def live_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveRoom]:
    from gameday.files import load_model
    from gameday.scenario import Scenario

    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path / "state"))
    scenario = load_model(SCENARIO, Scenario)
    fault = scenario.fault.type.value

    def opening(drill_id: str) -> list[tuple[str, str, dict[str, str]]]:
        return [("note", "runner", {"text": f"fault {fault} applied"}),
                ("war_room_created", "alice", {"channel": f"#incident-{drill_id}"})]  # blind drills hide the id

    with stand_in_drill(tmp_path, scenario.name, fault, scenario=scenario.model_dump(mode="json"),
                        opening=opening) as drill:
        yield LiveRoom(journal=drill.journal, server=drill.server, drill_id=drill.drill_id, active=drill.active)
