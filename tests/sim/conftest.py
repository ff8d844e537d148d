"""Fixtures for simulator tests: the shipped policies and the seed runbook model."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.runbook import DEFAULT_RUNBOOK, Runbook, load_runbook

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "scenarios" / "policies"


@pytest.fixture(scope="session")
def seed_runbook_path() -> Path:
    """The team's seed runbook when ../shared is there, else the shipped rewrite with the same numbers
    (tests/core proves they parse to the same model), so simulator tests never skip for a missing folder."""
    seed = REPO.parent / "shared" / "runbooks" / "incident-response.md"
    return seed if seed.exists() else DEFAULT_RUNBOOK


@pytest.fixture(scope="session")
def seed_runbook(seed_runbook_path: Path) -> Runbook:
    return load_runbook(seed_runbook_path)


@pytest.fixture(scope="session")
def policies_dir() -> Path:
    return POLICIES
