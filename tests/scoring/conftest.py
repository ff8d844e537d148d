from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def seed_runbook() -> Path:
    """A frozen copy of the seed runbook: the known right answers below are computed against it."""
    return FIXTURES / "seed-runbook.md"
