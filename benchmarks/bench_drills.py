"""How fast a drill's journal learns what happened, from one real short drill on a throwaway sandbox.

Prints
- fault: journal entry -> undo record persisted -> change applied (the entry is written *before* the change);
- per alert: Prometheus' ``startsAt`` -> Alertmanager's webhook arriving -> the journal line (target <= 1 s
  from receipt to journal), and the fault -> first alert detection delay;
- the metric sampler's cadence (target ~1 s between samples).

The drill uses human responders driven from this script (``gameday sandbox rollout undo``, ``gameday drill
log close``), so it takes about a minute.  Ports are offset (``GAMEDAY_BENCH_PORT_OFFSET``, default 8000)
so a developer's sandbox can keep running.
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from gameday.journal import Event, EventType, read_journal

REPO = Path(__file__).resolve().parents[1]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
SCENARIO = REPO / "scenarios" / "connection-pool-leak.yaml"
PORT_OFFSET = os.environ.get("GAMEDAY_BENCH_PORT_OFFSET", "8000")
WAIT_S = 240.0


def _wait(path: Path, proc: subprocess.Popen[str], kind: EventType, count: int = 1) -> list[Event]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if path.exists():
            found = [e for e in read_journal(path) if e.type is kind]
            if len(found) >= count:
                return found
        if proc.poll() is not None:
            raise SystemExit(f"drill ended early:\n{proc.communicate()[0][-3000:]}")
        time.sleep(0.2)
    raise SystemExit(f"no {kind.value} within {WAIT_S:g} s")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp:
        env = {**os.environ, "GAMEDAY_STATE_DIR": f"{tmp}/state", "GAMEDAY_SANDBOX_PORT_OFFSET": PORT_OFFSET,
               "GAMEDAY_ACTOR": "bench"}
        up = subprocess.run([GAMEDAY, "sandbox", "up"], env=env, capture_output=True, text=True)
        if up.returncode != 0:
            print(f"cannot start the sandbox: {up.stderr.strip()}")
            return 1
        try:
            return _drill(env, Path(tmp) / "out")
        finally:
            subprocess.run([GAMEDAY, "sandbox", "down", "--purge"], env=env, capture_output=True)


def _drill(env: dict[str, str], out: Path) -> int:
    proc = subprocess.Popen(
        [GAMEDAY, "drill", "run", str(SCENARIO), "--responder", "human", "--time-scale", "120", "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("*/journal.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.2)
        path = next(out.glob("*/journal.jsonl"))
        _wait(path, proc, EventType.alert_firing, count=2)
        subprocess.run([GAMEDAY, "sandbox", "rollout", "undo", "backend"], env=env, capture_output=True, check=True)
        _wait(path, proc, EventType.mitigated)
        _wait(path, proc, EventType.alert_resolved)
        subprocess.run([GAMEDAY, "drill", "log", "close"], env=env, capture_output=True, check=True)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(60)
    report(read_journal(path))
    return 0 if proc.returncode == 0 else 1


def report(events: list[Event]) -> None:
    injected = next(e for e in events if e.type is EventType.fault_injected)
    applied = next(e for e in events if e.type is EventType.note and "record" in e.data)
    recorded = datetime.fromisoformat(applied.data["recorded_at"])
    print("fault injection")
    print(f"  journal entry -> undo record persisted  {_ms((recorded - injected.ts).total_seconds())}")
    print(f"  journal entry -> change applied         {_ms(applied.data['apply_seconds'])}")
    print("alerts (startsAt = Prometheus; receipt = the runner's webhook)")
    print(f"  {'alert':<24}{'status':<10}{'startsAt->receipt':>20}{'receipt->journal':>20}{'fault->journal':>18}")
    receipt_lags: list[float] = []
    for event in events:
        if event.type not in (EventType.alert_firing, EventType.alert_resolved):
            continue
        received = datetime.fromisoformat(event.data["received_at"])
        received = received.replace(microsecond=received.microsecond // 1000 * 1000)  # journal ts is in ms
        starts_raw = event.data.get("starts_at") if event.type is EventType.alert_firing else event.data.get("ends_at")
        starts = datetime.fromisoformat(starts_raw) if starts_raw else None
        lag = (event.ts - received).total_seconds()
        receipt_lags.append(lag)
        print(
            f"  {event.data['alertname']:<24}{event.type.value.split('_')[1]:<10}"
            f"{_ms((received - starts).total_seconds()) if starts else '—':>20}{_ms(lag):>20}"
            f"{event.t - injected.t:>16.2f} s"
        )
    if receipt_lags:
        print(f"  receipt -> journal: max {_ms(max(receipt_lags))} (target <= 1000 ms)")
    samples = [e.t for e in events if e.type is EventType.metric_sample]
    gaps = [b - a for a, b in itertools.pairwise(samples)]
    if gaps:
        print(f"metric samples: {len(samples)}, interval median {statistics.median(gaps):.3f} s, "
              f"max {max(gaps):.3f} s (target ~1 s)")


if __name__ == "__main__":
    sys.exit(main())
