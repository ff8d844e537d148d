"""The faults whose damage stays in the database, on kind, read in PostgreSQL's own pod (psql through pods/exec,
drills/k8s/database.py): v1.3.0's start-up migration really renames the column, a rollback onto it really breaks
v1.2.2, and the revert migrates it back; v1.2.5 really books twice; and a drill holding either, killed with SIGKILL
(one of them in maintenance mode), is put back by the next ``gameday`` start: release, knobs, schema and data.
(The autopilot's game days of both scenarios are in test_kind_drills.py.)
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import GAMEDAY, Kind, drill, journal_of, wait_event
from test_kind_drills import assert_nothing_left

from drills.k8s.rollout import wait_rolled_out
from gameday.journal import EventType
from gameday.releases import DOUBLE_BOOKING, HEALTHY, MIGRATING
from gameday.scenario import Fault

pytestmark = [pytest.mark.kind, pytest.mark.slow]


def statuses(kind: Kind, path: str, times: int = 6) -> set[int]:
    """What the backend answers ``path`` with through the gateway, asked ``times`` times (round robin)."""
    app = kind.target.endpoints().app_url
    return {httpx.get(f"{app}{path}", timeout=10).status_code for _ in range(times)}


def test_a_rollback_onto_the_migrated_schema_really_breaks_the_old_release(kind: Kind) -> None:
    """The decision tree's "NO": v1.2.2 cannot read the schema v1.3.0 migrated; the revert (roll back, then the
    down-migration in postgres-0) makes it work again."""
    target = kind.target
    assert target.database.schema() == 1
    record = target.inject(Fault.model_validate({"type": "forward-migration"}), drill_id="schema")
    try:
        assert wait_rolled_out(target, MIGRATING.version), f"v1.3.0 never rolled out: {target.replicas()}"
        assert target.database.schema() == 2  # its first pod migrated as it started
        assert statuses(kind, "/api/patients/7") == {200}
        assert statuses(kind, "/api/patients") == {500}  # its bug
        target.remediate("rollback")
        assert wait_rolled_out(target, HEALTHY.version), f"the rollback never finished: {target.replicas()}"
        assert statuses(kind, "/api/patients/7") == {500}, "v1.2.2 read the migrated schema"
    finally:
        target.revert(record)
    assert target.database.schema() == 1
    assert statuses(kind, "/api/patients/7") == {200}
    assert_nothing_left(kind)


def test_the_double_booking_release_writes_duplicates_the_revert_removes(kind: Kind) -> None:
    target = kind.target
    assert target.database.violations() == 0
    record = target.inject(Fault.model_validate({"type": "data-corruption"}), drill_id="data")
    try:
        assert wait_rolled_out(target, DOUBLE_BOOKING.version), f"v1.2.5 never rolled out: {target.replicas()}"
        app = target.endpoints().app_url
        for hour in range(3):  # three new bookings, each answered 201 once
            answer = httpx.post(
                f"{app}/api/appointments",
                timeout=10,
                json={"patient_id": 11, "department": "surgery", "starts_at": f"2031-05-0{hour + 1}T09:00:00+00:00"},
            )
            assert answer.status_code == 201, answer.text
        assert target.database.violations() >= 3
    finally:
        target.revert(record)
    assert target.database.violations() == 0
    assert_nothing_left(kind)


@pytest.mark.parametrize("scenario", ["unsafe-rollback", "data-corruption"])
def test_a_sigkilled_drill_is_put_back_by_the_next_start(kind: Kind, scenario: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = drill(kind, out, scenario, "--responder", "human", "--time-scale", "60")
    try:
        path = journal_of(out, proc)
        wait_event(path, proc, lambda e: e.type is EventType.note and "record" in e.data, "the fault applied", 300)
        if scenario == "data-corruption":
            kind.target.remediate("maintenance-on")  # the team took the system offline when the drill died
        time.sleep(5.0)  # the release's first pods start (and migrate)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert kind.target.pending_injections(), "the killed drill left no record to recover from"
    start = subprocess.run([GAMEDAY, "--help"], env=kind.env(), capture_output=True, text=True, timeout=600)
    assert start.returncode == 0, start.stderr
    assert "reverted" in start.stderr, start.stderr
    assert_nothing_left(kind)  # no record, knobs at their defaults (maintenance off), v1.2.2 everywhere
    assert kind.target.database.schema() == 1
    assert kind.target.database.violations() == 0
