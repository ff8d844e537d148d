"""The SimPy engine's random inputs: every number an incident reads, made before the run from the kernel's draws.

- :class:`IncidentDraws`: what each incident brings with it, drawn once per replication by the kernel's own
  helpers (arrival and severity, detection, the paging rounds, the ladder's unanswered pages and ack
  delays, the automatic rollback), as ``array('d')`` columns (:func:`sim.simpy_plan.column`) and lists;
- :class:`VisitColumns`: per workflow node and visit, the draw columns that visit reads (taken from the
  :class:`sim.simpy_plan.Plan`'s tables), made for every incident the first time any incident gets there.
  This is the one place the engine grows a column: the incident process reads ``at[k][v]`` and calls
  :meth:`VisitColumns.grow` on an ``IndexError``.

Both hold the kernel's values column for column, so for a given seed and replication both engines see the
same incidents (common random numbers); when a column is made changes nothing in it
(:class:`sim.streams.Uniforms` makes a purpose's visits in order, whoever asks first).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np

from sim.kernel import _arrivals, _detection, auto_rollback_draws, ladder_draws, page_round_draws
from sim.model import CompiledModel
from sim.simpy_plan import (
    ASSEMBLE,
    DECISION,
    ESCALATE,
    FIX,
    FIX_WORKED,
    INVESTIGATE,
    MONITOR,
    ROOT_CAUSE,
    Plan,
    column,
)
from sim.streams import Streams


class IncidentDraws:
    """The per-incident draws of one replication (incident ``i`` at index ``i``; rung ``j`` of the ladder).

    ``arrival``, ``detect_gap`` (minutes from arrival to detection), ``rb_after`` (minutes from detection to
    the automatic rollback) and ``manager`` are float columns; ``round_best[r]`` is paging round ``r``'s
    fastest answer (inf: nobody answered); ``fails[j]`` the unanswered pages of rung ``j`` before the
    answered one (inf: never answered) and ``ladder_delay[j]`` the answering person's ack delay."""

    __slots__ = ("arrival", "auto", "detect_gap", "fails", "fails_by_incident", "ladder_delay", "manager",
                 "rb_after", "round_best", "sev", "via_alert")

    def __init__(self, model: CompiledModel, streams: Streams, n: int) -> None:
        arrival, sev = _arrivals(model, streams, n)
        ttd, via_alert = _detection(model, streams, sev)
        self.arrival: array = column(arrival)
        self.sev: list[int] = sev.tolist()
        self.detect_gap: array = column(ttd)
        self.via_alert: np.ndarray = via_alert
        best, manager = page_round_draws(model, streams, n)
        self.round_best: list[array] = [column(b) for b in best]
        self.manager: array = column(manager)
        fails, delays = ladder_draws(model, streams, n)
        self.fails: list[list[float]] = fails.T.tolist()
        self.fails_by_incident: np.ndarray = fails  # (n, rungs), for count_ladder_pages
        self.ladder_delay: list[array] = [column(d) for d in delays.T]
        auto, rb_after = auto_rollback_draws(model, streams, sev)
        self.auto: list[bool] = auto.tolist()
        self.rb_after: array = column(rb_after)


class VisitColumns:
    """``at[k][v]``: the draw columns node ``k``'s ``v``-th visit reads, in the order its step reads them
    (``at[k][v][c][i]`` is incident ``i``'s value).  Per node code:

    ==============================  ============================================================
    INVESTIGATE                     (hypothesis, test)
    FIX                             (choice uniform, rollback minutes, hotfix minutes)
    ROOT_CAUSE, FIX_WORKED,         (decision uniform,)
    DECISION
    MONITOR                         (recurrence uniform, minutes-into-the-watch uniform)
    ESCALATE                        (minutes, the SME's delay)
    ASSEMBLE                        (minutes, (each staffed role's ack delay, in ``plan.role_names`` order))
    any other step with a duration  (minutes,)
    a step without one              ()
    ==============================  ============================================================

    Visit 0 is ready from the start; an ``IndexError`` on ``at[k][v]`` means visit ``v`` is not made yet:
    :meth:`grow` makes it (and any visit before it) for every incident."""

    __slots__ = ("at", "plan")

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.at: list[list[tuple]] = [[self._make(k, 0)] for k in range(len(plan.codes))]

    def grow(self, k: int, v: int) -> tuple:
        cols = self.at[k]
        while len(cols) <= v:
            cols.append(self._make(k, len(cols)))
        return cols[v]

    def _make(self, k: int, v: int) -> tuple[Sequence[float] | tuple, ...]:
        plan = self.plan
        code = plan.codes[k]
        if code == INVESTIGATE:
            return plan.main.grow(k, v), plan.second.grow(k, v)
        if code == FIX:
            return plan.aux.grow(k, v), plan.main.grow(k, v), plan.second.grow(k, v)
        if code in (ROOT_CAUSE, FIX_WORKED, DECISION):
            return (plan.aux.grow(k, v),)
        if code == MONITOR:
            return plan.recur.grow(k, v), plan.watch.grow(k, v)
        if code == ESCALATE:
            return plan.main.grow(k, v), plan.sme.grow(k, v)
        if code == ASSEMBLE:
            return plan.main.grow(k, v), tuple(plan.roles.grow(r, v) for r in range(len(plan.role_names)))
        if plan.main.cols[k] is not None:
            return (plan.main.grow(k, v),)
        return ()
