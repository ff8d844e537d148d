"""Fixtures for simulator tests: the shipped policies and the seed runbook model."""

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
