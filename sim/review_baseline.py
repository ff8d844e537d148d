"""A baseline simulated for the monthly review when the store holds none.

An SRE opening the review expects the team's figures beside what the policy predicts without storing a simulation
first, so the review simulates the shipped policy (or ``--baseline-policy``) itself: a few hundred incidents with a
fixed seed, the same run as ``gameday simulate --policy P --incidents N --seed S`` (same engine choice and
replications, so that command reproduces it), well under a second.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: The shipped policy (``sim.calibrate``'s base too; not imported from there: it loads scipy.optimize, ~1.5 s).
DEFAULT_BASE = Path(__file__).resolve().parents[1] / "scenarios" / "policies" / "baseline.yaml"
#: Incidents simulated for a review: about 15 SEV-1s under the shipped arrival rates, in ~0.1 s.
REVIEW_INCIDENTS = 500
#: The seed of a review's baseline (``gameday simulate``'s default): the same store gives the same review.
REVIEW_SEED = 1


def _shown(path: Path) -> str:
    """The policy's path as the user would type it (relative to the working directory when under it)."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:
        return str(path)


def simulated_baseline(runbook: Any, policy: Path | None = None, *, seed: int = REVIEW_SEED,
                       incidents: int = REVIEW_INCIDENTS) -> dict[str, Any]:
    """``{"minutes": {severity: {metric id: [runbook minutes]}}, "policy", "seed", "incidents", "text",
    "command"}`` for :func:`gameday.history.review.monthly_review`'s ``simulate`` (``command`` reproduces it)."""
    import numpy as np

    from gameday.history.review import REVIEWED_METRICS
    from sim.model import compile_named
    from sim.policy import load_policy
    from sim.runner import run

    path = Path(policy) if policy is not None else DEFAULT_BASE
    pol = load_policy(str(path))
    model = compile_named(pol, runbook, path)  # a policy the runbook cannot take: one line naming its file
    outcomes = run(pol, runbook, incidents, seed, engine="auto")
    severity = np.concatenate([o.severity for o in outcomes])
    values = {m: np.concatenate([o.metrics[m] for o in outcomes]) for m in REVIEWED_METRICS}
    minutes = {}
    for k, name in enumerate(model.severities):
        mask = severity == k
        if mask.any():
            minutes[name] = {m: [float(v) for v in values[m][mask] if np.isfinite(v)] for m in REVIEWED_METRICS}
    shown = _shown(path)
    return {
        "minutes": minutes, "policy": pol.name, "policy_path": shown, "seed": seed, "incidents": incidents,
        "text": (f"simulated for this review (no simulated journal is stored): {incidents} incidents under "
                 f"{pol.name} ({shown}), seed {seed}"),
        "command": f"gameday simulate --policy {shown} --incidents {incidents} --seed {seed}",
    }
