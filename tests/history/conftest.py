"""The history tests' fixture: two drills (red and blue, March 2026) as the runner and the autopilot write them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from history_helpers import Drill, write_drill


@pytest.fixture
def drills(tmp_path: Path) -> list[Drill]:
    return [write_drill(tmp_path / "red", "red-2026-03-02", "red", datetime(2026, 3, 2, 10, tzinfo=UTC), 1.0),
            write_drill(tmp_path / "blue", "blue-2026-03-09", "blue", datetime(2026, 3, 9, 10, tzinfo=UTC), 2.0)]
