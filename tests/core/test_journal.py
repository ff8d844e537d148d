"""The journal: one format, durable per event, one call to a tidy DataFrame."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gameday.errors import JournalError
from gameday.journal import EventType, JournalWriter, load_frame, read_journal, write_table


def test_events_roundtrip_with_iso_ms_timestamps(tmp_path: Path) -> None:
    start = datetime(2026, 1, 24, 5, 30, tzinfo=UTC)
    path = tmp_path / "j.jsonl"
    with JournalWriter(path, "drill-1", start=start) as journal:
        journal.emit(EventType.journal_started, data={"source": "drill", "time_scale": 60.0})
        journal.emit(EventType.fault_injected, "runner", {"fault": "crashloop"}, t=1.5)
        journal.emit("acknowledged", "alice", t=2.25)
    first = json.loads(path.read_text().splitlines()[1])
    assert first["ts"] == "2026-01-24T05:30:01.500Z"
    assert first["t"] == 1.5 and first["type"] == "fault_injected" and first["incident"] == "drill-1"
    events = read_journal(path)
    assert [e.seq for e in events] == [0, 1, 2]
    frame = load_frame(path)
    assert list(frame["type"]) == ["journal_started", "fault_injected", "acknowledged"]
    assert frame.loc[2, "runbook_minutes"] == pytest.approx(2.25 * 60 / 60)
    assert frame.loc[2, "actor"] == "alice"


def test_unknown_event_type_is_refused(tmp_path: Path) -> None:
    with JournalWriter(tmp_path / "j.jsonl", "x") as journal, pytest.raises(ValueError):
        journal.emit("coffee_break")


def test_appending_continues_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with JournalWriter(path, "x") as journal:
        journal.emit(EventType.note)
    with JournalWriter(path, "x") as journal:
        journal.emit(EventType.note)
    assert [e.seq for e in read_journal(path)] == [0, 1]


def test_corrupt_middle_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with JournalWriter(path, "x") as journal:
        journal.emit(EventType.note)
    with open(path, "a") as fh:
        fh.write("{not json}\n")
    with JournalWriter(path, "x") as journal:
        journal.emit(EventType.note)
    with pytest.raises(JournalError, match=r"j\.jsonl: line 2: not a JSON object"):
        read_journal(path)


def test_bad_field_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"ts":"2026-01-01T00:00:00Z","t":0,"seq":0,"incident":"x","type":"nope","actor":"a"}\n')
    with pytest.raises(JournalError, match=r"line 1: type"):
        read_journal(path)


def test_tables_parquet_and_csv(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with JournalWriter(path, "x") as journal:
        journal.emit(EventType.metric_sample, data={"error_rate": 0.2})
    frame = load_frame(path)
    import pandas as pd

    for suffix in (".parquet", ".csv"):
        out = write_table(frame, tmp_path / f"t{suffix}")
        back = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
        assert json.loads(back.loc[0, "data"]) == {"error_rate": 0.2}


_WRITER = """
import sys
from gameday.journal import JournalWriter, EventType
journal = JournalWriter(sys.argv[1], "killed")
payload = {"blob": "x" * 20000}
n = 0
while True:
    journal.emit(EventType.metric_sample, "sampler", dict(payload, n=n))
    n += 1
    print(n, flush=True)
"""


def test_sigkill_mid_write_keeps_every_completed_event(tmp_path: Path) -> None:
    path = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    reported = 0
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while reported < 40 and time.monotonic() < deadline:
        reported = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert reported >= 40, "writer did not report events in time"
    events = read_journal(path)
    numbers = [e.data["n"] for e in events]
    assert numbers == list(range(len(numbers))), "events lost or out of order"
    assert len(numbers) >= reported, "an event the writer reported as written was lost"


def test_second_writer_keeps_the_first_writers_clock(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    start = datetime(2026, 1, 24, 5, 30, tzinfo=UTC)
    with JournalWriter(path, "x", start=start) as journal:
        journal.emit(EventType.journal_started, t=0)
    late = datetime(2026, 1, 24, 5, 31, tzinfo=UTC)
    with JournalWriter(path, "x", clock=lambda: late) as other:
        event = other.emit(EventType.acknowledged, "bob")
    assert event.t == 60.0 and event.seq == 1
