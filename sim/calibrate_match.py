"""Fit the policy's step durations to what the journals measure, through the simulator itself.

A journal measures lumped intervals (declared -> mitigated), while the policy has one duration per workflow step
and the simulator walks a loop (investigate, root cause found?, escalate, fix, fix worked?).  Writing an
interval's fit into one step (the old way: declared -> mitigated into ``steps.investigate``) multiplies it by
the loop's iterations and adds every other step's baseline duration.  Here every duration the simulator spends
inside an interval is scaled by one factor, found by simulating, so that the interval's simulated median
equals the observed (weighted) median; the base policy's shapes and the fitted odds are kept.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.dists import MAX_MINUTES, Exponential, Fixed, Gamma, Lognormal
from sim.policy import Policy

#: Incidents simulated per evaluation, evaluations per interval, and when the medians agree.
SIM_INCIDENTS = 3000
MAX_EVALUATIONS = 8
TOLERANCE = 0.01
FACTOR_RANGE = (1e-3, 1e3)
STEPS_IN_MITIGATE = ("assemble", "war_room", "hypothesis", "investigate", "escalate", "rollback", "hotfix")


def group(policy: Policy, interval: str) -> list[tuple[str, ...]]:
    """The policy's duration fields the simulator spends inside ``interval`` (paths into the policy)."""
    if interval == "detect":
        return [("detection", "onset"), ("detection", "user_report")]
    if interval == "acknowledge":
        return [("responders", "ack")]
    if interval == "declare":
        return [("steps", "assess"), ("steps", "declare")]
    if interval == "verify":
        return [("steps", "verify")]
    people = [
        ("responders", "roles", name, part) for name in policy.responders.roles for part in ("ack", "unavailable_delay")
    ]
    return (
        [("steps", s) for s in STEPS_IN_MITIGATE]
        + people
        + [("responders", "sme", "ack"), ("responders", "sme", "unavailable_delay")]
    )


def get(policy: Policy, path: tuple[str, ...]) -> Any:
    value: Any = policy
    for part in path:
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def put(doc: dict, path: tuple[str, ...], value: dict) -> None:
    for part in path[:-1]:
        doc = doc.setdefault(part, {})
    doc[path[-1]] = value


def scaled(dist: Any, factor: float) -> dict | None:
    """``dist`` stretched by ``factor`` (same shape), as policy YAML; None for an empirical CSV (kept)."""
    cap = lambda v: float(min(max(v * factor, 1e-6), MAX_MINUTES))  # noqa: E731
    if isinstance(dist, Fixed):
        return {"dist": "fixed", "value": float(min(dist.value * factor, MAX_MINUTES))}
    if isinstance(dist, Exponential):
        return {"dist": "exponential", "mean": cap(dist.mean_minutes)}
    if isinstance(dist, Lognormal):
        mu, sigma = dist.mu_sigma
        return {"dist": "lognormal", "median": cap(math.exp(mu)), "sigma": sigma}
    if isinstance(dist, Gamma):
        return {"dist": "gamma", "shape": dist.shape, "scale": cap(dist.scale)}
    return None


def simulated(
    doc: dict,
    runbook: Any,
    interval: str,
    shares: dict[str, float],
    seed: int,
    incidents: int = SIM_INCIDENTS,
    context: dict | None = None,
) -> np.ndarray:
    """Per simulated incident, the interval's minutes (NaN where the path has no such interval).  Arrivals: only
    the observed severities, in their observed shares, at their own total rate in the policy (so the on-call
    queue is about what it is for them, not the whole load poured into one severity)."""
    from sim.kernel import run_replication
    from sim.milestones import milestones
    from sim.model import compile_model

    policy = Policy.model_validate(doc, context=context)
    if shares:
        total = sum(policy.arrivals_per_day.get(s, 0.0) for s in shares) or sum(policy.arrivals_per_day.values())
        weight = sum(shares.values())
        policy = policy.model_copy(update={"arrivals_per_day": {s: total * w / weight for s, w in shares.items()}})
    model = compile_model(policy, runbook)
    rep = run_replication(model, incidents, seed)
    return interval_values(milestones(model, rep), interval)


def interval_values(times: dict, interval: str) -> np.ndarray:
    from gameday.metrics import Milestone as M

    ends = {
        "detect": (M.started, M.detected),
        "acknowledge": (M.detected, M.acknowledged),
        "declare": (M.acknowledged, M.declared),
        "mitigate": (M.declared, M.mitigated),
        "verify": (M.mitigated, M.restored),
        "mttr": (M.started, M.resolved),
        "mttr_from_detection": (M.detected, M.resolved),
    }[interval]
    return np.asarray(times[ends[1]] - times[ends[0]], dtype=float)


def median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def match(
    doc: dict,
    runbook: Any,
    interval: str,
    target: float,
    shares: dict[str, float],
    seed: int,
    context: dict | None = None,
) -> dict[str, Any]:
    """Scale the interval's fields so its simulated median meets ``target``; returns the factor, the simulated
    medians before and after, the fields scaled and those kept (and why), and ``doc`` with the scaled fields."""
    policy = Policy.model_validate(doc, context=context)
    fields, kept = [], []
    for path in group(policy, interval):
        dist = get(policy, path)
        (fields if scaled(dist, 1.0) is not None else kept).append(path)

    def with_factor(factor: float) -> dict:
        new = _copy(doc)
        for path in fields:
            put(new, path, scaled(get(policy, path), factor))  # type: ignore[arg-type]
        return new

    def evaluate(factor: float) -> float:
        return median(simulated(with_factor(factor), runbook, interval, shares, seed, context=context))

    before = evaluate(1.0)
    tried = [(1.0, before)]
    factor = target / before if before > 0 else 1.0
    for _ in range(MAX_EVALUATIONS):
        factor = min(max(factor, FACTOR_RANGE[0]), FACTOR_RANGE[1])
        got = evaluate(factor)
        tried.append((factor, got))
        if abs(got / target - 1.0) <= TOLERANCE if target > 0 else got <= 0:
            break
        (f1, m1), (f2, m2) = tried[-2], tried[-1]
        nxt = f2 + (target - m2) * (f2 - f1) / (m2 - m1) if m2 != m1 else f2 * 2.0
        factor = nxt if nxt > 0 else f2 / 2.0
    factor, after = min(tried, key=lambda fm: abs(fm[1] - target))
    return {
        "factor": factor,
        "simulated_before": before,
        "simulated_after": after,
        "fields": [".".join(p) for p in fields],
        "kept": [{"field": ".".join(p), "why": "an empirical CSV cannot be stretched"} for p in kept],
        "doc": with_factor(factor),
        "reached": abs(after / target - 1.0) <= 0.05 if target > 0 else True,
    }


def _copy(doc: dict) -> dict:
    import copy

    return copy.deepcopy(doc)
