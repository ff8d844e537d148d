"""The metrics of one scored incident, against the runbook's targets.

What each metric measures (start and end milestone) is defined once in :mod:`gameday.metrics`; this module
only applies those definitions to an :class:`IncidentView` and attaches the targets.
"""

from __future__ import annotations

from gameday.metrics import METRICS, metric_values, milestones, target
from gameday.runbook.model import Runbook
from gameday.scoring.result import MetricResult
from gameday.scoring.view import IncidentView


def compute_metrics(view: IncidentView, runbook: Runbook, severity: str | None) -> list[MetricResult]:
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
                met=None if minutes is None or goal is None else minutes <= goal,
            )
        )
    return out
