"""MTTD, MTTA, time to declare, time to mitigate and MTTR, each against the runbook's targets.

All clocks start when the incident began (fault injected / incident started; for an imported timeline,
its first row) and are in runbook minutes.
"""

from __future__ import annotations

from gameday.journal import EventType
from gameday.runbook.model import Runbook
from gameday.scoring.result import MetricResult
from gameday.scoring.view import IncidentView

E = EventType


def _target(runbook: Runbook, abbreviation: str) -> tuple[float | None, str]:
    for metric in runbook.targets.metrics:
        if metric.abbreviation.upper() == abbreviation.upper():
            return metric.target_minutes, metric.target_text
    return None, ""


def compute_metrics(view: IncidentView, runbook: Runbook, severity: str | None) -> list[MetricResult]:
    start = view.start()
    response = _response_minutes(runbook, severity)
    mttr_target = runbook.targets.mttr_minutes.get(severity or "")
    mttr_text = _target(runbook, "MTTR")[1] if mttr_target is not None else ""
    specs = [
        ("mttd", "Time to detect (MTTD)", (E.alert_firing, E.detected), runbook.targets.mttd_minutes,
         _target(runbook, "MTTD")[1] or f"< {runbook.targets.mttd_minutes:g} min"),
        ("mtta", "Time to acknowledge (MTTA)", (E.acknowledged,), runbook.targets.mtta_minutes,
         f"< {runbook.targets.mtta_minutes:g} min"),
        ("time_to_declare", "Time to declare", (E.severity_declared,), response,
         f"{severity} response time < {response:g} min" if response is not None else ""),
        ("time_to_mitigate", "Time to mitigate", (E.mitigated,), None, ""),
        ("mttr", "Time to resolve (MTTR)", (E.resolved,), mttr_target, mttr_text),
    ]
    out = []
    for metric_id, title, ends, target, text in specs:
        end = view.at(*ends)
        minutes = round(end - start, 3) if end is not None and start is not None else None
        met = None if minutes is None or target is None else minutes <= target
        out.append(
            MetricResult(
                id=metric_id,
                title=title,
                start="incident start",
                end=" or ".join(e.value for e in ends),
                minutes=minutes,
                target_minutes=target,
                target_text=text,
                met=met,
            )
        )
    return out


def _response_minutes(runbook: Runbook, severity: str | None) -> float | None:
    if not severity:
        return None
    try:
        return runbook.severity(severity).response_minutes
    except KeyError:
        return None
