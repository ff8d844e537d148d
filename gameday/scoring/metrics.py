"""The metrics of one scored incident, against the runbook's targets.

What each metric measures (start and end milestone), which target applies to it and what compliance means
are defined once in :mod:`gameday.metrics`; this module only applies those definitions to an
:class:`IncidentView`.
"""

from __future__ import annotations

from gameday.metrics import METRICS, complies, meets, metric_values, milestones, target, targets
from gameday.runbook.model import Runbook
from gameday.scoring.result import MetricResult
from gameday.scoring.view import IncidentView


def compute_metrics(view: IncidentView, runbook: Runbook, severity: str | None) -> tuple[list[MetricResult], bool]:
    """Every metric of the incident with its target, and whether the incident complies (meets every target
    that applies to it: :func:`gameday.metrics.complies`)."""
    values = metric_values(milestones((view.minutes(e), e.type) for e in view.events))
    out = []
    for definition in METRICS:
        value = values[definition.id]
        minutes = None if value is None else round(value, 3)
        goal, text = target(definition, runbook, severity)
        out.append(
            MetricResult(
                id=definition.id,
                title=definition.title,
                start=definition.start.value,
                end=definition.end.value,
                minutes=minutes,
                target_minutes=goal,
                target_text=text,
                met=None if value is None or goal is None else bool(meets(value, goal)),
            )
        )
    return out, bool(complies(values, targets(runbook, severity)))
