"""Read the runbook's human durations ("< 1 hour", "Immediate (< 15 min)", "Every 15 minutes").

Runbooks speak in minutes and hours; the model stores minutes.  Text with no number
("Next business day", "Once at close") gives ``None`` and the caller keeps the text.
"""

from __future__ import annotations

import re

_UNIT_MINUTES = {
    "s": 1 / 60,
    "sec": 1 / 60,
    "second": 1 / 60,
    "m": 1.0,
    "min": 1.0,
    "minute": 1.0,
    "h": 60.0,
    "hr": 60.0,
    "hour": 60.0,
    "d": 1440.0,
    "day": 1440.0,
    "week": 10080.0,
}

_DURATION = re.compile(
    r"(?P<value>\d+(?:\.\d+)?)\s*\+?\s*"
    r"(?P<unit>weeks?|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b",
    re.IGNORECASE,
)


def _unit_key(unit: str) -> str:
    unit = unit.lower()
    if unit in _UNIT_MINUTES:
        return unit
    return unit.rstrip("s") if unit.rstrip("s") in _UNIT_MINUTES else unit


def all_minutes(text: str) -> list[float]:
    """Every duration in the text, in order, as minutes."""
    return [float(m["value"]) * _UNIT_MINUTES[_unit_key(m["unit"])] for m in _DURATION.finditer(text)]


def minutes(text: str) -> float | None:
    """The first duration in ``text`` in minutes, or ``None`` when the text names none."""
    found = all_minutes(text)
    return found[0] if found else None


def window(text: str) -> tuple[float | None, float | None]:
    """A phase window such as "0-15 minutes", "15 min - 2 hours" or "Within 48 hours" -> (start, end)."""
    text = text.strip()
    ranged = re.match(r"^(?P<a>\d+(?:\.\d+)?)\s*(?P<ua>[a-zA-Z]*)\s*[-–]\s*(?P<rest>.+)$", text)
    if ranged:
        end = minutes(ranged["rest"])
        if end is None:
            return None, None
        unit = ranged["ua"] or _DURATION.search(ranged["rest"])["unit"]
        start = minutes(f"{ranged['a']} {unit}")
        return start, end
    if re.match(r"^(within|under|<)", text, re.IGNORECASE):
        return 0.0, minutes(text)
    single = minutes(text)
    return (None, single) if single is not None else (None, None)
