"""Reliability figures (``make chaos``; also part of ``make bench``): the chaos tests run at a larger size
than in CI, and what they report is summed up.

Prints: kill points tried (sandbox drills, Kubernetes runners, journal writers) and the faults left behind,
journal lines lost or torn, events lost by concurrent writers, inputs fuzzed per kind, watch actions
missed, and how each dependency outage ended.  Every figure comes from the assertions of a test that
fails if the figure is wrong (a fault left behind, a torn line, a missed action), so a run that prints
them passed.  Sizes: GAMEDAY_CHAOS_KILLS (sandbox kills, default 24 here), GAMEDAY_CHAOS_K8S_KILLS (24),
GAMEDAY_CHAOS_JOURNAL_KILLS (100), GAMEDAY_FUZZ_EXAMPLES (1000); GAMEDAY_CHAOS_TESTS narrows the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TESTS = ["tests/chaos", "tests/k8s/test_kill_anywhere_k8s.py", "tests/k8s/test_watch_chaos.py"]
SIZES = {"GAMEDAY_CHAOS_KILLS": "24", "GAMEDAY_CHAOS_K8S_KILLS": "24", "GAMEDAY_CHAOS_JOURNAL_KILLS": "100",
         "GAMEDAY_FUZZ_EXAMPLES": "1000"}  # fmt: skip


def run_tests(figures: Path) -> int:
    env = {**os.environ, "GAMEDAY_CHAOS_FIGURES": str(figures)}
    for name, default in SIZES.items():
        env.setdefault(name, default)
    tests = os.environ.get("GAMEDAY_CHAOS_TESTS", " ".join(TESTS)).split()
    print("sizes: " + ", ".join(f"{k}={env[k]}" for k in SIZES), flush=True)
    started = time.monotonic()
    done = subprocess.run([str(Path(sys.executable).with_name("pytest")), "-q", "-p", "no:cacheprovider", *tests],
                          cwd=REPO, env=env, check=False)  # fmt: skip
    print(f"chaos tests: exit {done.returncode} in {time.monotonic() - started:.0f} s\n", flush=True)
    return done.returncode


def summarise(lines: list[dict[str, Any]]) -> list[str]:
    out = []
    for where in ("local", "kubernetes"):
        runs = [f for f in lines if f.get("kill_anywhere") == where]
        if runs:
            kills = sum(f["kills"] for f in runs)
            pending = sum(f.get("faults_pending_at_the_kill", 0) for f in runs)
            checked = sum(f.get("journal_lines_checked", 0) for f in runs)
            windows = sorted({w for f in runs for w in f.get("by_window", {})})
            out.append(f"kill -9 anywhere ({where}): {kills} kill points in {len(windows)} windows; "
                       f"{pending} faults pending at a kill, all reverted by the next start; faults left behind 0; "
                       f"journal lines lost or torn 0 of {checked}")
    journal = [f for f in lines if "journal_kills" in f]
    if journal:
        out.append(f"journal writers killed mid-line: {sum(f['journal_kills'] for f in journal)} kills, "
                   f"{sum(f['torn_writes'] for f in journal)} torn tails set aside, events lost 0, torn lines 0")
    signals = [f for f in lines if "signal_phase" in f]
    if signals:
        out.append(f"SIGINT/SIGTERM: {len(signals)} phases ({'; '.join(f['signal_phase'] for f in signals)}), "
                   "faults left behind 0")
    writers = [f for f in lines if "writers" in f]
    for f in writers:
        out.append(f"concurrent writers: {f['writers']} processes (drill log + war room) and {f['commands']} "
                   f"`gameday drill log` commands, {f['events']} events: lost 0, doubled 0, torn 0, seq gaps 0")
    fuzz: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in lines:
        if "fuzz" in f:
            for key, value in f.items():
                if key != "fuzz" and isinstance(value, int):
                    fuzz[f["fuzz"]][key] += value
    if fuzz:
        total = sum(c.get("inputs", 0) for c in fuzz.values())
        kinds = ", ".join(f"{kind} {c.get('inputs', 0)}" for kind, c in sorted(fuzz.items()))
        refused = sum(c.get("refused", 0) for c in fuzz.values())
        out.append(f"inputs fuzzed: {total} ({kinds}); {refused} refused, each in one line with exit 2, no "
                   f"traceback, no partial output; {total - refused} accepted")
    for f in lines:
        if "dependency" in f:
            out.append(f"dependency down mid-drill: {f['dependency']}: {f['ended']}; faults left behind 0, "
                       "events lost 0")
        if f.get("second_drill"):
            out.append("second drill on a busy target: refused with the first drill's id (also with --force); "
                       "double injections 0")
        if "actions" in f and "missed" in f:
            out.append(f"kubectl watch: {f['actions']} actions, {f['outages']} outages ({f['watch']}): "
                       f"missed {f['missed']}, doubled {f['doubled']}, live lag max {f['live_lag_s_max']} s")
    return out


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="gameday-chaos-") as tmp:
        figures = Path(tmp) / "figures.jsonl"
        figures.touch()
        status = run_tests(figures)
        lines = [json.loads(line) for line in figures.read_text(encoding="utf-8").splitlines() if line.strip()]
    print("reliability figures" + ("" if status == 0 else " (SOME CHAOS TESTS FAILED: figures incomplete)"))
    for line in summarise(lines):
        print(f"  {line}")
    return status


if __name__ == "__main__":
    sys.exit(main())
