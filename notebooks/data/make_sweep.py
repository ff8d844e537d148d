"""Write ``notebooks/data/escalation_sweep.csv``: the tidy table of the ``l2-vs-oncall`` sweep.

The escalation sweep notebook reads this table.  It is exactly what
``gameday sweep scenarios/sweeps/l2-vs-oncall.yaml --incidents 40000 --out notebooks/data/escalation_sweep.csv``
writes (fewer incidents than the file asks for, so that it runs in about a minute):

    .venv/bin/python notebooks/data/make_sweep.py [--workers 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.sweep.execute import LocalExecutor
from sim.sweep.output import write_table
from sim.sweep.plan import make_plan
from sim.sweep.run import run_sweep
from sim.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "scenarios" / "sweeps" / "l2-vs-oncall.yaml"
OUT = Path(__file__).resolve().parent / "escalation_sweep.csv"
INCIDENTS = 40_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    plan = make_plan(load_sweep(SWEEP, {"incidents": INCIDENTS}))
    with LocalExecutor(args.workers) as executor:
        result = run_sweep(plan, executor)
    write_table(result.table, OUT)
    print(f"{OUT}: {len(result.table)} rows, {len(result.points)} policies, {result.seconds:.0f} s")


if __name__ == "__main__":
    main()
