"""Runtime fault knobs shared by the backend and its upstream: a JSON file re-read when it changes, so a
fault can be switched on and off without a restart (like a feature flag service)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Knobs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query_latency_s: float = Field(default=0.0, ge=0, description="pg_sleep added to affected queries")
    latency_fraction: float = Field(default=1.0, ge=0, le=1, description="share of queries slowed")
    slow_plan_fraction: float = Field(default=0.05, ge=0, le=1, description="searches that hit the timeout")
    slow_plan_every_s: float = Field(default=0.0, ge=0, description="and one search in each slot this long "
                                                                     "(wall seconds; 0 = never): a paced fault "
                                                                     "progression")
    slow_plan_from: float = Field(default=0.0, ge=0, description="... from this Unix time on (0 = at once)")
    upstream_error_fraction: float = Field(default=0.0, ge=0, le=1)
    # configuration the team owns (a ConfigMap on kind): a bad change to it is the config-change fault
    upstream_timeout_s: float = Field(default=2.0, gt=0, le=60, description="the eligibility client's timeout")
    # the team's switch (the runbook's "take the system offline" while data is repaired): writes are refused
    maintenance: bool = Field(default=False, description="maintenance mode: every write answers 503")
    # the memory-leaking release's pace (drills/service/memleak.py); other releases keep nothing
    memory_leak_mib_per_s: float = Field(default=0.5, ge=0, le=4096, description="MiB a leaking release keeps per "
                                                                                "wall second (the fault paces it)")


class KnobReader:
    """Caches the file; checks its mtime at most every ``interval`` seconds."""

    def __init__(self, path: str | Path | None, interval: float = 0.5) -> None:
        self.path = Path(path) if path else None
        self.interval = interval
        self._checked = 0.0
        self._mtime: float | None = None
        self._knobs = Knobs()

    def get(self) -> Knobs:
        now = time.monotonic()
        if self.path is None or now - self._checked < self.interval:
            return self._knobs
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._mtime, self._knobs = None, Knobs()
            return self._knobs
        if mtime != self._mtime:
            try:
                self._knobs = Knobs.model_validate(json.loads(self.path.read_text(encoding="utf-8")))
                self._mtime = mtime
            except (OSError, ValueError):
                pass  # a half-written file: keep the last good knobs and look again soon
        return self._knobs


def write_knobs(path: Path, **values: Any) -> Knobs:
    """Merge ``values`` into the knob file atomically (readers never see a torn file)."""
    current: dict[str, Any] = {}
    if path.exists():
        current = json.loads(path.read_text(encoding="utf-8"))
    current.update(values)
    knobs = Knobs.model_validate(current)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(knobs.model_dump_json(), encoding="utf-8")
    os.replace(tmp, path)
    return knobs
