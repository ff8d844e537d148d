"""Run a sweep's points through an executor and tabulate them against the base policy.

The table is tidy: one row per (point, severity) plus an ``all`` row per point; the knobs are columns
named by their paths; each metric has its value, a 95% CI over runs and the paired difference from the
base (point - base, run by run on the same streams) with its CI.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.sweep.execute import Executor
from sim.sweep.metrics import ALL, interval, metric_keys
from sim.sweep.paths import current_value, describe_value
from sim.sweep.plan import SweepPlan
from sim.sweep.points import PointResult, Progress, run_points
from sim.sweep.search import search


@dataclass
class SweepResult:
    plan: SweepPlan
    points: list[PointResult]
    table: pd.DataFrame
    best: int | None  # point index of the best feasible point (None: none meets the constraints)
    seconds: float
    where: str
    trials: list[dict] = field(default_factory=list)

    @property
    def incidents(self) -> int:
        return sum(r.incidents for p in self.points for r in p.runs)


def table(plan: SweepPlan, results: list[PointResult]) -> pd.DataFrame:
    """The tidy table (see the module docstring); the base is the point with index 0."""
    base = next(r for r in results if r.point.index == 0)
    keys = metric_keys(plan.levels)
    row_names = [*plan.rows, ALL]
    paths = [k.path for k in plan.sweep.vary]
    records = []
    for res in results:
        diffs = res.per_run - base.per_run
        for r, severity in enumerate(row_names):
            count = sum(s.sums[r, 0] for s in res.runs)
            rec: dict = {"point": res.point.index, "label": res.point.label, "is_base": res.point.index == 0}
            for path in paths:
                value = res.point.changes.get(path, _base_value(plan, path))
                rec[path] = describe_value(value)
            rec |= {"severity": severity, "incidents": int(count), "runs": len(res.runs)}
            for m, key in enumerate(keys):
                lo, hi = interval(res.per_run[:, r, m])
                d = diffs[:, r, m]
                d = d[~np.isnan(d)]
                dlo, dhi = interval(d)
                rec |= {key: _f(res.pooled[r, m]), f"{key}_ci_low": lo, f"{key}_ci_high": hi,
                        f"{key}_diff": _f(d.mean()) if d.size else math.nan,
                        f"{key}_diff_low": dlo, f"{key}_diff_high": dhi}
            records.append(rec)
    return pd.DataFrame.from_records(records)


def _f(value: float) -> float:
    return float(value)


def _base_value(plan: SweepPlan, path: str):
    return current_value(plan.base, path)


def feasible(plan: SweepPlan, frame: pd.DataFrame, point: int) -> bool:
    return all(c.met(value_of(frame, point, c.key, c.severity)) for c in plan.constraints)


def value_of(frame: pd.DataFrame, point: int, key: str, severity: str) -> float:
    row = frame[(frame["point"] == point) & (frame["severity"] == severity)]
    return float(row[key].iloc[0]) if len(row) else math.nan


def choose_best(plan: SweepPlan, frame: pd.DataFrame) -> int | None:
    """The feasible point with the lowest objective (ties: the lower point index)."""
    key, severity = plan.objective
    best, best_value = None, math.inf
    for point in sorted(frame["point"].unique()):
        value = value_of(frame, int(point), key, severity)
        if value == value and value < best_value and feasible(plan, frame, int(point)):
            best, best_value = int(point), value
    return best


def run_sweep(plan: SweepPlan, executor: Executor, progress: Progress | None = None) -> SweepResult:
    """A grid (every point of the plan) or, with ``search``, an Optuna search; then the table and the best."""
    started = time.perf_counter()
    trials: list[dict] = []
    if plan.sweep.search is None:
        results = run_points(plan, plan.points, executor, progress)
    else:
        results, trials = search(plan, executor, progress)
    frame = table(plan, results)
    return SweepResult(plan=plan, points=results, table=frame, best=choose_best(plan, frame),
                       seconds=time.perf_counter() - started, where=executor.describe(), trials=trials)
