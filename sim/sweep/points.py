"""A batch of points run through an executor: every task of every point, results filed by (point, run).

A grid runs its points in one batch (:func:`sim.sweep.run.run_sweep`), a search in several, one per round of
proposals (:mod:`sim.sweep.search`); both tabulate the :class:`PointResult` this returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.sweep.execute import Executor
from sim.sweep.metrics import TaskStats, pooled_values, run_values
from sim.sweep.plan import Point, SweepPlan


@dataclass
class Tick:
    """Where a running sweep is: what the progress bar shows."""

    tasks_done: int = 0
    tasks_total: int = 0
    points_done: int = 0
    points_total: int = 0
    incidents_done: int = 0


Progress = Callable[[Tick], None]


@dataclass
class PointResult:
    point: Point
    runs: list[TaskStats]  # in (replication, chunk) order
    pooled: np.ndarray  # (rows + 1, metrics)
    per_run: np.ndarray  # (runs, rows + 1, metrics)


def run_points(plan: SweepPlan, points: list[Point], executor: Executor, progress: Progress | None = None,
               tick: Tick | None = None) -> list[PointResult]:
    """All runs of ``points``; results filed by (point, run) so completion order never matters.
    ``tick`` carries the progress of earlier batches (a search runs several)."""
    layout = plan.runs()
    tasks = [task for point in points for task in plan.tasks(point)]
    slots: list[TaskStats | None] = [None] * len(tasks)
    tick = tick or Tick(points_total=len(points))
    tick.tasks_total = max(tick.tasks_total, tick.tasks_done + len(tasks))
    left = [len(layout)] * len(points)

    def on_result(i: int, stats: TaskStats) -> None:
        slots[i] = stats
        tick.tasks_done += 1
        tick.incidents_done += stats.incidents
        left[i // len(layout)] -= 1
        if left[i // len(layout)] == 0:
            tick.points_done += 1
        if progress is not None:
            progress(tick)

    executor.map(tasks, on_result)
    missing = [i for i, s in enumerate(slots) if s is None]
    if missing:  # pragma: no cover - an executor that drops results is a bug
        raise RuntimeError(f"{len(missing)} sweep tasks returned nothing")
    oncall_of = {p.index: p.policy.responders.oncall for p in points}
    results = []
    for k, point in enumerate(points):
        runs = [s for s in slots[k * len(layout):(k + 1) * len(layout)] if s is not None]
        per_run = np.stack([run_values(r, oncall_of[point.index], plan.levels) for r in runs])
        results.append(PointResult(point=point, runs=runs, per_run=per_run,
                                   pooled=pooled_values(runs, oncall_of[point.index], plan.levels)))
    return results
