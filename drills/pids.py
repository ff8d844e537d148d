"""Process helpers shared by the runner, recovery and status views: is a pid alive, is it ours, stop it.

A leaf module (standard library only), so anything in ``drills`` may import it without a cycle.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


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


def cmdline_contains(pid: int, needle: bytes) -> bool:
    """Guard against a recycled pid: only signal a process whose command line names what we started."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return needle in cmdline


def owns_group(pid: int) -> bool:
    """The process leads its own process group (started with ``start_new_session``)."""
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def stop_process(pid: int, needle: bytes, grace_s: float = 10.0) -> None:
    """SIGTERM the process (its whole group when it leads one), SIGKILL if it lingers past ``grace_s``.

    Only while its command line still contains ``needle``: a pid recycled by an unrelated process is
    left alone.
    """

    def ours() -> bool:
        return pid_alive(pid) and cmdline_contains(pid, needle)

    if not ours():
        return
    kill = os.killpg if owns_group(pid) else os.kill
    with contextlib.suppress(ProcessLookupError):
        kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and ours():
        time.sleep(0.1)
    if ours():
        with contextlib.suppress(ProcessLookupError):
            kill(pid, signal.SIGKILL)
