"""Fixtures of the chaos tests (tests/chaos): one sandbox per module for the ones that need it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chaos_sandbox import Sandbox, sandbox_up


@pytest.fixture(scope="module")
def chaos_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One fresh sandbox for a module of chaos tests (they leave it steady, or the test fails)."""
    box = sandbox_up(tmp_path_factory.mktemp("chaos-state"))
    try:
        yield box
    finally:
        box.gameday("sandbox", "down", "--purge", timeout=180)
