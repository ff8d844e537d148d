"""The shared test helpers: a missing dependency skips locally and fails under CI; waits have deadlines."""

from __future__ import annotations

import time

import pytest
from gameday_testkit import never, require, wait_for


def test_require_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="promtool missing"):
        require(False, "promtool missing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="promtool missing -- CI=true"):
        require(False, "promtool missing")
    require(True, "never shown")


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
