"""The simulator's per-incident times as the milestones every metric is defined on (:mod:`gameday.metrics`),
and each incident's runbook targets, as that module defines them.

Summaries (``simulate``, ``compare``, ``sweep``) and sim journals all read these, so a journal scored by
``gameday score`` gives the figures (and the compliance) ``gameday simulate`` printed for it.
"""

from __future__ import annotations

import numpy as np

from gameday.metrics import Milestone, targets_by_severity
from sim.kernel import Replication
from sim.model import CompiledModel


def milestones(model: CompiledModel, rep: Replication) -> dict[Milestone, np.ndarray]:
    """The engines' per-incident times (absolute minutes) as the milestones of :mod:`gameday.metrics`.

    ``rep.restored`` is the verification the stability watch confirmed: the service was restored then.  The
    incident is *resolved* once that watch has held, ``stability_minutes`` later (declared incidents; the
    ticket branch has no watch, so there the two coincide).  Sim journals write their ``resolved`` event then.
    """
    watch = model.stability_minutes if "stable" in model.roles else 0.0
    watched = np.asarray(model.declared, dtype=bool)[rep.severity]
    return {
        Milestone.started: rep.arrival,
        Milestone.detected: rep.detected,
        Milestone.acknowledged: rep.acknowledged,
        Milestone.declared: rep.declared,
        Milestone.mitigated: rep.mitigated,
        Milestone.restored: rep.restored,
        Milestone.resolved: rep.restored + np.where(watched, watch, 0.0),
        Milestone.closed: rep.closed,
    }


def incident_targets(model: CompiledModel, severity: np.ndarray) -> dict[str, np.ndarray]:
    """Metric id -> each incident's runbook target in minutes (:func:`gameday.metrics.targets`; inf where its
    severity has none), for the metrics any simulated severity has one for: the ``goals`` of
    :func:`gameday.metrics.complies`."""
    table = targets_by_severity(model.runbook, model.severities)
    return {metric_id: np.asarray(goals, dtype=float)[severity] for metric_id, goals in table.items()}
