"""The monthly review of a large history: ``GAMEDAY_BENCH_HISTORY_INCIDENTS`` (default 1000) stored incidents.

The incidents are a simulated journal (baseline policy, seed 1) stored as past incidents (its source relabelled
``timeline``, so they count as the runbook's incidents); the store is filled once, then ``monthly_review`` plus the
HTML and Markdown pages are timed.  Target: under 5 s (issue 23).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gameday.history.ingest import read_journal_file
from gameday.history.render import write_monthly
from gameday.history.review import monthly_review
from gameday.history.store import HistoryStore
from gameday.runbook import load_runbook
from sim.detectability import count_trend_noise

REPO = Path(__file__).resolve().parents[1]
INCIDENTS = int(os.environ.get("GAMEDAY_BENCH_HISTORY_INCIDENTS", "1000"))
TARGET_S = 5.0


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="gameday-bench-history-"))
    sim = folder / "sim.jsonl"
    subprocess.run([str(Path(sys.executable).with_name("gameday")), "simulate", "--policy",
                    str(REPO / "scenarios" / "policies" / "baseline.yaml"), "--incidents", str(INCIDENTS),
                    "--replications", "1", "--seed", "1", "--journal", str(sim)], check=True, capture_output=True)
    past = folder / "past.jsonl"
    lines = sim.read_text(encoding="utf-8").splitlines(keepends=True)
    past.write_text(lines[0].replace('"source":"sim"', '"source":"timeline"') + "".join(lines[1:]),
                    encoding="utf-8")
    store = HistoryStore(folder / "history.duckdb")
    started = time.monotonic()
    store.add([read_journal_file(past)])
    filled = time.monotonic() - started
    stored = int(store.frame("SELECT count(*) AS n FROM incidents WHERE kind = 'incident'")["n"][0])
    runbook = load_runbook()
    started = time.monotonic()
    review = monthly_review(store, runbook, count_noise=count_trend_noise)
    write_monthly(review, folder / "review", store.path)
    took = time.monotonic() - started
    print(f"store filled with {stored} incidents in {filled:.1f} s")
    print(f"monthly review of {stored} stored incidents (HTML + Markdown): {took:.2f} s (target < {TARGET_S:g} s)")
    return 0 if took < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
