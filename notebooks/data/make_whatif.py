"""Write ``notebooks/data/escalation_whatif.csv``: per-incident outcomes of each escalation policy.

The escalation what-if notebook reads this table.  It was produced with the simulator's Python API
(``sim.runner.run``) because the ``gameday sim`` command that writes such tables was not ready when the
notebook was written; once it is, point the notebook at its CSV/Parquet output instead.  Every policy is
run with the same seed, so incident *i* of replication *r* is the same incident under every policy
(common random numbers) and the comparison is paired.  Metric columns are named after the ids of
``gameday.metrics`` (``mtta_minutes``: detected -> acknowledged, ``mttr_minutes``: started -> resolved, ...).

    .venv/bin/python notebooks/data/make_whatif.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gameday.files import load_model
from gameday.metrics import METRICS
from gameday.runbook import load_runbook
from sim.model import compile_model
from sim.policy import Policy
from sim.runner import run

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "escalation_whatif.csv"
POLICIES = ["baseline", "faster-escalation"]
INCIDENTS, REPLICATIONS, SEED = 2000, 10, 7


def main() -> None:
    runbook = load_runbook()
    frames = []
    for name in POLICIES:
        policy = load_model(ROOT / "scenarios" / "policies" / f"{name}.yaml", Policy)
        severities = compile_model(policy, runbook).severities
        for outcome in run(policy, runbook, INCIDENTS, SEED, replications=REPLICATIONS):
            frames.append(pd.DataFrame({
                "policy": name,
                "replication": outcome.replication,
                "incident": range(len(outcome.severity)),
                "severity": [severities[i] for i in outcome.severity],
                # one column per metric of gameday.metrics (README glossary): mttd_minutes ... mttr_minutes
                **{f"{m.id}_minutes": outcome.metrics[m.id].round(3) for m in METRICS},
                "wait_minutes": outcome.wait.round(3),
                "levels_engaged": outcome.escalation_engaged.sum(axis=1),
                "auto_rolled_back": outcome.auto_rolled_back,
            }))
    table = pd.concat(frames, ignore_index=True)
    table.to_csv(OUT, index=False)
    print(f"{OUT}: {len(table)} rows")


if __name__ == "__main__":
    main()
