"""The team's past incident (the runbook's own timeline and review) and drill journals as the runner and the
autopilot write them, for the history store's tests.  No sandbox: the journals come from the drills' own writer
(``JournalWriter``) and the autopilot's review (``drills.autopilot.file_review``), on a fixed clock so every figure
can be checked by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GAMEDAY = [sys.executable, "-m", "gameday.cli"]


@dataclass
class Drill:
    journal: Path
    review: Path
    incident: str


def write_drill(folder: Path, incident: str, team: str, start: datetime, step_min: float = 1.0,
                review: bool = True) -> Drill:
    """A connection-pool-leak drill at time scale 60 (a wall second is a runbook minute): fault, alert, ack,
    declaration, hypothesis, rollback, verified, resolved, closed, one every ``step_min`` runbook minutes after
    the journal starts -- so MTTD = MTTA = step_min, MTTR = 6 * step_min.  The autopilot files its review."""
    from drills.autopilot import file_review
    from gameday.files import load_model
    from gameday.journal import EventType, JournalWriter
    from gameday.runbook import load_runbook
    from gameday.scenario import Scenario

    runbook = load_runbook()
    scenario = load_model(ROOT / "scenarios" / "connection-pool-leak.yaml", Scenario)
    folder.mkdir(parents=True, exist_ok=True)
    ticks = iter(range(100))
    writer = JournalWriter(folder / "journal.jsonl", incident, durable=False, start=start,
                           clock=lambda: start + timedelta(seconds=step_min * next(ticks)))
    writer.emit(EventType.journal_started, "runner", {"source": "drill", "time_scale": 60.0, "team": team,
                                                      "runbook": runbook.source,
                                                      "scenario": scenario.model_dump(mode="json")})
    writer.emit(EventType.fault_injected, "runner", {"fault": scenario.fault.type.value})
    writer.emit(EventType.alert_firing, "alertmanager", {"alertname": "HighErrorRate"})
    writer.emit(EventType.acknowledged, "alice", {})
    writer.emit(EventType.severity_declared, "alice", {"severity": "SEV-1", "level": 1})
    writer.emit(EventType.role_assigned, "alice", {"role": "IC", "person": "alice"})
    writer.emit(EventType.action, "bob", {"kind": "rollback", "action": "rollback", "target": "backend"})
    writer.emit(EventType.resolved, "alice", {"severity": "SEV-1"})
    writer.emit(EventType.closed, "alice", {"severity": "SEV-1"})
    path = file_review(writer.path, runbook, scenario) if review else None
    if path is not None:
        writer.emit(EventType.postmortem_filed, "alice", {"path": path.name})
    writer.close()
    return Drill(writer.path, path or folder / "none.md", incident)


def past_incident(folder: Path) -> tuple[Path, Path]:
    """The team's past incident 2026-01-24-001: the runbook's "Incident Timeline" and "Post-Incident Review"."""
    from gameday.runbook import load_runbook

    runbook = load_runbook()
    folder.mkdir(parents=True, exist_ok=True)
    timeline = folder / "2026-01-24-001-timeline.md"
    review = folder / "2026-01-24-001-review.md"
    timeline.write_text(runbook.templates["Incident Timeline"], encoding="utf-8")
    review.write_text(runbook.templates["Post-Incident Review"], encoding="utf-8")
    return timeline, review


def run_gameday(*args: object, env: dict[str, str] | None = None,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``gameday`` command in a child process: exit code, stdout and stderr as a user sees them."""
    return subprocess.run([*GAMEDAY, *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, cwd=cwd or ROOT, check=False)
