"""Helpers every test suite shares (a uniquely named module: pytest puts ``tests/`` on ``sys.path`` through
``tests/conftest.py``, and a bare ``helpers`` would collide with other folders' modules).

- :func:`require`: something a test needs is missing.  On a developer's machine that is a skip with the
  reason; with ``CI=true`` it fails the run, because CI installs everything (``.ci/run`` -> ``make test``)
  and a suite that silently skips there tests nothing.
- :func:`wait_for`: poll until a condition holds, or fail naming what never happened.
- :func:`never`: the negative check: a condition stays false for a whole window (not one look after a
  fixed sleep, which passes whenever the machine is slow).

Every timeout here is multiplied by ``$GAMEDAY_TEST_TIMEOUT_SCALE`` (default 1) for slow, shared machines.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")
#: Default limit for anything a real service should show (alerts fire within ~20 s on an idle machine).
DEFAULT_TIMEOUT_S = float(os.environ.get("GAMEDAY_TEST_WAIT", "120"))
TIMEOUT_SCALE = float(os.environ.get("GAMEDAY_TEST_TIMEOUT_SCALE", "1") or 1)


def in_ci() -> bool:
    """True under CI (``CI=true``, as GitHub Actions, GitLab and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(available: bool, reason: str) -> None:
    """Skip (locally) or fail (``CI=true``) the calling test or fixture when ``available`` is false."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{reason} -- CI=true: CI installs everything, so a missing dependency is a failure",
                    pytrace=False)
    pytest.skip(reason)


def scaled(seconds: float) -> float:
    return seconds * TIMEOUT_SCALE


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = DEFAULT_TIMEOUT_S, *,
             period: float = 0.3) -> T:
    """Poll ``condition()`` until it returns something truthy (returned); fail naming ``what`` otherwise."""
    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    last: object = None
    while True:
        last = condition()
        if last:
            return last  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {limit:g}s waiting for {what} (last: {last!r})", pytrace=False)
        time.sleep(period)


def never(condition: Callable[[], object], what: str, window: float = 2.0, *, period: float = 0.1) -> None:
    """Assert ``condition()`` stays falsy for ``window`` seconds, looking every ``period``; fail naming ``what``."""
    deadline = time.monotonic() + scaled(window)
    while True:
        seen = condition()
        if seen:
            pytest.fail(f"{what} happened (saw {seen!r})", pytrace=False)
        if time.monotonic() >= deadline:
            return
        time.sleep(period)


@contextlib.contextmanager
def small_tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``4m``) mounted at ``mount`` for a disk-full test; root only (CI runs as root)."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    require(done.returncode == 0, f"cannot mount a tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
