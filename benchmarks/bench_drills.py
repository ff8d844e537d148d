"""How fast a drill's journal learns what happened, and whether compressed drills measure the system
honestly, from real drills on throwaway sandboxes.

Prints
- fault: journal entry -> undo record persisted -> change applied (the entry is written *before* the change);
- per alert: Prometheus' ``startsAt`` -> Alertmanager's webhook arriving -> the journal line (target <= 1 s
  from receipt to journal), and the fault -> first alert detection delay;
- the metric sampler's cadence (target ~1 s between samples);
- a backend replica's start-up: ``rollout restart`` of every replica on an idle sandbox, wall seconds (a
  rollout replaces the replicas one after another, so this is what the pool leak's rollout waits for).

- MTTD of the pool-leak drill at time scales 10, 30 and 60 (``GAMEDAY_BENCH_SCALES``), in runbook minutes
  as the scorer defines it: the detection chain and the fault's progression follow the scale
  (``drills/detection.py``), so the three should agree within 2 runbook minutes.  The autopilot responds,
  as in an unattended game day; each scale gets a fresh sandbox and the drill is closed (``gameday drill log
  close``) as soon as the fault is detected, so MTTD is known and the runner reverts the fault.  ``chain``
  (not run by default) does the same for the error-burst drill: a knob fault, so the detection chain alone.

The latency drill's responder is driven from this script (``gameday sandbox rollout undo``, ``gameday drill
log close``); the whole script takes a few minutes.  Ports are offset (``GAMEDAY_BENCH_PORT_OFFSET``,
default 8000) so a developer's sandbox can keep running.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from drills.faults.knobs import LEAK_AFTER_RUNBOOK_S
from gameday.journal import Event, EventType, read_journal
from gameday.metrics import incident_metrics

REPO = Path(__file__).resolve().parents[1]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
SCENARIO = REPO / "scenarios" / "connection-pool-leak.yaml"
PORT_OFFSET = os.environ.get("GAMEDAY_BENCH_PORT_OFFSET", "8000")
WAIT_S = 240.0
#: Keep each MTTD drill's folder (journal, Locust CSVs) here to look into a figure.
KEEP = Path(os.environ["GAMEDAY_BENCH_KEEP"]) if os.environ.get("GAMEDAY_BENCH_KEEP") else None


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


#: Time scales whose pool-leak MTTD is compared (runbook seconds per wall second).
SCALES = [float(s) for s in os.environ.get("GAMEDAY_BENCH_SCALES", "10,30,60").split(",")]
#: The three MTTDs must agree within this many runbook minutes.
MTTD_SPREAD_MINUTES = 2.0


@contextlib.contextmanager
def sandbox(tmp: str) -> Iterator[dict[str, str]]:
    """A fresh sandbox in ``tmp``: the environment every ``gameday`` call of the bench uses."""
    env = {**os.environ, "GAMEDAY_STATE_DIR": f"{tmp}/state", "GAMEDAY_SANDBOX_PORT_OFFSET": PORT_OFFSET,
           "GAMEDAY_ACTOR": "bench"}
    up = subprocess.run([GAMEDAY, "sandbox", "up"], env=env, capture_output=True, text=True)
    if up.returncode != 0:
        raise SystemExit(f"cannot start the sandbox: {up.stderr.strip()}")
    try:
        yield env
    finally:
        down = subprocess.run([GAMEDAY, "sandbox", "down", "--purge"], env=env, capture_output=True, text=True)
        if down.returncode != 0:
            print(f"the bench sandbox may still run ({env['GAMEDAY_STATE_DIR']}): {down.stderr.strip()}")


def main(argv: list[str]) -> int:
    """``startup``, ``latency`` and ``mttd`` (the default), or the parts named; ``chain`` only when named."""
    status = 0
    if not argv or "startup" in argv:
        with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp, sandbox(tmp) as env:
            replica_startup(Path(env["GAMEDAY_STATE_DIR"]) / "sandbox")
    if not argv or "latency" in argv:
        with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp, sandbox(tmp) as env:
            status = _drill(env, Path(tmp) / "out")
    if not argv or "mttd" in argv:
        status = max(status, mttd_across_scales(SCENARIO))
    if "chain" in argv:  # the detection chain alone (a knob fault: no rollout, no progression)
        status = max(status, mttd_across_scales(REPO / "scenarios" / "error-burst.yaml"))
    return status


#: ``rollout restart`` runs timed for the start-up figure.
STARTUP_ROUNDS = 3


def replica_startup(home: Path) -> None:
    """Wall seconds for ``rollout restart`` (every replica replaced in turn, each until it serves)."""
    from drills.sandbox.kubelet import load_config
    from drills.sandbox.stack import Sandbox

    box = Sandbox(load_config(home))
    replicas = box.deployment().replicas
    rounds = []
    for _ in range(STARTUP_ROUNDS):
        started = time.monotonic()
        box.restart()
        rounds.append(time.monotonic() - started)
        if not all(r.ready for r in box.replicas()):
            raise SystemExit(f"a replica was not ready after the restart: {box.replicas()}")
    median = statistics.median(rounds)
    print(f"replica start-up: rollout restart of {replicas} replicas {median:.2f} wall s median of {len(rounds)} "
          f"({median / replicas:.2f} s per replica; runs {', '.join(f'{r:.2f}' for r in rounds)}; "
          f"load average {os.getloadavg()[0]:.1f})", flush=True)


def mttd_across_scales(scenario: Path) -> int:
    """A drill's MTTD (runbook minutes) at each scale, and whether they agree."""
    print(f"{scenario.stem} MTTD across time scales (runbook minutes; must agree within {MTTD_SPREAD_MINUTES:g})")
    figures: dict[float, float] = {}
    for scale in SCALES:
        with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp, sandbox(tmp) as env:
            events = _detect_then_close(env, Path(tmp) / "out", scenario, scale)
            if KEEP:
                shutil.copytree(Path(tmp) / "out", KEEP / f"{scenario.stem}-{scale:g}", dirs_exist_ok=True)
        # MTTD as the scorer defines it (gameday.metrics: first fault_injected -> first alert_firing/detected)
        minutes = incident_metrics([(e.t * scale / 60.0, e.type) for e in events])["mttd"]
        assert minutes is not None, "the drill never detected the fault"
        firing = next(e for e in events if e.type in (EventType.alert_firing, EventType.detected))
        calibration = next(e.data["calibration"] for e in events if "calibration" in e.data)
        applied = next(e.data["apply_seconds"] for e in events if "apply_seconds" in e.data)  # the fault's change
        figures[scale] = minutes
        serving = _bad_release_serving(events)
        onset = "" if serving is None else (
            f"; the bad release first served after {serving * scale / 60:.2f} runbook min "
            f"(the leak is due at {LEAK_AFTER_RUNBOOK_S / 60:g}), detected {minutes - serving * scale / 60:.2f} "
            "runbook min after that")
        floored = f", floored: {', '.join(calibration['floored'])}" if calibration.get("floored") else ""
        print(f"  time scale {scale:>5g}: MTTD {minutes:5.2f} runbook min ({minutes * 60 / scale:6.2f} wall s, "
              f"first alert {firing.data.get('alertname')}; scrape {calibration['scrape_interval_s']:g} s, window "
              f"{calibration['rule_window_s']:g} s, for {calibration['alert_for_s']:g} s{floored}; the fault took "
              f"{applied:.1f} wall s to apply{onset}; load average {os.getloadavg()[0]:.1f})", flush=True)
    spread = max(figures.values()) - min(figures.values())
    verdict = "ok" if spread <= MTTD_SPREAD_MINUTES else "TOO FAR APART"
    print(f"  spread {spread:.2f} runbook min ({verdict}); wall-clock physics does not scale: a fault slower to "
          f"apply than its progression (the pool leak starts {LEAK_AFTER_RUNBOOK_S / 60:g} runbook min after the "
          "deploy) shows up in the MTTD")
    return 0 if spread <= MTTD_SPREAD_MINUTES else 1


def _bad_release_serving(events: list[Event]) -> float | None:
    """Wall seconds from the fault to the first ready replica of the release it deploys (None: no rollout)."""
    injected = next(e for e in events if e.type is EventType.fault_injected)
    version = injected.data.get("params", {}).get("version")
    if version is None:
        return None
    return next((e.t - injected.t for e in events if e.type is EventType.replica_state and e.t >= injected.t
                 and e.data.get("version") == version and e.data.get("ready")), None)


def _detect_then_close(env: dict[str, str], out: Path, scenario: Path, scale: float, *extra: str) -> list[Event]:
    """An autopilot drill closed as soon as it detected the fault (``extra``: more ``drill run`` options)."""
    with _drill_process(env, out, scenario, "--time-scale", f"{scale:g}", "--seed", "1", *extra,
                        responder="autopilot") as (proc, path):
        _wait(path, proc, EventType.detected)
        subprocess.run([GAMEDAY, "drill", "log", "close"], env=env, capture_output=True, check=True)
        proc.communicate(timeout=180)
    return read_journal(path)


@contextlib.contextmanager
def _drill_process(env: dict[str, str], out: Path, scenario: Path, *args: str,
                   responder: str = "human") -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A drill in a subprocess and its journal; terminated if still running."""
    proc = subprocess.Popen(
        [GAMEDAY, "drill", "run", str(scenario), "--responder", responder, "--out", str(out), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (found := list(out.glob("*/journal.jsonl"))):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the drill never wrote its journal:\n{proc.communicate()[0][-3000:]}")
            time.sleep(0.2)
        yield proc, found[0]
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(60)


def _drill(env: dict[str, str], out: Path) -> int:
    with _drill_process(env, out, SCENARIO, "--time-scale", "120") as (proc, path):
        _wait(path, proc, EventType.alert_firing, count=2)
        subprocess.run([GAMEDAY, "sandbox", "rollout", "undo", "backend"], env=env, capture_output=True, check=True)
        _wait(path, proc, EventType.mitigated)
        _wait(path, proc, EventType.alert_resolved)
        subprocess.run([GAMEDAY, "drill", "log", "close"], env=env, capture_output=True, check=True)
        proc.communicate(timeout=120)
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
    sys.exit(main(sys.argv[1:]))
