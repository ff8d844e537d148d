"""Active-drill markers: how other processes find the drill running on a target, and how a second drill
on the same target is refused.

One marker per target (``local`` for the sandbox of this state folder, ``kubernetes:<context>/<namespace>``
for a cluster), in ``<state>/drills/active/``, so a sandbox drill and a kind drill can run at the same
time while two drills on one target cannot.  ``gameday drill log``, ``gameday sandbox rollout`` and
``gameday cluster rollout`` read the marker to journal into the running drill; recovery reads it to find
a dead runner's journal.

A leaf module: it imports nothing of ``drills`` but other leaves.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from drills.pids import pid_alive
from drills.sandbox.paths import write_json_atomic
from drills.state import state_dir
from gameday.errors import SafetyError

LOCAL_KEY = "local"


class ActiveDrill(BaseModel):
    """What another process needs to journal into the running drill."""

    model_config = ConfigDict(extra="forbid")

    drill_id: str
    incident: str
    journal: str
    out_dir: str
    target: str  # the target's name: local | kubernetes
    target_key: str  # what the drill holds: local | kubernetes:<context>/<namespace>
    scenario: str
    time_scale: float
    started_at: datetime
    runner_pid: int
    load_pid: int | None = None
    #: How another process reaches the same target (Kubernetes: context, kubeconfig, allowed contexts).
    target_options: dict[str, Any] = Field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return pid_alive(self.runner_pid)


def markers_dir() -> Path:
    return state_dir() / "drills" / "active"


def marker_path(target_key: str) -> Path:
    """A readable file name per key, plus a short hash so two keys never share a file."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", target_key).strip("_")[:80] or "target"
    digest = hashlib.sha256(target_key.encode()).hexdigest()[:8]
    return markers_dir() / f"{slug}-{digest}.json"


def read_marker(path: Path) -> ActiveDrill | None:
    """The marker in ``path``; ``None`` when there is none or it is unreadable."""
    try:
        return ActiveDrill.model_validate_json(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def read_active(target_key: str) -> ActiveDrill | None:
    """The running (or crashed) drill on this target."""
    return read_marker(marker_path(target_key))


def all_active() -> list[ActiveDrill]:
    """Every marker, live or left by a dead runner, oldest first."""
    try:
        paths = sorted(markers_dir().glob("*.json"))
    except OSError:
        return []
    markers = [m for m in (read_marker(p) for p in paths) if m is not None]
    return sorted(markers, key=lambda m: m.started_at)


def claim(active: ActiveDrill) -> None:
    """Make ``active`` the drill of its target, or refuse naming the drill that holds it.

    Atomic: the marker is written whole to a temporary file and hard-linked into place, which fails
    when another runner got there first.  A marker whose runner is dead is replaced.
    """
    path = marker_path(active.target_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.claim")
    tmp.write_text(active.model_dump_json(indent=2), encoding="utf-8")
    try:
        for _ in range(3):
            try:
                os.link(tmp, path)
                return
            except FileExistsError:
                holder = read_marker(path)
                if holder is not None and holder.alive and holder.drill_id != active.drill_id:
                    raise SafetyError(
                        f"drill {holder.drill_id} is already running on {active.target_key} "
                        f"(runner pid {holder.runner_pid}); one drill per target at a time"
                    ) from None
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # a dead runner's marker (recovery normally clears it first)
        raise SafetyError(f"cannot claim {path}: another runner keeps replacing it")
    finally:
        tmp.unlink(missing_ok=True)


def update(active: ActiveDrill) -> None:
    """Rewrite the claimed marker (e.g. with the load generator's pid); readers never see half of it."""
    write_json_atomic(marker_path(active.target_key), active.model_dump(mode="json"))


def release(active: ActiveDrill) -> None:
    """Remove the marker if it is still this drill's."""
    path = marker_path(active.target_key)
    current = read_marker(path)
    if current is not None and current.drill_id == active.drill_id:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def running_on(target_key: str) -> ActiveDrill | None:
    """The drill whose runner is alive on this target, if any."""
    active = read_active(target_key)
    return active if active is not None and active.alive else None


def find_running(drill_id: str | None = None, target_key: str | None = None) -> ActiveDrill:
    """The one running drill a responder means: by id, by target, or the only one there is."""
    markers = [m for m in all_active() if (drill_id is None or m.drill_id == drill_id)
               and (target_key is None or m.target_key == target_key)]  # fmt: skip
    live = [m for m in markers if m.alive]
    if len(live) == 1:
        return live[0]
    if len(live) > 1:
        names = ", ".join(f"{m.drill_id} on {m.target_key}" for m in live)
        raise SafetyError(f"{len(live)} drills are running ({names}); pass --drill ID to say which")
    if markers:
        dead = markers[-1]
        raise SafetyError(f"the drill {dead.drill_id} is not running any more (runner pid {dead.runner_pid})")
    which = f" with id {drill_id}" if drill_id else ""
    where = f" on {target_key}" if target_key else ""
    raise SafetyError(f"no drill{which} is running{where} (no marker in {markers_dir()}); "
                      "start one with `gameday drill run`")
