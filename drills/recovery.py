"""Rollback-always: every fault a drill injects is reverted, whatever way the drill ends.

- In the runner: :func:`interrupts_as_exceptions` turns SIGTERM (and Ctrl-C) into a :class:`DrillInterrupted`
  raised in the main thread, so the runner's ``finally`` reverts; :func:`revert_all` does the reverting and
  journals ``fault_reverted``.
- After ``kill -9``: :func:`recover_on_start` runs before every ``gameday`` command, finds injection records
  whose runner is dead and reverts them.  When nothing is pending it costs one directory listing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.errors import GamedayError, SafetyError

if TYPE_CHECKING:
    from drills.targets.base import InjectionRecord, Target
    from gameday.journal import JournalWriter

#: Environment switch for the startup hook (tests of the recovery itself turn it on and off).
DISABLE_ENV = "GAMEDAY_NO_RECOVERY"


class DrillInterrupted(GamedayError):
    """The drill was stopped by a signal; faults were (or are being) reverted."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"drill interrupted by {signal.Signals(signum).name}; faults reverted")


@contextlib.contextmanager
def interrupts_as_exceptions() -> Iterator[None]:
    """SIGTERM and SIGINT raise :class:`DrillInterrupted` once; later ones are ignored while we clean up.

    chaostoolkit skips rollbacks on interruption; we do the opposite, so the second signal must not
    interrupt the revert that the first one started.
    """
    fired: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        if fired:
            print(f"gameday: {signal.Signals(signum).name} again; still reverting faults", file=sys.stderr)
            return
        fired.append(signum)
        raise DrillInterrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def revert_all(
    target: Target,
    records: list[InjectionRecord],
    journal: JournalWriter | None,
    actor: str = "runner",
) -> list[dict[str, Any]]:
    """Revert each record (safe twice), journal ``fault_reverted``; raise if any fault is left behind."""
    from gameday.journal import EventType

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
            journal.emit(EventType.fault_reverted, actor, outcome)
    if failures:
        raise SafetyError("fault left behind, revert it by hand: " + "; ".join(failures))
    return outcomes


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this pid exists (a record without a pid has no runner to wait for)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def orphaned(records: list[InjectionRecord]) -> list[InjectionRecord]:
    """Records whose runner is gone: a live runner reverts its own faults, we must not race it."""
    return [r for r in records if not pid_alive(r.runner_pid)]


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
    targets: list[Target] = []
    if _local_has_records():
        from drills.targets.local import LocalTarget

        targets.append(LocalTarget())
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
    try:
        from drills.targets.kubernetes import KubernetesTarget
    except ModuleNotFoundError:
        return None
    try:
        return KubernetesTarget.from_env()
    except GamedayError as exc:
        print(f"gameday: not checking Kubernetes for left-over faults: {exc}", file=sys.stderr)
        return None


def recover_on_start() -> list[dict[str, Any]]:
    """Revert faults left by a dead runner before any command runs; one stderr line per fault."""
    if os.environ.get(DISABLE_ENV):
        return []
    try:
        from drills.sandbox.config import sandbox_dir  # noqa: F401 - no sandbox package, nothing to recover
    except ModuleNotFoundError:
        return []
    reverted: list[dict[str, Any]] = []
    for target in _targets_to_check():
        try:
            reverted.extend(_recover(target))
        finally:
            close = getattr(target, "close", None)
            if close is not None:
                close()
    _clear_dead_active_drill()
    return reverted


def _recover(target: Target) -> list[dict[str, Any]]:
    stale = orphaned(target.pending_injections())
    if not stale:
        return []
    reverted: list[dict[str, Any]] = []
    journals = _dead_drill_journals()
    try:
        for record in stale:
            journal = journals.get(record.drill_id or "")
            outcome = revert_all(target, [record], journal, actor="recovery")[0]
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


def _dead_drill_journals() -> dict[str, JournalWriter]:
    """The journal of the drill whose runner died, if its ``active-drill.json`` and journal still exist."""
    from drills.runner import read_active
    from gameday.journal import JournalWriter

    active = read_active()
    if active is None or pid_alive(active.runner_pid) or not Path(active.journal).exists():
        return {}
    return {active.drill_id: JournalWriter(active.journal, active.incident)}


def _clear_dead_active_drill() -> None:
    """A dead runner's marker would make ``gameday drill log`` write into a finished drill, and its load
    generator would keep hammering the sandbox: stop both."""
    from drills.runner import active_path, read_active

    active = read_active()
    if active is None or pid_alive(active.runner_pid):
        return
    if active.load_pid and pid_alive(active.load_pid) and _is_locust(active.load_pid):
        _stop_load(active.load_pid)
        print(f"gameday: stopped the load generator (pid {active.load_pid}) of dead drill {active.drill_id}",
              file=sys.stderr)
    with contextlib.suppress(FileNotFoundError):
        active_path().unlink()


def _stop_load(pid: int, grace_s: float = 10.0) -> None:
    """SIGTERM Locust's process group (it writes its CSVs), then SIGKILL if it lingers."""
    import time

    group = _own_group(pid)
    kill = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and pid_alive(pid) and _is_locust(pid):
        time.sleep(0.1)
    if pid_alive(pid) and _is_locust(pid):
        with contextlib.suppress(ProcessLookupError):
            kill(pid, signal.SIGKILL)


def _is_locust(pid: int) -> bool:
    """Guard against a recycled pid: only signal a process that is really our load generator."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"locust" in cmdline


def _own_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False
