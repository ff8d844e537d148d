"""What a sweep measures per point, from one task's replication up to the paired comparison with the base.

A task (one chunk of one replication of one policy) is reduced *in the worker* to a few numbers per
severity (:class:`TaskStats`: sums, counts and 95th percentiles), so nothing per incident travels back.
The client adds the tasks of a point up in a fixed order, so the local and the Dask runs give the
same bits.  Each (replication, chunk) is an independent run; CIs are Student-t over runs, and a point's
difference from the base is paired run by run (same seed, same streams: common random numbers).

Definitions (minutes unless named otherwise):

- ``mttd``, ``mtta``, ``time_to_restore``, ``mttr`` as the README's metrics glossary defines them
  (:mod:`gameday.metrics`, through :func:`sim.milestones.milestones`: ``mttr`` ends when the stability watch
  held); ``_mean`` over all incidents, ``_p95`` the mean over runs of each run's 95th percentile;
- ``compliance``: share of incidents meeting every runbook target that applies to them, as
  :func:`gameday.metrics.complies` defines it (MTTD, MTTA, the severity's response time for the time to
  declare, the severity's MTTR target): the figure ``gameday simulate`` and ``gameday score`` give;
  ``mttr_within_target`` the MTTR one alone;
- ``pages_per_week``: people paged (on-call rounds x people per round, and every ladder page sent before
  the restore) per simulated week; ``escalations_L<n>_per_week``: incidents whose rung n was paged;
- ``people_hours_per_week``: hours people were engaged until the restore (the on-call's held time, each
  answered ladder rung from its answer, each staffed incident role from the declaration) per week;
- ``utilisation``: the on-call pool's busy share (``all`` row only; empty with unlimited on-call);
- ``initial_notice_in_time``: of the declared incidents users are told of (the runbook's external
  communication), the share whose initial notification went out within its minutes of the declaration, written
  as the SimPy journal writes it (:func:`sim.simpy_comms.initial_notices`: the CL's ``status_update`` draw).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from gameday.errors import InputError
from gameday.metrics import NO_TARGET, complies, meets, metric_values
from sim.kernel import Replication
from sim.milestones import incident_targets, milestones
from sim.model import CompiledModel
from sim.simpy_comms import initial_notices
from sim.stats import ci95

ALL = "all"
TIMES = ("mttd", "mtta", "time_to_restore", "mttr")  # metric ids of gameday.metrics
MINUTES_PER_WEEK = 7 * 24 * 60.0
#: per-severity sums a task returns, in this order (columns of ``TaskStats.sums``)
SUM_FIELDS = ("count", *TIMES, "compliant", "mttr_met", "pages", "people_minutes", "notice_due", "notice_in_time")


@dataclass
class TaskStats:
    """One run (a chunk of a replication) reduced to numbers; rows = severities, then ``all``."""

    point: int
    replication: int
    chunk: int
    sums: np.ndarray  # (severities + 1, len(SUM_FIELDS))
    p95: np.ndarray  # (severities + 1, len(TIMES))
    escalated: np.ndarray  # (severities + 1, rungs): incidents whose rung was paged
    busy_minutes: float
    span_minutes: float
    incidents: int
    cpu_seconds: float = 0.0  # what the run cost the worker (never part of the table)


def reduce_task(
    model: CompiledModel,
    rep: Replication,
    rows: tuple[str, ...] | list[str],
    point: int,
    replication: int,
    chunk: int,
    seed: int = 0,
) -> TaskStats:
    """The worker-side reduction of one run (see the module docstring for the definitions); ``rows`` are
    the table's severities (a point whose arrivals leave one out has NaN there), then ``all``."""
    sev = rep.severity
    times = metric_values(milestones(model, rep))
    goals = incident_targets(model, sev)
    mttr_met = meets(times["mttr"], goals.get("mttr", NO_TARGET))
    compliant = np.broadcast_to(complies(times, goals), sev.shape)
    responders = model.policy.responders
    pages = rep.page_rounds * responders.page_at_once
    if rep.ladder_pages is not None and rep.ladder_pages.size:
        pages = pages + rep.ladder_pages.sum(axis=1)
    engaged = np.where(np.isfinite(rep.escalation_engaged), rep.restored[:, None] - rep.escalation_engaged, 0.0)
    declared = np.isfinite(rep.declared) & (rep.restored > rep.declared)
    roles = len(responders.roles) * np.where(declared, rep.restored - rep.declared, 0.0)
    people = rep.hold + np.maximum(engaged, 0.0).sum(axis=1) + roles
    notice_due, notice_in_time = initial_notices(model, rep, seed, replication, chunk)
    columns = (
        np.ones(sev.size),
        *(times[m] for m in TIMES),
        compliant,
        mttr_met,
        pages,
        people,
        notice_due,
        notice_in_time,
    )
    n_rows = len(rows)
    sums = np.zeros((n_rows + 1, len(SUM_FIELDS)))
    p95 = np.full((n_rows + 1, len(TIMES)), np.nan)
    escalated = np.zeros((n_rows + 1, len(model.ladder)))
    # severity groups as contiguous slices of a stable sort: the same values in the same order as masks
    # would select (so the same sums), without a masked copy per group and metric
    order = np.argsort(sev, kind="stable")
    bounds = np.searchsorted(sev[order], np.arange(len(model.severities) + 1))
    columns = [np.asarray(c, dtype=float) for c in columns]
    by_sev = [c[order] for c in columns]
    times_by_sev = [times[m][order] for m in TIMES]
    paged_by_sev = rep.escalation_paged[order]
    for row in range(n_rows + 1):
        if row < n_rows:
            if rows[row] not in model.severities:
                continue
            k = model.severities.index(rows[row])
            part = slice(int(bounds[k]), int(bounds[k + 1]))
            cols, vals, paged = [c[part] for c in by_sev], [t[part] for t in times_by_sev], paged_by_sev[part]
        else:
            cols, vals, paged = columns, [times[m] for m in TIMES], rep.escalation_paged
        if not cols[0].size:
            continue
        sums[row] = [float(np.sum(c)) for c in cols]
        p95[row] = [float(np.percentile(v, 95)) for v in vals]
        escalated[row] = paged.sum(axis=0)
    span = float(max(rep.restored.max(), rep.arrival.max())) if sev.size else 0.0
    return TaskStats(
        point=point,
        replication=replication,
        chunk=chunk,
        sums=sums,
        p95=p95,
        escalated=escalated,
        busy_minutes=float(rep.hold.sum()),
        span_minutes=span,
        incidents=int(sev.size),
    )


def metric_keys(levels: list[int]) -> list[str]:
    """Column names of the per-point metrics, in table order."""
    keys = [f"{m}_{stat}" for m in TIMES for stat in ("mean", "p95")]
    keys += ["compliance", "mttr_within_target", "pages_per_week", "people_hours_per_week"]
    keys += [f"escalations_L{level}_per_week" for level in levels]
    return [*keys, "utilisation", "initial_notice_in_time"]


def run_values(stats: TaskStats, oncall: int | None, levels: list[int]) -> np.ndarray:
    """(rows, metrics) values of one run, NaN where a severity had no incidents."""
    return _values(stats.sums, stats.p95, stats.escalated, stats.busy_minutes, stats.span_minutes, oncall, levels)


def pooled_values(runs: list[TaskStats], oncall: int | None, levels: list[int]) -> np.ndarray:
    """(rows, metrics) of all runs of a point together (p95: the mean over runs of the run's p95)."""
    sums = np.sum([r.sums for r in runs], axis=0)
    with np.errstate(all="ignore"):
        p95 = np.nanmean(np.stack([r.p95 for r in runs]), axis=0) if runs else np.full((1, len(TIMES)), np.nan)
    escalated = np.sum([r.escalated for r in runs], axis=0)
    busy = float(sum(r.busy_minutes for r in runs))
    span = float(sum(r.span_minutes for r in runs))
    return _values(sums, p95, escalated, busy, span, oncall, levels)


def _values(
    sums: np.ndarray,
    p95: np.ndarray,
    escalated: np.ndarray,
    busy: float,
    span: float,
    oncall: int | None,
    levels: list[int],
) -> np.ndarray:
    col = {name: sums[:, c] for c, name in enumerate(SUM_FIELDS)}
    count = col["count"]
    weeks = span / MINUTES_PER_WEEK if span > 0 else math.nan
    with np.errstate(all="ignore"):
        per = lambda x: np.where(count > 0, x / count, np.nan)  # noqa: E731
        weekly = lambda x: np.where(count > 0, x / weeks, np.nan)  # noqa: E731
        parts = []
        for k, m in enumerate(TIMES):
            parts += [per(col[m]), p95[:, k]]
        parts += [
            per(col["compliant"]),
            per(col["mttr_met"]),
            weekly(col["pages"]),
            weekly(col["people_minutes"] / 60.0),
        ]
        parts += [weekly(escalated[:, j]) for j in range(len(levels))]
        util = np.full(count.size, np.nan)
        if oncall is not None and span > 0:
            util[-1] = busy / (oncall * span)
        parts.append(util)
        parts.append(np.where(col["notice_due"] > 0, col["notice_in_time"] / col["notice_due"], np.nan))
    return np.column_stack(parts)


def interval(values: np.ndarray) -> tuple[float, float]:
    """95% CI over runs (NaN with fewer than two)."""
    values = values[~np.isnan(values)]
    lo, hi = ci95(values)
    return float(lo), float(hi)


# -- metric names on the command line ------------------------------------------------------------------

_TIME_NAME = re.compile(r"^(mttd|mtta|mttr|time_to_restore)(?:\.(SEV-\d+|all))?(?:\.(mean|p95))?$", re.IGNORECASE)
_OTHER_NAME = re.compile(
    r"^(compliance|mttr_within_target|pages_per_week|people_hours_per_week|utilisation|initial_notice_in_time"
    r"|escalations\.L(\d+))"
    r"(?:\.(SEV-\d+|all))?$",
    re.IGNORECASE,
)
#: The names before the first dot (``mttr`` of ``mttr.SEV-1.p95``), for the close-match hint.
METRIC_NAMES = (
    "mttd",
    "mtta",
    "mttr",
    "time_to_restore",
    "compliance",
    "mttr_within_target",
    "pages_per_week",
    "people_hours_per_week",
    "utilisation",
    "escalations",
    "initial_notice_in_time",
)
EXAMPLES = (
    "mttr.SEV-1.p95, mttr.mean, mtta.SEV-2, time_to_restore.p95, pages_per_week, people_hours_per_week, "
    "escalations.L2, compliance, utilisation"
)


def parse_metric(name: str, severities: list[str], levels: list[int], where: str) -> tuple[str, str]:
    """``"mttr.SEV-1.p95"`` -> (column ``mttr_p95``, row ``SEV-1``); an unknown name is an InputError."""
    text = name.strip()
    time = _TIME_NAME.match(text)
    if time:
        key, severity = f"{time.group(1).lower()}_{(time.group(3) or 'mean').lower()}", time.group(2) or ALL
    else:
        other = _OTHER_NAME.match(text)
        if other is None:
            from gameday.names import hint, shown

            raise InputError(
                None,
                where,
                f"unknown metric {shown(name)}{hint(text.split('.')[0], METRIC_NAMES)} (examples: {EXAMPLES})",
            )
        severity = other.group(3) or ALL
        if other.group(2):
            level = int(other.group(2))
            if level not in levels:
                raise InputError(
                    None, where, f"{name!r}: the ladder has levels {', '.join(f'L{v}' for v in levels) or 'none'}"
                )
            key = f"escalations_L{level}_per_week"
        else:
            key = other.group(1).lower()
        if key == "utilisation" and severity != ALL:
            raise InputError(None, where, "utilisation is for the whole on-call pool, not per severity")
    severity = ALL if severity.lower() == ALL else severity.upper()
    if severity != ALL and severity not in severities:
        raise InputError(
            None, where, f"{name!r}: no {severity} incidents in this sweep (severities: {', '.join(severities)})"
        )
    return key, severity


@dataclass(frozen=True)
class Constraint:
    """``pages_per_week<=40``: a metric, a comparison and a bound."""

    text: str
    key: str
    severity: str
    op: str
    bound: float

    def slack(self, value: float) -> float:
        """<= 0 when met (Optuna's convention for constraints); NaN counts as not met."""
        if value != value:
            return math.inf
        return value - self.bound if self.op in ("<=", "<") else self.bound - value

    def met(self, value: float) -> bool:
        if value != value:
            return False
        return {"<=": value <= self.bound, "<": value < self.bound, ">=": value >= self.bound, ">": value > self.bound}[
            self.op
        ]


_CONSTRAINT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


def parse_constraint(text: str, severities: list[str], levels: list[int]) -> Constraint:
    match = _CONSTRAINT.match(text)
    if match is None:
        raise InputError(None, "--subject-to", f"{text!r}: write METRIC<=NUMBER (or >=, <, >), e.g. pages_per_week<=40")
    try:
        bound = float(match.group(3))
    except ValueError:
        raise InputError(None, "--subject-to", f"{text!r}: {match.group(3)!r} is not a number") from None
    if not math.isfinite(bound):
        raise InputError(None, "--subject-to", f"{text!r}: the bound must be a finite number")
    key, severity = parse_metric(match.group(1), severities, levels, "--subject-to")
    return Constraint(text=text.strip(), key=key, severity=severity, op=match.group(2), bound=bound)
