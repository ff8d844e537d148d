"""Crafted journals for one fault's decision-tree branch: the scenario, a sample every runbook minute, a hypothesis
at minute 5, the responder's actions, verified at 40, resolved at 71 (after the stability watch), closed at 72.
Real writer; the branch tests score them with the real engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gameday.journal import EventType, JournalWriter
from gameday.scoring import score_journal

E = EventType
HEALTHY_SAMPLE = {"error_rate": 0.0, "p95_seconds": 0.1, "replicas_ready": 3, "replicas_desired": 3}


def branch_journal(path: Path, scenario: dict[str, Any], hypothesis: str, actions: list[tuple[str, str, int]],
                   sample: Callable[[int], dict[str, Any]] = lambda minute: {}) -> Path:
    """``actions``: (name, kind, minute); ``sample(minute)``: what each minute's sample adds to a healthy one."""
    with JournalWriter(path, "drill-1", durable=False) as j:
        j.emit(E.journal_started, "runner", {"source": "drill", "time_scale": 1.0, "scenario": scenario}, t=0)
        j.emit(E.fault_injected, "runner", {"fault": scenario["fault"]["type"]}, t=60)
        for minute in range(80):
            j.emit(E.metric_sample, "prometheus", {**HEALTHY_SAMPLE, **sample(minute)}, t=minute * 60 + 30)
        j.emit(E.hypothesis, "alice", {"text": hypothesis}, t=5 * 60)
        for name, kind, minute in actions:
            j.emit(E.action, "alice", {"action": name, "kind": kind}, t=minute * 60)
        for minute, kind in ((40, E.verified), (71, E.resolved), (72, E.closed)):
            j.emit(kind, "alice", {}, t=minute * 60)
    return path


def decision_branch(path: Path) -> Any:
    """The ``decision_branch`` check of the journal's one incident."""
    (incident,) = score_journal(path).incidents
    return next(c for c in incident.checks if c.id == "decision_branch")
