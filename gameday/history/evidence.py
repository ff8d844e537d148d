"""What one stored record can tell about the team: a weight per measured interval, and the reason for it.

Calibration (``gameday calibrate``) and the monthly review share these rules, so the review's "too few to fit"
is the calibration's.  A weight of 1 is one real past incident; the figures are judgement, written down once:

- a **past incident** (an imported timeline, an incident-history CSV row) is the team at work: 1 for every
  interval it measures;
- a **drill** with people responding is a rehearsal (the fault comes from a catalogue, everyone knows it is a
  drill): ``DRILL_WEIGHT``, divided by its time scale for the people's intervals, since at scale *s* a person's
  wall second is *s* runbook minutes;
- an **autopilot** drill's people are draws from the policy it ran with: fitting them gives that policy back, so
  they weigh 0; its detection (the alert chain in runbook time) is the system's own and keeps ``DRILL_WEIGHT``;
- a **simulated** or **generated** journal tells nothing about the team: 0.
"""

from __future__ import annotations

from typing import Any

#: The system's own interval (the alert chain); every other interval is the people's.
SYSTEM_INTERVALS = frozenset({"detect"})
#: A rehearsal's weight against a real incident's 1.
DRILL_WEIGHT = 0.5
#: Total weight (in real incidents) an interval needs before it is fitted; below it the baseline stays.
TOO_FEW_WEIGHT = 3.0


def weight(kind: str, meta: dict[str, Any], interval: str) -> tuple[float, str]:
    """``(weight, why)`` of one measured interval of a record of ``kind`` (the store's: incident, drill, sim,
    generated) whose journal started with ``meta``."""
    if kind == "incident":
        return 1.0, "a real past incident"
    if kind in ("sim", "generated"):
        return 0.0, f"a {'simulated' if kind == 'sim' else 'generated'} journal tells nothing about the team"
    if kind != "drill":
        return 0.0, f"unknown kind {kind!r}"
    if interval in SYSTEM_INTERVALS:
        return DRILL_WEIGHT, "a drill's alert chain (the sandbox's, in runbook time)"
    if str(meta.get("responder") or "") == "autopilot":
        policy = str(meta.get("policy") or "its policy").rsplit("/", 1)[-1]
        return 0.0, f"an autopilot drill: its people are draws from {policy}"
    scale = _scale(meta)
    if scale > 1.0:
        return DRILL_WEIGHT / scale, f"a drill with people, compressed {scale:g}x"
    return DRILL_WEIGHT, "a drill with people, in real time"


def too_few(total_weight: float) -> bool:
    return total_weight < TOO_FEW_WEIGHT


def too_few_text(total_weight: float, count: int) -> str:
    """The plain sentence both the calibration and the review print."""
    return (
        f"too few to fit: {count} observation(s) weighing {total_weight:.2f} real incident(s), "
        f"{TOO_FEW_WEIGHT:g} needed"
    )


def _scale(meta: dict[str, Any]) -> float:
    try:
        value = float(meta.get("time_scale") or 1.0)
    except (TypeError, ValueError):
        return 1.0
    return value if value == value and value > 0 else 1.0
