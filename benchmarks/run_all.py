"""Run every ``benchmarks/bench_*.py`` in turn and print its output (``make bench``).

Each benchmark is a plain script that prints its own figures; a failing one is reported and the rest
still run, and the exit code is non-zero if any failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The dated benchmark log every run appends to.
LOG = HERE.parent / "docs" / "benchmarks.md"
#: Run only when named: `make chaos` (tens of minutes of kills and fuzzing).
ON_REQUEST = {"bench_chaos"}


def main(argv: list[str]) -> int:
    """Run the benchmarks named on the command line (file stems or paths), or all of them."""
    wanted = set(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if wanted:
        scripts = [s for s in scripts if s.stem in wanted or str(s) in wanted or s.name in wanted]
    else:
        scripts = [s for s in scripts if s.stem not in ON_REQUEST]
    failed: list[str] = []
    for script in scripts:
        print(f"=== {script.name}", flush=True)
        started, when, load = time.monotonic(), datetime.now(UTC), os.getloadavg()
        proc = subprocess.Popen([sys.executable, str(script)], cwd=HERE.parent, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:  # shown as it comes, and kept for the log
            print(line, end="", flush=True)
            lines.append(line)
        returncode = proc.wait()
        took = time.monotonic() - started
        status = "ok" if returncode == 0 else f"FAILED (exit {returncode})"
        print(f"=== {script.name}: {status} in {took:.1f} s\n", flush=True)
        append_to_log(script.name, when, status, took, load, "".join(lines))
        if returncode != 0:
            failed.append(script.name)
    if not scripts:
        print("no benchmarks/bench_*.py found")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


def append_to_log(name: str, when: datetime, status: str, took: float, load: tuple[float, float, float],
                  output: str) -> None:
    """Every run's figures, dated, in the benchmark log (the README says what gameday does; this says how
    fast it was, when, on what machine)."""
    LOG.parent.mkdir(parents=True, exist_ok=True)
    head = (f"\n## {when:%Y-%m-%d %H:%M} UTC — {name}: {status} in {took:.0f} s\n\n"
            f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the start; "
            f"commit {_commit()}\n\n")
    with LOG.open("a", encoding="utf-8") as log:
        log.write(head + "```text\n" + output.rstrip("\n") + "\n```\n")


def _commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent, capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
