"""Fixtures of the chaos tests (tests/chaos): one sandbox for the session, shared by the tests that need one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos_sandbox import Sandbox, end_leftover_drills, sandbox_up


@pytest.fixture(scope="session")
def chaos_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One fresh sandbox for the chaos tests (each leaves it steady, or it fails)."""
    box = sandbox_up(tmp_path_factory.mktemp("chaos-state"))
    try:
        yield box
    finally:
        box.gameday("sandbox", "down", "--purge", timeout=180)


@pytest.fixture(autouse=True)
def _no_drill_outlives_its_test() -> Iterator[None]:
    """A test that fails while its drill runs must not leave that drill holding the shared sandbox."""
    yield
    end_leftover_drills()
