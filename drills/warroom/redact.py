"""Blind drills: what responders must not read before the game master reveals the fault.

The drill id starts with the scenario's name, which is usually the fault's, so ids are replaced by a neutral
label everywhere, and the fault and scenario names are masked in what the system wrote (runner notes,
channel names).  What people typed is shown as they typed it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

INCIDENT_LABEL = "INC"
MASK = "[hidden]"


@dataclass(frozen=True)
class Redactor:
    """Masks ``secrets`` (fault types, scenario name/title) and replaces ``ids`` (drill id) with a label."""

    ids: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, compare=False)

    @classmethod
    def for_drill(cls, drill_id: str, names: Iterable[str]) -> Redactor:
        variants: set[str] = set()
        for name in names:
            name = str(name or "").strip()
            if len(name) < 3:
                continue
            variants |= {name, name.replace("-", " "), name.replace("-", "_")}
        ordered = tuple(sorted(variants, key=len, reverse=True))  # longest first: "a-b-c" before "a-b"
        pattern = re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE) if ordered else None
        return cls(ids=(drill_id,) if drill_id else (), secrets=ordered, _pattern=pattern)

    def ids_only(self, text: str) -> str:
        for ident in self.ids:
            text = text.replace(ident, INCIDENT_LABEL)
        return text

    def text(self, text: str) -> str:
        text = self.ids_only(text)
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def value(self, value: Any, *, full: bool = True) -> Any:
        """Redact every string inside ``value`` (dicts, lists); ``full=False`` replaces ids only."""
        if isinstance(value, str):
            return self.text(value) if full else self.ids_only(value)
        if isinstance(value, dict):
            return {self.value(k, full=full): self.value(v, full=full) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v, full=full) for v in value]
        return value


NO_REDACTION = Redactor()
