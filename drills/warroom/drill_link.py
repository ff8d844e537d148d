"""The war room's only ties to the running drill: is it this journal's, append a responder step, journal
a remediation, stop it, and (for tests) announce one.  Kept in one place so the runner's modules can move
without touching the app: it speaks to ``drills.active`` / ``drills.drill_log`` where they exist (the runner
split of issue #10) and to ``drills.runner`` / ``drills.sandbox.actions`` before that.
"""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path
from typing import Any

from gameday.journal import Event

SPLIT = importlib.util.find_spec("drills.drill_log") is not None


def _markers() -> list[Any]:
    if SPLIT:
        from drills.active import all_active

        return list(all_active())
    from drills.runner import read_active

    active = read_active()
    return [active] if active is not None else []


def _alive(pid: int) -> bool:
    from drills.recovery import pid_alive

    return pid_alive(pid)


def running_drill(journal: Path) -> Any | None:
    """The running drill if ``journal`` is its journal (writes go nowhere else), else None."""
    for active in _markers():
        if _alive(active.runner_pid) and Path(active.journal).resolve() == journal.resolve():
            return active
    return None


def drill_of_this_process() -> Any | None:
    """The drill this process runs (``drill run --war-room``), once the runner has announced it."""
    return next((a for a in _markers() if a.runner_pid == os.getpid()), None)


def log_step(active: Any, kind: str, actor: str, data: dict[str, Any]) -> Event:
    """A responder step, validated against the drill's runbook: the path ``gameday drill log`` takes."""
    if SPLIT:
        from drills.drill_log import ResponderLog

        return ResponderLog.of(active).log(kind, actor, data)
    from drills.runner import log_event

    return log_event(kind, actor, data)


def log_action(active: Any, kind: str, detail: dict[str, Any], actor: str) -> None:
    """A remediation: the path ``gameday sandbox rollout undo`` takes after acting."""
    if SPLIT:
        from drills.drill_log import ResponderLog

        ResponderLog.of(active).action(kind, detail, actor)
        return
    from drills.sandbox.actions import record_action

    record_action(kind, detail, actor)


def make_target(name: str) -> Any:
    if SPLIT:
        from drills.targets.factory import make_target as factory
    else:
        from drills.runner import make_target as factory
    return factory(name)


def stop_runner(active: Any) -> None:
    """Ask the runner to end now: it handles SIGTERM by reverting every fault and writing its summary."""
    os.kill(active.runner_pid, signal.SIGTERM)


def announce(**fields: Any) -> Any:
    """Write an active-drill marker (tests stand in for a runner with it); returns it for :func:`withdraw`."""
    if SPLIT:
        from drills.active import ActiveDrill, claim

        active = ActiveDrill(target_key=fields["target"], **fields)
        claim(active)
        return active
    from drills.runner import ActiveDrill, write_active

    active = ActiveDrill(**fields)
    write_active(active)
    return active


def withdraw(active: Any) -> None:
    if SPLIT:
        from drills.active import release

        release(active)
        return
    from drills.runner import clear_active

    clear_active(active.drill_id)
