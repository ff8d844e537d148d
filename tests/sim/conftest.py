"""Fixtures for simulator tests: the shipped policies and the seed runbook model (``seed_runbook_path`` is
tests/conftest.py's: the team's runbook when ../shared is there, else the shipped one damaged alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.runbook import Runbook, load_runbook

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "scenarios" / "policies"


@pytest.fixture(scope="session")
def seed_runbook(seed_runbook_path: Path) -> Runbook:
    return load_runbook(seed_runbook_path)


@pytest.fixture(scope="session")
def policies_dir() -> Path:
    return POLICIES
