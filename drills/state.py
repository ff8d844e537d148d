"""Where gameday keeps machine-local state (the sandbox, active-drill markers): one folder, one variable.

A leaf module: anything in ``drills`` may import it, it imports nothing of ours.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_ENV = "GAMEDAY_STATE_DIR"


def state_dir() -> Path:
    """``$GAMEDAY_STATE_DIR``, else ``~/.local/state/gameday``."""
    return Path(os.environ.get(STATE_ENV) or Path.home() / ".local" / "state" / "gameday")
