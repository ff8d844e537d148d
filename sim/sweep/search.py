"""``--search N``: Optuna's TPE sampler proposes the points instead of a full grid.

Reproducible for a seed: the sampler is seeded with the sweep's seed, proposes a fixed number of
trials at a time (``search_batch``, never the worker count), and is told each batch's results in trial
order, so the same seed asks for the same points whatever runs them.  Every trial is a point like a
grid's: the same streams as the base (CRN), the same table.  Constraints (``--subject-to``) go to the
sampler as Optuna constraints (feasible when every value is <= 0).
"""

from __future__ import annotations

import json
import math
from typing import Any

from sim.sweep.execute import Executor
from sim.sweep.metrics import ALL, metric_keys
from sim.sweep.plan import Point, SweepPlan
from sim.sweep.points import PointResult, Progress, Tick, run_points
from sim.sweep.spec import Knob

#: the constraint value of a metric that could not be measured (Optuna refuses NaN)
UNMET = 1e12


def suggest(trial, knob: Knob) -> Any:
    """The trial's value for one knob: categorical over values, int or float over a range."""
    if knob.values is not None:
        encoded = [json.dumps(v, sort_keys=True) for v in knob.values]  # Optuna wants plain scalars
        return json.loads(trial.suggest_categorical(knob.path, encoded))
    lo, hi = knob.range  # type: ignore[misc]
    if knob.integer:
        return trial.suggest_int(knob.path, int(lo), int(hi), log=knob.log)
    return trial.suggest_float(knob.path, float(lo), float(hi), log=knob.log)


def value_at(plan: SweepPlan, result: PointResult, key: str, severity: str) -> float:
    row = [*plan.rows, ALL].index(severity)
    return float(result.pooled[row, metric_keys(plan.levels).index(key)])


def search(plan: SweepPlan, executor: Executor, progress: Progress | None = None
           ) -> tuple[list[PointResult], list[dict]]:
    """The base, then ``plan.sweep.search`` trials in batches; returns every point and a trial log."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sweep = plan.sweep
    key, severity = plan.objective
    sampler = optuna.samplers.TPESampler(seed=sweep.seed)
    study = optuna.create_study(direction="minimize", sampler=sampler, study_name=sweep.name)
    tick = Tick(points_total=sweep.search + 1)  # type: ignore[operator]
    results = run_points(plan, [plan.points[0]], executor, progress, tick)
    seen: dict[str, PointResult] = {}
    log: list[dict] = []
    index = 1
    while index <= sweep.search:  # type: ignore[operator]
        trials = [study.ask() for _ in range(min(sweep.search_batch, sweep.search - index + 1))]  # type: ignore[operator]
        points: list[Point] = []
        for trial in trials:
            changes = {knob.path: suggest(trial, knob) for knob in sweep.vary}
            points.append(plan.point(index, changes))
            index += 1
        fresh = [p for p in points if _key(p) not in seen]
        for res in run_points(plan, fresh, executor, progress, tick):
            seen[_key(res.point)] = res
        for trial, point in zip(trials, points, strict=True):
            known = seen[_key(point)]
            res = known if known.point is point else PointResult(point=point, runs=known.runs, pooled=known.pooled,
                                                                 per_run=known.per_run)
            if known.point is not point:  # a repeated proposal: same policy, same streams, same numbers
                tick.points_done += 1
            results.append(res)
            value = value_at(plan, res, key, severity)
            slack = [c.slack(value_at(plan, res, c.key, c.severity)) for c in plan.constraints]
            for constraint, s in zip(plan.constraints, slack, strict=True):
                trial.set_constraint(constraint.text, min(s, UNMET))
            feasible = all(s <= 0 for s in slack)
            if math.isfinite(value):
                study.tell(trial, value)
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            log.append({"trial": trial.number, "point": point.index, "changes": point.changes,
                        "value": value if math.isfinite(value) else None, "feasible": feasible})
    return results, log


def _key(point: Point) -> str:
    return json.dumps(point.changes, sort_keys=True, default=str)
