"""How an unknown name is told: echoed short, with the closest known name as a hint, in one line.

A leaf module (no import of gameday's own), so the catalogues and the validators that check names against
them (:mod:`gameday.faults`, :mod:`gameday.scenario`, :mod:`gameday.references`) can all use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

#: An unknown name is echoed cut to this many characters (a name can be a whole file's worth of text).
ECHO = 40


def shown(name: object) -> str:
    """``name`` as an error shows it: repr'd, cut to :data:`ECHO` characters."""
    text = name if isinstance(name, str) else repr(name)
    return repr(text if len(text) <= ECHO else text[:ECHO] + "...")


def hint(name: object, known: Iterable[str]) -> str:
    """``" (did you mean X?)"`` for the one closest known name (case-insensitive), or ``""`` when none is
    close or two are equally close (``SEV-9`` is as near ``SEV-1`` as ``SEV-2``: no guess)."""
    choices = {k.lower(): k for k in known}
    text = str(name)[:ECHO].lower()
    scored = sorted(((difflib.SequenceMatcher(None, text, choice).ratio(), choice) for choice in choices),
                    reverse=True)
    if not scored or scored[0][0] < 0.6 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return ""
    return f" (did you mean {choices[scored[0][1]]}?)"


def unknown(what: str, name: object, known: Sequence[str], where: str = "the runbook") -> str:
    """One line: ``no severity 'SEV-9' (the runbook has SEV-1, SEV-2; did you mean SEV-1?)``."""
    close = hint(name, known).removeprefix(" (").removesuffix(")")
    has = f"{where} has {', '.join(known)}" if known else f"{where} has none"
    return f"no {what} {shown(name)} ({has}{'; ' + close if close else ''})"
