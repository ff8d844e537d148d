"""The war room's only ties to the running drill: is it this journal's, append a responder step, journal
a remediation, stop it.  Kept in one place so the runner's modules can move without touching the app."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.journal import Event

if TYPE_CHECKING:
    from drills.runner import ActiveDrill


def running_drill(journal: Path) -> ActiveDrill | None:
    """The running drill if ``journal`` is its journal (writes go nowhere else), else None."""
    from drills.recovery import pid_alive
    from drills.runner import read_active

    active = read_active()
    if active is None or not pid_alive(active.runner_pid):
        return None
    return active if Path(active.journal).resolve() == journal.resolve() else None


def log_step(kind: str, actor: str, data: dict[str, Any]) -> Event:
    """A responder step, validated against the drill's runbook: the path ``gameday drill log`` takes."""
    from drills.runner import log_event

    return log_event(kind, actor, data)


def log_action(kind: str, detail: dict[str, Any], actor: str) -> bool:
    """A remediation: the path ``gameday sandbox rollout undo`` takes after acting."""
    from drills.sandbox.actions import record_action

    return record_action(kind, detail, actor)


def stop_runner(active: ActiveDrill) -> None:
    """Ask the runner to end now: it handles SIGTERM by reverting every fault and writing its summary."""
    os.kill(active.runner_pid, signal.SIGTERM)
