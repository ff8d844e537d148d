"""Two policies on common random numbers: paired differences with 95% CIs and a verdict.

Minutes for MTTD, MTTA and MTTR; for ``compliance`` (:mod:`gameday.metrics`: an incident met every runbook
target that applies to it) the difference of the shares, B - A."""

from __future__ import annotations

import numpy as np

from gameday.runbook import Runbook
from sim.policy import Policy
from sim.runner import Outcome, run
from sim.stats import ci95

METRICS = (("mttd", "ttd"), ("mtta", "tta"), ("mttr", "ttr"), ("compliance", "compliant"))


def paired(a: list[Outcome], b: list[Outcome], attr: str, mask=None) -> dict:
    """Mean of B - A per incident (same incident index = same random inputs) and the 95% CI
    from the replication-mean differences."""
    diffs = []
    means_a, means_b = [], []
    for oa, ob in zip(a, b, strict=True):
        va, vb = np.asarray(getattr(oa, attr), dtype=float), np.asarray(getattr(ob, attr), dtype=float)
        if mask is not None:
            va, vb = va[mask(oa)], vb[mask(oa)]
        if va.size:
            diffs.append(float((vb - va).mean()))
            means_a.append(float(va.mean()))
            means_b.append(float(vb.mean()))
    if not diffs:
        return {"a": None, "b": None, "difference": None, "ci95": [None, None], "verdict": "no incidents"}
    d = np.array(diffs)
    lo, hi = ci95(d)
    mean_a, mean_b = float(np.mean(means_a)), float(np.mean(means_b))
    diff = float(d.mean())
    if np.isnan(lo):
        verdict = "need at least 2 replications for a CI"
    elif lo > 0:
        verdict = "B is higher (distinguishable)"
    elif hi < 0:
        verdict = "B is lower (distinguishable)"
    else:
        verdict = "not distinguishable"
    return {
        "a": mean_a,
        "b": mean_b,
        "difference": diff,
        "relative": diff / mean_a if mean_a else None,
        "ci95": [lo, hi],
        "sd_of_replication_differences": float(d.std(ddof=1)) if d.size > 1 else None,
        "distinguishable": bool(lo > 0 or hi < 0),
        "verdict": verdict,
    }


def compare(pa: Policy, pb: Policy, runbook: Runbook, incidents: int, seed: int, *, replications: int = 10,
            workers: int = 1, crn: bool = True, progress=None, engine: str = "vector") -> dict:
    """``crn=False`` gives B its own streams (for showing what common random numbers buy)."""
    from sim.runner import choose_engine

    engine = choose_engine(engine, incidents)
    a = run(pa, runbook, incidents, seed, replications=replications, workers=workers, progress=progress,
            engine=engine)
    b = run(pb, runbook, incidents, seed, replications=replications, workers=workers, salt=0 if crn else 1,
            progress=progress, engine=engine)
    from sim.model import compile_model

    severities = compile_model(pa, runbook).severities
    out: dict = {
        "a": pa.name,
        "b": pb.name,
        "incidents": incidents,
        "seed": seed,
        "replications": len(a),
        "common_random_numbers": crn,
        "engine": engine,
    }
    for name, attr in METRICS:
        out[name] = paired(a, b, attr)
    out["by_severity"] = {
        sev: {name: paired(a, b, attr, lambda o, k=k: o.severity == k) for name, attr in METRICS}
        for k, sev in enumerate(severities)
    }
    return out
