"""The detection chain in runbook time, and the wall-clock settings it becomes at a drill's time scale.

A compressed drill must measure the system, not the sandbox's calibration: scrape and evaluation
intervals, the alert rules' ``rate()`` window and ``for``, and Alertmanager's group wait are runbook
durations (by default the simulator's baseline policy: 15 s scrape and evaluation, ``for: 2m``, 30 s group
wait, the runbook's own ``[1m]`` window) divided by the drill's ``time_scale``, so the same fault gives the
same MTTD in runbook minutes at any scale.  Only below what the tools can do are wall-clock floors applied
(two scrapes a second: a scrape must finish within its interval, also on a busy machine);
:attr:`WallDetection.floored` names the settings that hit one.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

#: Wall-clock floor of the scrape, evaluation and Alertmanager intervals (seconds).
MIN_INTERVAL_S = float(os.environ.get("GAMEDAY_MIN_DETECTION_INTERVAL", "0.5"))
#: A ``rate()`` window holds at least this many scrapes.
MIN_SCRAPES_PER_WINDOW = 4
#: The runbook's error-rate query window (``[1m]``, Step 1.2), which the alert rules use too.
RUNBOOK_WINDOW_S = 60.0


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectionChain(_Closed):
    """The alert path in runbook seconds (0 = as fast as the tools go: the wall-clock floor)."""

    scrape_interval_s: float = Field(default=15.0, ge=0)
    evaluation_interval_s: float = Field(default=15.0, ge=0)
    rule_window_s: float = Field(default=RUNBOOK_WINDOW_S, gt=0, description="rate() range of the alert rules")
    alert_for_s: float = Field(default=120.0, ge=0, description="`for:` of every alert rule")
    group_wait_s: float = Field(default=30.0, ge=0)
    group_interval_s: float = Field(default=60.0, gt=0)
    repeat_interval_s: float = Field(default=3600.0, gt=0)

    @classmethod
    def from_policy(cls, path: str | Path) -> DetectionChain:
        """The policy's alert path (``detection``), so a drill and a simulation detect alike."""
        from sim.policy import load_policy

        detection = load_policy(str(path)).detection
        return cls(scrape_interval_s=detection.scrape_interval_seconds,
                   evaluation_interval_s=detection.evaluation_interval_seconds,
                   alert_for_s=detection.rule_for_seconds, group_wait_s=detection.group_wait_seconds)  # fmt: skip

    def at(self, time_scale: float) -> WallDetection:
        """Wall seconds at ``time_scale`` (runbook seconds per wall second), floored where the tools need it."""
        floored: list[str] = []

        def interval(name: str, runbook_s: float, floor: float = MIN_INTERVAL_S) -> float:
            wall = runbook_s / time_scale
            if wall < floor:
                floored.append(name)
                return floor
            return wall

        scrape = interval("scrape_interval", self.scrape_interval_s)
        return WallDetection(
            time_scale=time_scale,
            scrape_interval_s=scrape,
            evaluation_interval_s=interval("evaluation_interval", self.evaluation_interval_s),
            rule_window_s=interval("rule_window", self.rule_window_s, MIN_SCRAPES_PER_WINDOW * scrape),
            alert_for_s=interval("alert_for", self.alert_for_s, 0.0),
            group_wait_s=interval("group_wait", self.group_wait_s),
            group_interval_s=interval("group_interval", self.group_interval_s),
            repeat_interval_s=interval("repeat_interval", self.repeat_interval_s),
            floored=floored,
        )


class WallDetection(_Closed):
    """The chain in wall seconds, as Prometheus and Alertmanager are configured."""

    time_scale: float
    scrape_interval_s: float
    evaluation_interval_s: float
    rule_window_s: float
    alert_for_s: float
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    floored: list[str] = Field(default_factory=list, description="settings held at a wall-clock floor")


#: Wall seconds a deleted pod's scrape target may outlive the pod: service discovery's refresh (at least 1 s), a
#: scrape, the exporter's watch, with room on a loaded machine (kind at x120 measured 2.2 s).
DELETED_POD_LINGER_S = 10.0


def deleted_pod_memory_s(rule_window_s: float) -> float:
    """How long the alert rules remember a pod was being deleted: the rule window, never under the linger."""
    return max(rule_window_s, DELETED_POD_LINGER_S)


def duration(seconds: float) -> str:
    """A Prometheus/Alertmanager duration: whole seconds when exact, else milliseconds (``250ms``)."""
    ms = max(round(seconds * 1000), 0)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
