"""Leave pytest without interpreter finalization when daemon threads are still running, naming them.

Why: CI's test control plane lane printed "86 passed" and then died of SIGABRT (exit 134), with nothing on stderr:
Python's finalization aborts when a daemon thread holds a lock it needs (the stdio buffers, a C extension's), a
known class (CPython's "_enter_buffered_busy ... possibly due to daemon threads").  The tests had all run and been
reported; only the verdict was lost.  So once everything is reported, stdio is flushed and the process exits with
pytest's own status through ``os._exit``, and the threads still alive are listed on stderr, so the one that should
have been stopped can be found and fixed.
"""

from __future__ import annotations

import os
import sys
import threading

import pytest

_status: int | None = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _status
    _status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    alive = [t.name for t in threading.enumerate() if t.daemon and t.is_alive()]
    if _status is None or not alive:
        return  # a normal exit: nothing can be caught in finalization
    print(f"pytest: {len(alive)} daemon thread(s) still running at exit ({', '.join(sorted(alive))}); exiting "
          f"with status {_status} without interpreter finalization", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_status)
