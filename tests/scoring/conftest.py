from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def seed_runbook(mojibake_runbook_path: Path) -> Path:
    """The runbook the known right answers below are computed against: gameday's own (the team's numbers in its
    own words), damaged the way the team's file arrived, so scoring always reads through the repair.  The
    journals name it ``seed-runbook.md``: a test that puts this file beside one checks that it is the one used."""
    return mojibake_runbook_path
