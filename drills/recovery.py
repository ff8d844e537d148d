"""Rollback-always: every fault a drill injects is reverted, whatever way the drill ends.

- In the runner: :func:`interrupts_as_exceptions` turns SIGTERM (and Ctrl-C) into a :class:`DrillInterrupted`
  raised in the main thread, so the runner's clean-up reverts; :func:`revert_all` does the reverting and
  journals ``fault_reverted``.
- After ``kill -9``: :func:`recover_on_start` runs before every ``gameday`` command, finds injection records
  whose runner is dead and reverts them (:func:`recover`, the one implementation, also for a target in
  hand).  When nothing is pending it costs one directory listing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drills import active as markers
from drills.pids import cmdline_contains, pid_alive, stop_process
from drills.targets.base import SetupChange
from gameday.errors import GamedayError, JournalError, SafetyError
from gameday.journal import EventType, JournalWriter

if TYPE_CHECKING:
    from drills.targets.base import InjectionRecord, Target

#: Environment switch for the startup hook (tests of the recovery itself turn it on and off).
DISABLE_ENV = "GAMEDAY_NO_RECOVERY"
#: What the load generator's command line contains (a recycled pid is never signalled).
LOAD_PROCESS = b"locust"


class DrillInterrupted(GamedayError):
    """The drill was stopped by a signal; faults were (or are being) reverted."""

    def __init__(self, signum: int, what: str = "drill interrupted") -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"{what} by {signal.Signals(signum).name}; faults reverted")


class FaultLeftBehind(SafetyError):
    """A revert failed; ``outcomes`` says for every record what happened (also the ones that worked)."""

    def __init__(self, failures: list[str], outcomes: list[dict[str, Any]]) -> None:
        self.outcomes = outcomes
        super().__init__("fault left behind, revert it by hand: " + "; ".join(failures))


class Interrupts:
    """What :func:`interrupts_as_exceptions` hands its caller: which signal came, and a switch that makes
    later signals wait for the clean-up instead of breaking into it."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.cleaning_up = False

    def handler(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.received or self.cleaning_up:
            if not self.received:
                self.received.append(signum)
            print(f"gameday: {name}: still reverting faults; the drill ends when that is done", file=sys.stderr)
            return
        self.received.append(signum)
        print(f"gameday: {name}: ending the drill and reverting its faults (another Ctrl-C will not skip that)",
              file=sys.stderr, flush=True)
        raise DrillInterrupted(signum)


@contextlib.contextmanager
def interrupts_as_exceptions() -> Iterator[Interrupts]:
    """SIGTERM and SIGINT raise :class:`DrillInterrupted` once; later ones, and any that arrive after
    ``cleaning_up`` is set, only print a line.

    chaostoolkit skips rollbacks on interruption; we do the opposite, so no signal may interrupt the
    revert that the first one (or the normal end of the drill) started.
    """
    state = Interrupts()
    previous = {sig: signal.signal(sig, state.handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield state
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def revert_all(
    target: Target,
    records: list[InjectionRecord],
    journal: JournalWriter | None,
    actor: str = "runner",
) -> list[dict[str, Any]]:
    """Revert each record (safe twice), journal ``fault_reverted``; :class:`FaultLeftBehind` if any is."""
    outcomes: list[dict[str, Any]] = []
    failures: list[str] = []
    for record in records:
        outcome: dict[str, Any] = {"fault": record.fault.value, "record": record.id, "target": record.target}
        try:
            target.revert(record)
            outcome["ok"] = True
        except GamedayError as exc:
            outcome.update(ok=False, error=str(exc))
            failures.append(f"{record.fault.value} ({record.id}): {exc}")
        outcomes.append(outcome)
        if journal is not None:
            try:
                if isinstance(record.fault, SetupChange):  # not a fault: what the drill set up for itself
                    journal.emit(EventType.note, actor, {"text": f"{record.fault.value} restored", **outcome})
                else:
                    journal.emit(EventType.fault_reverted, actor, outcome)
            except JournalError:  # a full disk: the revert itself is done; the caller has journal.failure
                outcome["journaled"] = False
    if failures:
        raise FaultLeftBehind(failures, outcomes)
    return outcomes


def orphaned(records: list[InjectionRecord]) -> list[InjectionRecord]:
    """Records whose runner is gone: a live runner reverts its own faults, we must not race it."""
    return [r for r in records if not pid_alive(r.runner_pid)]


def recover(target: Target, *, announce: bool = True) -> list[dict[str, Any]]:
    """Revert the faults on ``target`` whose runner is dead, journaling into the dead drill when its
    marker and journal are still there; one stderr line per fault when ``announce``."""
    stale = orphaned(target.pending_injections())
    if not stale:
        return []
    reverted: list[dict[str, Any]] = []
    journals = _dead_drill_journals()
    try:
        for record in stale:
            journal = journals.get(record.drill_id or "")
            outcome = revert_all(target, [record], journal, actor="recovery")[0]
            if announce:
                print(
                    f"gameday: reverted {record.fault.value} left by drill {record.drill_id or '?'} "
                    f"(runner pid {record.runner_pid} is gone) on {record.target}",
                    file=sys.stderr,
                )
            reverted.append(outcome)
    finally:
        for journal in journals.values():
            journal.close()
    return reverted


def _local_has_records() -> bool:
    """The cheap check: is there anything at all in the local target's injection folder?"""
    from drills.sandbox.config import sandbox_dir
    from drills.sandbox.paths import Layout

    folder = Layout(sandbox_dir()).injections  # pending records only; reverted ones live in a subfolder
    try:
        return any(entry.name.endswith(".json") for entry in os.scandir(folder))
    except FileNotFoundError:
        return False


def _targets_to_check() -> list[Target]:
    from drills.targets.factory import make_target

    targets: list[Target] = []
    if _local_has_records():
        targets.append(make_target("local"))
    kube = _kubernetes_target_if_allowed()
    if kube is not None:
        targets.append(kube)
    return targets


def _kubernetes_target_if_allowed() -> Target | None:
    """Only when the user configured a kube context for gameday: never touch a cluster by surprise.

    A refused or unreachable context is reported in one line and does not block the command the user
    actually asked for.
    """
    if not os.environ.get("GAMEDAY_KUBE_CONTEXT"):
        return None
    from drills.targets.factory import make_target

    try:
        return make_target("kubernetes")
    except ModuleNotFoundError:
        return None
    except GamedayError as exc:
        print(f"gameday: not checking Kubernetes for left-over faults: {exc}", file=sys.stderr)
        return None


def recover_on_start() -> list[dict[str, Any]]:
    """Revert faults left by a dead runner before any command runs; one stderr line per fault.

    Ctrl-C or SIGTERM while it reverts waits for the revert (said on screen), then ends the command."""
    if os.environ.get(DISABLE_ENV):
        return []
    reverted: list[dict[str, Any]] = []
    targets = _targets_to_check()
    with interrupts_as_exceptions() as interrupts:
        interrupts.cleaning_up = bool(targets)  # a signal now waits for the reverts instead of breaking in
        for target in targets:
            try:
                reverted.extend(recover(target))
            finally:
                target.close()
        _clear_dead_markers()
    if interrupts.received:
        raise DrillInterrupted(interrupts.received[0], "command interrupted")
    return reverted


def _dead_drill_journals() -> dict[str, JournalWriter]:
    """Journals of drills whose runner died, when their markers and journals still exist."""
    return {
        m.drill_id: JournalWriter(m.journal, m.incident)
        for m in markers.all_active()
        if not m.alive and Path(m.journal).exists()
    }


def _clear_dead_markers() -> None:
    """A dead runner's marker would make ``gameday drill log`` write into a finished drill, and its load
    generator would keep hammering the target: stop both."""
    for marker in markers.all_active():
        if marker.alive:
            continue
        if marker.load_pid and cmdline_contains(marker.load_pid, LOAD_PROCESS):
            stop_process(marker.load_pid, LOAD_PROCESS)
            print(f"gameday: stopped the load generator (pid {marker.load_pid}) of dead drill {marker.drill_id}",
                  file=sys.stderr)
        markers.release(marker)
