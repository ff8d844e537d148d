"""Summaries of simulated incidents: mean/median/p90/p95, 95% CIs over replications, runbook compliance.

Targets and compliance are :mod:`gameday.metrics`'s: ``compliance`` is the share of incidents that met every
runbook target that applies to them (the same figure ``gameday score`` and ``gameday sweep`` give), and
``within_target`` the share meeting each metric's target, among the incidents it applies to."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from gameday.metrics import METRICS, meets
from sim.milestones import incident_targets
from sim.model import CompiledModel
from sim.runner import Outcome


def ci95(means: np.ndarray) -> list[float]:
    """Student-t 95% interval of the mean of independent replication means."""
    means = np.asarray(means, dtype=float)
    if means.size < 2:
        return [float("nan"), float("nan")]
    half = stats.t.ppf(0.975, means.size - 1) * means.std(ddof=1) / math.sqrt(means.size)
    centre = means.mean()
    return [float(centre - half), float(centre + half)]


def batch_means(values: list[np.ndarray]) -> np.ndarray:
    """One mean per replication; a single replication is cut into 10 batches (batch means)."""
    values = [v for v in values if v.size]
    if len(values) == 1 and values[0].size >= 20:
        values = np.array_split(values[0], 10)
    return np.array([v.mean() for v in values])


def describe(values: list[np.ndarray]) -> dict:
    """mean, median, p90, p95 and ci95 (minutes) of per-incident values split by replication.

    Incidents that never reached the metric's end milestone (nan: a ticket is never declared) are left out,
    as ``gameday score`` leaves them out."""
    values = [v[np.isfinite(v)] for v in values]
    allv = np.concatenate(values) if values else np.empty(0)
    if allv.size == 0:
        return {"count": 0, "mean": None, "median": None, "p90": None, "p95": None, "ci95": [None, None]}
    p50, p90, p95 = np.percentile(allv, [50, 90, 95])
    return {
        "count": int(allv.size),
        "mean": float(allv.mean()),
        "median": float(p50),
        "p90": float(p90),
        "p95": float(p95),
        "ci95": ci95(batch_means(values)),
    }


def _metric_block(outcomes: list[Outcome], mask_of) -> dict:
    """Every metric of :mod:`gameday.metrics`, by its id (``mttd``, ``mtta``, ..., ``time_to_restore``, ``mttr``)."""
    return {m.id: describe([o.metrics[m.id][mask_of(o)] for o in outcomes]) for m in METRICS}


def _compliance(outcomes: list[Outcome], sel: list[np.ndarray]) -> float | None:
    """Share of the selected incidents that met every runbook target that applies to them."""
    compliant = np.concatenate([o.compliant[s] for o, s in zip(outcomes, sel, strict=True)])
    return float(compliant.mean()) if compliant.size else None


def _within_targets(model: CompiledModel, outcomes: list[Outcome], sel: list[np.ndarray]) -> dict:
    """Per metric with a target for any selected incident: the share meeting it (``gameday.metrics.meets``)."""
    goals = [incident_targets(model, o.severity) for o in outcomes]
    out = {}
    for m in METRICS:
        if not any(m.id in g for g in goals):
            continue
        values = np.concatenate([o.metrics[m.id][s] for o, s in zip(outcomes, sel, strict=True)])
        goal = np.concatenate([g[m.id][s] if m.id in g else np.full(int(np.count_nonzero(s)), np.inf)
                               for g, s in zip(goals, sel, strict=True)])
        applies = np.isfinite(goal)
        if applies.any():
            out[m.id] = _within(values[applies], goal[applies])
    return out


def summarise(model: CompiledModel, outcomes: list[Outcome]) -> dict:
    """The ``simulate --json`` document."""
    runbook = model.runbook
    out: dict = {
        "policy": model.policy.name,
        "runbook": runbook.source,
        "incidents": int(sum(o.severity.size for o in outcomes)),
        "replications": len(outcomes),
    }
    out.update(_metric_block(outcomes, lambda o: slice(None)))
    by_sev = {}
    for k, name in enumerate(model.severities):
        block = _metric_block(outcomes, lambda o, k=k: o.severity == k)
        sel = [o.severity == k for o in outcomes]
        count = int(sum(int(m.sum()) for m in sel))
        block["count"] = count
        block["compliance"] = _compliance(outcomes, sel)
        block["within_target"] = _within_targets(model, outcomes, sel)
        block["escalations"] = _escalations(model, outcomes, sel)
        block["auto_rolled_back"] = _fraction(outcomes, sel, "auto_rolled_back")
        block["recurrence_rate"] = float(np.concatenate(
            [o.recurrences[m] > 0 for o, m in zip(outcomes, sel, strict=True)]).mean()) if count else None
        by_sev[name] = block
    out["by_severity"] = by_sev
    all_sel = [np.ones(o.severity.size, dtype=bool) for o in outcomes]
    out["compliance"] = _compliance(outcomes, all_sel)
    out["within_target"] = _within_targets(model, outcomes, all_sel)
    out["escalations"] = _escalations(model, outcomes, all_sel)
    out["detection"] = {"via_alert": _fraction(outcomes, all_sel, "via_alert")}
    oncall = model.oncall
    busy = sum(o.busy_minutes for o in outcomes)
    span = sum(o.span_minutes for o in outcomes)
    out["utilisation"] = {
        "oncall": None if oncall is None or span == 0 else busy / (oncall * span),
        "oncall_responders": oncall,
        "mean_wait_minutes": float(np.concatenate([o.wait for o in outcomes]).mean()),
    }
    out["unmodelled_steps"] = model.unmodelled
    return out


def _within(values: np.ndarray, goals: np.ndarray) -> dict:
    """``within``: the share meeting the target (a missing milestone does not); ``target_minutes`` and
    ``mean_met`` (the mean of the measured values within it) when every incident here has the same target."""
    one = goals.size and bool((goals == goals[0]).all())
    measured = values[np.isfinite(values)]
    return {
        "target_minutes": float(goals[0]) if one else None,
        "incidents": int(values.size),
        "within": float(np.mean(meets(values, goals))),
        "mean_met": bool(measured.mean() <= goals[0]) if one and measured.size else None,
    }


def _fraction(outcomes: list[Outcome], sel: list[np.ndarray], attr: str) -> float | None:
    values = np.concatenate([getattr(o, attr)[m] for o, m in zip(outcomes, sel, strict=True)])
    return float(values.mean()) if values.size else None


def _escalations(model: CompiledModel, outcomes: list[Outcome], sel: list[np.ndarray]) -> dict:
    paged = np.concatenate([o.escalation_paged[m] for o, m in zip(outcomes, sel, strict=True)])
    engaged = np.concatenate([o.escalation_engaged[m] for o, m in zip(outcomes, sel, strict=True)])
    notified = np.concatenate([o.notified[m] for o, m in zip(outcomes, sel, strict=True)])
    out: dict = {}
    for j, rung in enumerate(model.ladder):
        out[f"L{rung.level}"] = {
            "role": rung.role,
            "paged": int(paged[:, j].sum()),
            "paged_fraction": float(paged[:, j].mean()) if paged.size else 0.0,
            "engaged": int(engaged[:, j].sum()),
        }
    out["business"] = {
        note.who: int(notified[:, j].sum()) for j, note in enumerate(model.runbook.escalation.business)
    }
    out["pages_per_incident"] = float(paged.sum(axis=1).mean()) if paged.size else 0.0
    return out
