"""The war room's only ties to the running drill: is it this journal's, append a responder step, journal
a remediation, stop it, and (for tests) announce one.  Kept in one place so the runner's modules can move
without touching the app: it speaks to ``drills.active`` (per-target markers) and ``drills.drill_log``
(the validated path ``gameday drill log`` takes).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from drills.active import ActiveDrill, all_active, claim, release
from drills.drill_log import ResponderLog
from gameday.journal import Event


def running_drill(journal: Path) -> ActiveDrill | None:
    """The running drill if ``journal`` is its journal (writes go nowhere else), else None."""
    mine = journal.resolve()
    return next((a for a in all_active() if a.alive and Path(a.journal).resolve() == mine), None)


def drill_of_this_process() -> ActiveDrill | None:
    """The drill this process runs (``drill run --war-room``), once its runner has claimed the target and
    written the journal's first event (the claim comes first, so a refused drill writes nothing)."""
    active = next((a for a in all_active() if a.runner_pid == os.getpid()), None)
    return active if active is not None and _started(Path(active.journal)) else None


def _started(journal: Path) -> bool:
    try:
        with open(journal, encoding="utf-8") as fh:
            return fh.readline().endswith("\n")
    except OSError:
        return False


def log_step(active: ActiveDrill, kind: str, actor: str, data: dict[str, Any]) -> Event:
    """A responder step, validated against the drill's runbook: the path ``gameday drill log`` takes."""
    return ResponderLog.of(active).log(kind, actor, data)


def log_action(active: ActiveDrill, kind: str, detail: dict[str, Any], actor: str) -> None:
    """A remediation: the path ``gameday sandbox rollout undo`` takes after acting."""
    ResponderLog.of(active).action(kind, detail, actor)


def make_target(name: str, **options: Any) -> Any:
    from drills.targets.factory import make_target as factory

    return factory(name, **options)


def stop_runner(active: ActiveDrill) -> None:
    """Ask the runner to end now: it handles SIGTERM by reverting every fault and writing its summary."""
    os.kill(active.runner_pid, signal.SIGTERM)


def announce(**fields: Any) -> ActiveDrill:
    """Claim an active-drill marker (tests stand in for a runner with it); returns it for :func:`withdraw`."""
    active = ActiveDrill(target_key=fields["target"], **fields)
    claim(active)
    return active


def withdraw(active: ActiveDrill) -> None:
    release(active)
