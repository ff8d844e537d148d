"""Kill anywhere: >= 20 short drills on the local sandbox, each SIGKILLed at a seeded random moment.

The moments are drawn from every window a drill passes through (starting up, the blind delay just
before ``fault_injected``, the instant after it, the fault in effect, the fault's own rollout, the revert
the runner starts on SIGTERM, right after a journal write, anywhere).  After each kill the next ``gameday``
start must revert what was injected, journal ``fault_reverted`` (actor ``recovery``) into the dead drill's
journal, stop its Locust, and the sandbox must be back to steady state.  The figures go to
``benchmarks/bench_chaos.py`` (`make chaos`, which also runs more kills: ``GAMEDAY_CHAOS_KILLS``).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from chaos_sandbox import (
    FAULTS,
    ROLLOUT_FAULTS,
    Drill,
    Sandbox,
    deployment_cause,
    processes_mentioning,
    record_figures,
    short_scenario,
    start_drill,
    strict_journal,
    wait_steady,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

KILLS = int(os.environ.get("GAMEDAY_CHAOS_KILLS", "20"))
SEED = int(os.environ.get("GAMEDAY_CHAOS_SEED", "1130"))

#: Faults whose apply and revert are a knob or one service (seconds, not a rollout of every replica).
QUICK_FAULTS = tuple(f for f in FAULTS if f not in ROLLOUT_FAULTS)
#: Every window, and which faults it applies to: a rollout or a revert that takes time needs a fault whose
#: apply/revert is a rollout or a service start; windows that do not depend on the fault draw the quick
#: ones, so 20 kills fit in CI (a rollout and its revert cost a short drill most of its time).
WINDOWS: dict[str, tuple[str, ...]] = {
    "starting up": QUICK_FAULTS,
    "blind delay, before fault_injected": QUICK_FAULTS,
    "just after fault_injected": FAULTS,
    "fault in effect": FAULTS,
    "during the fault's rollout": ROLLOUT_FAULTS,
    "during the runner's revert": (*ROLLOUT_FAULTS, "pgbouncer-down"),
    "right after a journal write": QUICK_FAULTS,
    "anywhere": FAULTS,
}


def kill_plan(count: int, seed: int) -> list[tuple[str, str]]:
    """(window, fault) pairs: every window in turn (so 20 kills cover each at least twice), faults drawn."""
    rng = random.Random(seed)
    windows = list(WINDOWS)
    return [(w, rng.choice(WINDOWS[w])) for w in (windows[i % len(windows)] for i in range(count))]


def kill_in(window: str, fault: str, drill: Drill, box: Sandbox, rng: random.Random) -> dict[str, Any]:
    """Wait for the window, SIGKILL the runner at a random moment inside it; say where it landed."""
    applied = lambda: drill.has("note", "record")  # noqa: E731 - the runner's note once the fault is on
    if window == "starting up":
        time.sleep(rng.uniform(0.2, 4.0))
    elif window == "blind delay, before fault_injected":
        drill.wait_until(lambda: drill.has("steady_state"), "steady state")
        time.sleep(rng.uniform(0.0, 0.4))  # the blind delay is at least 0.5 s
    elif window == "just after fault_injected":
        drill.wait_until(lambda: drill.has("fault_injected"), "fault_injected", period=0.002)
        time.sleep(rng.uniform(0.0, 0.05))
    elif window == "fault in effect":
        drill.wait_until(applied, "the fault applied")
        time.sleep(rng.uniform(0.0, 2.0))
    elif window == "during the fault's rollout":
        drill.wait_until(lambda: deployment_cause(box).startswith("fault"), "the fault's rollout", period=0.01)
        time.sleep(rng.uniform(0.1, 2.5))
    elif window == "during the runner's revert":
        drill.wait_until(applied, "the fault applied")
        drill.proc.send_signal(signal.SIGTERM)
        if fault in ROLLOUT_FAULTS:
            drill.wait_until(lambda: deployment_cause(box).startswith("revert"), "the runner's revert", period=0.01)
            time.sleep(rng.uniform(0.0, 2.0))
        else:  # starting PgBouncer again takes a moment
            time.sleep(rng.uniform(0.0, 0.5))
    elif window == "right after a journal write":
        drill.wait_until(lambda: drill.has("steady_state"), "steady state")
        time.sleep(rng.uniform(0.0, 3.0))
        path = drill.journal
        assert path is not None
        size = path.stat().st_size
        drill.wait_until(lambda: path.stat().st_size != size, "a journal write", period=0.001)
    else:
        time.sleep(rng.uniform(0.5, 15.0))
    events = drill.events()
    where = {
        "injected": any(e["type"] == "fault_injected" for e in events),
        "applied": any(e["type"] == "note" and "record" in e.get("data", {}) for e in events),
        "mid_rollout": deployment_cause(box).startswith(("fault", "revert")) and _rollout_unfinished(box),
        "exited_before_kill": drill.proc.poll() is not None,
    }
    drill.proc.send_signal(signal.SIGKILL)
    drill.proc.wait(30)
    return where


def _rollout_unfinished(box: Sandbox) -> bool:
    """Some replica not yet on the deployment's version, or not running (a rollout is under way)."""
    target = box.target
    version = target.sandbox.deployment().version
    return any(r.version != version or r.state != "Running" for r in target.replicas())


@pytest.mark.timeout(300 + 120 * KILLS)  # each kill is a whole short drill plus the clean-up
def test_sigkill_anywhere_is_cleaned_up_by_the_next_start(chaos_sandbox: Sandbox, tmp_path: Path) -> None:
    box = chaos_sandbox
    rng = random.Random(SEED)
    scenarios = {fault: short_scenario(fault, tmp_path) for fault in FAULTS}
    tally: Counter[str] = Counter()
    landed: list[dict[str, Any]] = []
    for index, (window, fault) in enumerate(kill_plan(KILLS, SEED)):
        began = time.monotonic()
        drill = start_drill(box, scenarios[fault], tmp_path / f"kill-{index:02d}-{fault}", seed=index)
        where = kill_in(window, fault, drill, box, rng)
        killed = time.monotonic()
        left = box.pending()
        markers = box.markers()
        tally["kill points"] += 1
        tally["faults pending at the kill"] += len(left)

        # the next gameday start (any command) cleans up
        nxt = box.gameday("sandbox", "status")
        assert nxt.returncode == 0, nxt.stderr
        context = f"kill {index} ({window}, {fault}, {where})"
        for record in left:
            assert f"reverted {record.fault.value}" in nxt.stderr, f"{context}: recovery said {nxt.stderr!r}"
        assert box.pending() == [], f"{context}: a fault is still recorded as injected"
        assert box.markers() == [], f"{context}: the dead drill's marker is still there"
        assert processes_mentioning(str(drill.out)) == [], f"{context}: the dead drill's Locust still runs"
        recovered_at = time.monotonic()
        wait_steady(box)
        where["seconds"] = {"to_kill": round(killed - began, 1), "recovery": round(recovered_at - killed, 1),
                            "to_steady": round(time.monotonic() - recovered_at, 1)}

        journal = drill.journal
        if journal is not None and journal.exists():
            events = strict_journal(journal)
            recovered = [e for e in events if e["type"] == "fault_reverted" and e["actor"] == "recovery"]
            assert [e["data"]["record"] for e in recovered] == [r.id for r in left], \
                f"{context}: recovery's fault_reverted events do not match the faults left"
            assert all(e["data"]["ok"] for e in recovered), f"{context}: {recovered}"
            tally["journal lines checked"] += len(events)
        elif left:
            pytest.fail(f"{context}: a fault was injected but the drill has no journal")
        tally["faults reverted by recovery"] += len(left)
        tally["Locust orphans stopped"] += sum(1 for m in markers if m.get("load_pid"))
        landed.append({"window": window, "fault": fault, **where, "left": len(left)})

    windows = Counter(item["window"] for item in landed)
    assert len(windows) == len(WINDOWS) or len(WINDOWS) > KILLS, f"windows not all tried: {windows}"
    assert tally["faults pending at the kill"] > 0, "no kill left a fault behind to clean up; widen the windows"
    record_figures(kill_anywhere="local", kills=tally["kill points"], faults_left_behind=0, journal_lines_torn=0,
                   seq_gaps=0, **{k.replace(" ", "_"): v for k, v in tally.items()},
                   mid_rollout_kills=sum(1 for item in landed if item["mid_rollout"]),
                   by_window=dict(windows), landed=landed)
