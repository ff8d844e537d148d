"""The simulator's per-incident times as the milestones every metric is defined on (:mod:`gameday.metrics`).

Summaries (``simulate``, ``compare``) and sim journals both read this mapping, so a journal scored by
``gameday score`` gives the figures ``gameday simulate`` printed for it.
"""

from __future__ import annotations

import numpy as np

from gameday.metrics import Milestone
from sim.kernel import Replication
from sim.model import CompiledModel


def milestones(model: CompiledModel, rep: Replication) -> dict[Milestone, np.ndarray]:
    """The engines' per-incident times (absolute minutes) as the milestones of :mod:`gameday.metrics`.

    ``rep.resolved`` is the verification the stability watch confirmed: the service was restored then.  The
    runbook resolves the incident once that watch has held, ``stability_minutes`` later (declared incidents;
    the ticket branch has no watch).  Sim journals write ``resolved`` at the same moment.
    """
    watch = model.stability_minutes if "stable" in model.roles else 0.0
    watched = np.asarray(model.declared, dtype=bool)[rep.severity]
    return {
        Milestone.started: rep.arrival,
        Milestone.detected: rep.detected,
        Milestone.acknowledged: rep.acknowledged,
        Milestone.declared: rep.declared,
        Milestone.mitigated: rep.mitigated,
        Milestone.restored: rep.resolved,
        Milestone.resolved: rep.resolved + np.where(watched, watch, 0.0),
        Milestone.closed: rep.closed,
    }
