"""What other packages add to the core, found through entry points (``pyproject.toml`` is the composition layer).

The core (``gameday/``) never names ``sim`` or ``drills``: the simulator and the drills register their CLI
commands, their file kinds and their start-up hooks under the groups below, and the core loads whatever is
installed.  Groups:

``gameday.commands``
    ``register(app: typer.Typer) -> None`` callables that add commands.
``gameday.startup``
    no-argument callables run before any command (the drills revert faults a killed drill left behind).
``gameday.file_kinds``
    pydantic model classes, by the ``kind:`` their YAML files declare (``policy``, ``sweep``, ...).
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any

COMMANDS = "gameday.commands"
STARTUP = "gameday.startup"
FILE_KINDS = "gameday.file_kinds"

#: Said when the install predates the entry points (an old editable install): commands would just be missing.
STALE_INSTALL = (
    "gameday: no command plug-ins are registered in this environment (installed before gameday's entry points "
    "existed); reinstall it: make venv (pip install -e '.[dev]')"
)


def group(name: str) -> list[EntryPoint]:
    """The entry points of one group, in a stable order (by name)."""
    return list(_group(name))


@functools.cache
def _group(name: str) -> tuple[EntryPoint, ...]:
    """Looked up once per process: scanning every installed distribution's metadata costs tens of
    milliseconds, and ``gameday validate`` asks for every file it reads."""
    found = {ep.name: ep for ep in entry_points(group=name)}  # one distribution may be seen twice on sys.path
    return tuple(found[key] for key in sorted(found))


def load(name: str) -> dict[str, Any]:
    """Entry point name -> loaded object for one group."""
    return {ep.name: ep.load() for ep in group(name)}


def entry_point_targets(name: str) -> dict[str, str]:
    """Entry point name -> ``"module:attribute"`` without importing anything (for ``--help`` and errors)."""
    return {ep.name: ep.value for ep in group(name)}
