"""Summaries of simulated incidents: mean/median/p90/p95, 95% CIs over replications, runbook compliance."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from gameday.metrics import METRICS, target
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


def _compliance(outcomes: list[Outcome], sel: list[np.ndarray], runbook, severity: str | None) -> dict:
    """Share of incidents within each metric's runbook target (``gameday.metrics.target``)."""
    out = {}
    for m in METRICS:
        goal, _ = target(m, runbook, severity)
        if goal is None:
            continue
        values = np.concatenate([o.metrics[m.id][s] for o, s in zip(outcomes, sel, strict=True)])
        out[m.id] = _within(values[np.isfinite(values)], goal)
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
        block["compliance"] = _compliance(outcomes, sel, runbook, name)
        block["escalations"] = _escalations(model, outcomes, sel)
        block["auto_rolled_back"] = _fraction(outcomes, sel, "auto_rolled_back")
        block["recurrence_rate"] = float(np.concatenate(
            [o.recurrences[m] > 0 for o, m in zip(outcomes, sel, strict=True)]).mean()) if count else None
        by_sev[name] = block
    out["by_severity"] = by_sev
    all_sel = [np.ones(o.severity.size, dtype=bool) for o in outcomes]
    out["compliance"] = _compliance(outcomes, all_sel, runbook, None)
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


def _within(values: np.ndarray, target: float) -> dict:
    if values.size == 0:
        return {"target_minutes": target, "within": None, "mean_met": None}
    return {
        "target_minutes": target,
        "within": float((values <= target).mean()),
        "mean_met": bool(values.mean() <= target),
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
