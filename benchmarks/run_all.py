"""Run every ``benchmarks/bench_*.py`` in turn and print its output (``make bench``).

Each benchmark is a plain script that prints its own figures; a failing one is reported and the rest
still run, and the exit code is non-zero if any failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
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
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        took = time.monotonic() - started
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"=== {script.name}: {status} in {took:.1f} s\n", flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if not scripts:
        print("no benchmarks/bench_*.py found")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
