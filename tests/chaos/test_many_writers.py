"""Sixteen processes writing one drill's journal at once (issue #12): eight through ``gameday drill log``'s
code path (and one real ``gameday drill log`` command each), eight through the war room's HTTP API.

Every event must be there exactly once, ``seq`` must be 0, 1, 2, ... in file order, no line torn, and each
war-room answer's ``seq`` must be the one its event got.  (tests/chaos/test_journal_chaos.py does the same
for bare journal writers, and kills them mid-line.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from chaos_sandbox import GAMEDAY, REPO, record_figures, strict_journal
from gameday_testkit import stand_in_drill

WRITERS_PER_PATH = 8
EVENTS_PER_WRITER = int(os.environ.get("GAMEDAY_CHAOS_WRITER_EVENTS", "15"))

DRILL_LOG = """
import os, sys, time
from drills.drill_log import log_event
go, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(count):
    log_event("hypothesis", name, {"text": f"{name} {i}"})
"""

WEB = """
import json, os, sys, time
import httpx
go, base, join, name, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
client = httpx.Client(base_url=base, timeout=60)
assert client.get(join).status_code == 303
page = client.get("/").text
client.headers["X-CSRF-Token"] = page.split('name="csrf-token" content="')[1].split('"')[0]
answers = []
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(count):
    answer = client.post("/api/act", json={"type": "hypothesis", "actor": name, "text": f"{name} {i}"})
    assert answer.status_code == 200, answer.text
    answers.append(answer.json()["seq"])
print(json.dumps(answers))
"""


def run_writers(go: Path, env: dict[str, str], server: Any) -> dict[str, list[int]]:
    """Start every writer, let them all go at once, and return each war-room writer's answered ``seq``s."""
    procs: list[tuple[str, subprocess.Popen[str]]] = []
    try:
        for w in range(WRITERS_PER_PATH):
            procs.append((f"cli{w}", subprocess.Popen(
                [sys.executable, "-c", DRILL_LOG, str(go), f"cli{w}", str(EVENTS_PER_WRITER)],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))  # fmt: skip
            procs.append((f"web{w}", subprocess.Popen(
                [sys.executable, "-c", WEB, str(go), server.base_url, server.responder_url, f"web{w}",
                 str(EVENTS_PER_WRITER)],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))  # fmt: skip
        time.sleep(1.0)  # every writer imported and waiting
        go.touch()
        commands = [subprocess.Popen([GAMEDAY, "drill", "log", "hypothesis", "--actor", f"cmd{w}", f"cmd{w} 0"],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for w in range(WRITERS_PER_PATH)]  # fmt: skip
        answered: dict[str, list[int]] = {}
        for name, proc in procs:
            stdout, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"{name}: {stderr[-2000:]}"
            if name.startswith("web"):
                answered[name] = json.loads(stdout)
        for proc in commands:
            _, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr[-2000:]
        return answered
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_sixteen_writers_through_drill_log_and_the_war_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "GAMEDAY_STATE_DIR": str(state), "PYTHONPATH": str(REPO), "GAMEDAY_NO_RECOVERY": "1"}
    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(state))  # the marker, where the writers and the war room look
    with stand_in_drill(tmp_path, "many-writers", "slow-queries") as drill:
        answered = run_writers(tmp_path / "go", env, drill.server)
    journal = drill.journal

    events = strict_journal(journal)  # every line parses; seq is 0, 1, 2, ... in file order
    texts = Counter(e["data"]["text"] for e in events if e["type"] == "hypothesis")
    expected = {f"{kind}{w} {i}" for kind in ("cli", "web") for w in range(WRITERS_PER_PATH)
                for i in range(EVENTS_PER_WRITER)} | {f"cmd{w} 0" for w in range(WRITERS_PER_PATH)}  # fmt: skip
    assert set(texts) == expected, f"missing: {sorted(expected - set(texts))[:10]}, extra: {set(texts) - expected}"
    assert all(n == 1 for n in texts.values()), f"doubled: {[t for t, n in texts.items() if n > 1]}"
    by_text = {e["data"]["text"]: e for e in events if e["type"] == "hypothesis"}
    for name, seqs in answered.items():
        assert seqs == [by_text[f"{name} {i}"]["seq"] for i in range(EVENTS_PER_WRITER)], name
        assert all(by_text[f"{name} {i}"]["actor"] == name for i in range(EVENTS_PER_WRITER))
    for w in range(WRITERS_PER_PATH):  # each writer's own events in its order
        seqs = [by_text[f"cli{w} {i}"]["seq"] for i in range(EVENTS_PER_WRITER)]
        assert seqs == sorted(seqs), f"cli{w}: out of order"
    record_figures(writers=2 * WRITERS_PER_PATH, commands=WRITERS_PER_PATH, events=len(events), events_lost=0,
                   events_doubled=0, torn_lines=0, seq_gaps=0)
