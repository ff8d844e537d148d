"""The shared test helpers: a missing dependency skips locally and fails under CI and ``make test``; waits
have deadlines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gameday_testkit import REPO, never, require, wait_for


def test_require_skips_locally_and_fails_in_ci_and_make_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GAMEDAY_NO_SKIPS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="promtool missing"):
        require(False, "promtool missing")
    monkeypatch.setenv("GAMEDAY_NO_SKIPS", "1")
    with pytest.raises(pytest.fail.Exception, match="promtool missing -- GAMEDAY_NO_SKIPS=1"):
        require(False, "promtool missing")
    monkeypatch.delenv("GAMEDAY_NO_SKIPS")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="promtool missing -- CI=true"):
        require(False, "promtool missing")
    require(True, "never shown")


SKIPS = """
import pytest
def test_called():
    pytest.skip("skipped by a call")
@pytest.mark.skipif(True, reason="skipped by a marker")
def test_marked():
    pass
@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_failure():
    assert False
def test_fine():
    pass
"""


def test_a_skip_fails_the_session_under_make_test(tmp_path: Path) -> None:
    """tests/conftest.py, loaded as a plugin into a pytest run with ``make test``'s variable: a test skipped by a
    call and one skipped by a marker both fail, naming their reasons, and so does the session; an expected
    failure stays one.  (Without the variable they skip: pytest's own behaviour, which the hook leaves alone.)"""
    (tmp_path / "test_skips.py").write_text(SKIPS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(PYTHONPATH=str(REPO / "tests"), GAMEDAY_NO_SKIPS="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
                           "test_skips.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("1 failed, 1 passed, 1 xfailed, 1 error"), done.stdout
    assert "skipped (Skipped: skipped by a call) -- GAMEDAY_NO_SKIPS=1" in done.stdout
    assert "skipped (Skipped: skipped by a marker) -- GAMEDAY_NO_SKIPS=1" in done.stdout


def test_wait_for_returns_the_value_or_fails_naming_what() -> None:
    start = time.monotonic()
    assert wait_for(lambda: time.monotonic() - start > 0.2 and "ready", "the clock", timeout=5, period=0.05) == "ready"
    with pytest.raises(pytest.fail.Exception, match=r"timed out after 0.2s waiting for the impossible"):
        wait_for(lambda: None, "the impossible", timeout=0.2, period=0.05)


def test_never_watches_the_whole_window() -> None:
    start = time.monotonic()
    never(lambda: False, "anything", window=0.3, period=0.05)
    assert time.monotonic() - start >= 0.3
    late = time.monotonic() + 0.2
    with pytest.raises(pytest.fail.Exception, match="a late event happened"):
        never(lambda: time.monotonic() > late, "a late event", window=2.0, period=0.05)
