"""Journal a responder's remediation while a drill is active.

The drill runner writes ``active-drill.json`` (``{"journal": path, "incident": id}``) into the sandbox
folder while a drill runs and removes it afterwards; any ``gameday sandbox`` remediation (rollout undo,
restart, scale) then lands in that drill's journal as an ``action`` event with its actor.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from drills.sandbox.config import sandbox_dir
from drills.sandbox.paths import Layout, read_json
from gameday.journal import EventType, JournalWriter, iter_events


def default_actor() -> str:
    return os.environ.get("GAMEDAY_ACTOR") or os.environ.get("USER") or getpass.getuser() or "operator"


def active_drill(home: Path | None = None) -> dict[str, Any] | None:
    data = read_json(Layout(home or sandbox_dir()).active_drill)
    return data if isinstance(data, dict) and data.get("journal") else None


def record_action(kind: str, detail: dict[str, Any] | str, actor: str | None = None,
                  home: Path | None = None) -> bool:
    """Append an ``action`` event to the active drill's journal; False when no drill is active.

    ``t`` is measured from the journal's first event, so events from this process line up with the
    runner's own.
    """
    drill = active_drill(home)
    if drill is None:
        return False
    path = Path(drill["journal"])
    start = next(iter(iter_events(path)), None) if path.exists() else None
    data = {"kind": kind, "target": "local", **(detail if isinstance(detail, dict) else {"detail": detail})}
    writer = JournalWriter(path, str(drill.get("incident") or "drill"), start=start.ts if start else None)
    try:
        writer.emit(EventType.action, actor or default_actor(), data)
    finally:
        writer.close()
    return True
