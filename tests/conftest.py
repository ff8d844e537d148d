"""Shared test fixtures: where the seed and shipped runbooks live.  Shared helpers (``require``, ``wait_for``,
``never``) are in ``gameday_testkit.py`` beside this file."""

from __future__ import annotations

from pathlib import Path

import pytest
from gameday_testkit import require

REPO = Path(__file__).resolve().parents[1]
SEED_RUNBOOK = REPO.parent / "shared" / "runbooks" / "incident-response.md"


def pytest_sessionstart(session: pytest.Session) -> None:
    """An environment installed before the entry points existed would fail every CLI test obscurely."""
    from gameday.plugins import COMMANDS, STALE_INSTALL, group

    if not group(COMMANDS):
        pytest.exit(STALE_INSTALL, returncode=3)


@pytest.fixture(scope="session")
def seed_runbook_path() -> Path:
    """The team's real runbook, mojibake and all (../shared is beside every clone, CI included)."""
    require(SEED_RUNBOOK.exists(), f"seed runbook not found at {SEED_RUNBOOK}")
    return SEED_RUNBOOK
