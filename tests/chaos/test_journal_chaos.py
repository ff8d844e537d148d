"""The journal under chaos: writers killed mid-line, a full disk, many processes appending at once.

What must hold afterwards, every time: every line of the file parses, ``seq`` counts 0, 1, 2, ... with no
gap and no repeat, and every event a writer reported as written is there.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gameday_testkit import small_tmpfs

from gameday.errors import JournalError
from gameday.journal import EventType, JournalWriter, read_journal

REPO = Path(__file__).resolve().parents[2]
#: Kill rounds for the torn-write test (each kills one writer at a seeded random moment).
KILL_ROUNDS = int(os.environ.get("GAMEDAY_CHAOS_JOURNAL_KILLS", "40"))
FIGURES_ENV = "GAMEDAY_CHAOS_FIGURES"

#: A writer process: big events (a multi-megabyte write is where SIGKILL can cut a line in two), printing
#: each seq once the event is durably written.
BIG_WRITER = """
import sys
from gameday.journal import JournalWriter
writer = JournalWriter(sys.argv[1], "chaos")
pad = "x" * int(sys.argv[2])
for i in range(10**6):
    event = writer.emit("note", "writer", {"i": i, "pad": pad})
    print(event.seq, flush=True)
"""


def lines_of(path: Path) -> list[dict[str, object]]:
    """Every line parsed strictly: a torn or garbled line anywhere fails the test."""
    raw = path.read_bytes()
    assert not raw or raw.endswith(b"\n"), "the journal ends in the middle of a line"
    out = []
    for number, line in enumerate(raw.split(b"\n")[:-1], start=1):
        try:
            out.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{path}: line {number} does not parse: {line[:120]!r}")
    return out


def assert_gap_free(path: Path) -> list[dict[str, object]]:
    events = lines_of(path)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(len(events))), f"seq has gaps or repeats: {seqs[:50]}"
    read_journal(path)  # and the real loader agrees
    return events


def record_figures(**figures: object) -> None:
    target = os.environ.get(FIGURES_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(figures) + "\n")


def test_writers_killed_mid_line_lose_nothing_they_reported(tmp_path: Path) -> None:
    """SIGKILL a writer of 4 MB events at seeded random moments, then let the next writer go on: the torn
    half-line is moved aside, every reported event is there once, no line is torn."""
    path = tmp_path / "journal.jsonl"
    rng = random.Random(12)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    reported: list[int] = []
    torn = 0
    for _ in range(KILL_ROUNDS):
        proc = subprocess.Popen([sys.executable, "-c", BIG_WRITER, str(path), str(4 << 20)],
                                stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the interpreter is up and one event is written
        assert first.strip(), "the writer did not start"
        reported.append(int(first))
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        reported += [int(s) for s in rest.split()]
        if path.read_bytes()[-1:] != b"\n":
            torn += 1
        # a later writer (as `gameday drill log` would be) appends to the same journal
        with JournalWriter(path, "chaos") as writer:
            reported.append(writer.emit(EventType.note, "next", {"after_kill": True}).seq)
    events = assert_gap_free(path)
    assert sorted(reported) == sorted(set(reported)), "a seq was handed out twice"
    assert set(reported) <= {e["seq"] for e in events}, "an event a writer reported is missing"
    assert torn > 0, f"no kill landed mid-line in {KILL_ROUNDS} rounds; the test proved nothing"
    aside = Path(f"{path}.torn").read_bytes().count(b"\n") if Path(f"{path}.torn").exists() else 0
    assert aside == torn, f"{torn} torn tails but {aside} fragments set aside"
    record_figures(journal_kills=KILL_ROUNDS, torn_writes=torn, events=len(events), events_lost=0, torn_lines=0)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs the test fills up."""
    with small_tmpfs(tmp_path / "tiny", "256k") as mount:
        yield mount


def test_a_full_disk_refuses_the_event_whole_and_keeps_every_earlier_one(tiny_disk: Path) -> None:
    path = tiny_disk / "journal.jsonl"
    filler = tiny_disk / "filler"
    filler.write_bytes(b"f" * (64 << 10))  # what someone deletes later to make room
    writer = JournalWriter(path, "disk")
    written = []
    with pytest.raises(JournalError) as refused:
        for i in range(10_000):
            written.append(writer.emit(EventType.metric_sample, "sampler", {"i": i, "pad": "y" * 700}).seq)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "No space left" in message, message
    assert writer.failure is refused.value
    assert [e["seq"] for e in assert_gap_free(path)] == written, "an event before the failure was lost"
    with pytest.raises(JournalError):  # still full: refused again, still whole
        writer.emit(EventType.note, "runner", {"pad": "z" * 2000})
    assert_gap_free(path)

    filler.unlink()  # room again: the journal goes on where it stopped, no gap
    after = writer.emit(EventType.note, "runner", {"text": "room again"})
    writer.close()
    assert after.seq == len(written)
    assert [e["seq"] for e in assert_gap_free(path)] == [*written, after.seq]


def test_sixteen_processes_append_at_once_without_loss(tmp_path: Path) -> None:
    """16 writer processes, 50 events each, all at once: 800 events, each once, seq strictly increasing."""
    path = tmp_path / "journal.jsonl"
    with JournalWriter(path, "many") as first:
        first.emit(EventType.journal_started, "runner", {"source": "drill", "time_scale": 60})
    script = """
import sys
from gameday.journal import JournalWriter
with JournalWriter(sys.argv[1], "many") as writer:
    for i in range(50):
        writer.emit("note", f"w{sys.argv[2]}", {"i": i})
"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(w)], env=env) for w in range(16)]
    assert all(p.wait(120) == 0 for p in procs)
    events = assert_gap_free(path)
    by_writer = {(e["actor"], e["data"].get("i")) for e in events[1:]}  # type: ignore[union-attr]
    assert len(events) == 1 + 16 * 50 and len(by_writer) == 16 * 50, "an event is missing or doubled"
