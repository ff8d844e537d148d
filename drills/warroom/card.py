"""The war room's "Runbook commands" panel: the runbook's command card for the drill's own target.

The card (:func:`drills.runbook_card.card`) depends only on the runbook and the target the journal's
``journal_started`` names, so it is sent once with the page; the view model only says which phase the
incident is in (from the journal), and the page shows that phase's steps' commands first.  Nothing here
depends on the fault: responders and the game master get the same card.
"""

from __future__ import annotations

from typing import Any

from gameday.errors import GamedayError
from gameday.journal import Event, EventType
from gameday.runbook.model import Phase, Runbook

E = EventType
#: Where the incident is, in the order it gets there; each with words its runbook phase's name contains
#: and the phase number of the shipped runbook as a fallback.
STAGES: dict[str, tuple[tuple[str, ...], int]] = {
    "detection": (("detection", "declaration"), 1),
    "investigation": (("investigation", "diagnos"), 2),
    "resolution": (("resolution", "mitigation"), 3),
    "closure": (("closure",), 5),
    "review": (("review", "post-mortem", "postmortem"), 6),
}


def drill_target(meta: dict[str, Any]) -> str:
    """``local`` (the sandbox) or ``kubernetes`` from ``journal_started``; a journal naming none (not a drill)
    gets the commands as the runbook writes them."""
    target = str(meta.get("target") or "")
    return "local" if target == "local" else "kubernetes"


def command_card(runbook: Runbook, target: str) -> dict[str, Any]:
    """Every runbook command with what to type on ``target``, as plain data for the page."""
    from drills.runbook_card import card

    try:
        rows = card(runbook, target)
    except GamedayError as exc:  # e.g. a bad GAMEDAY_SANDBOX_PORT_OFFSET: the panel says so
        return {"target": target, "rows": [], "error": str(exc)}
    return {"target": target, "rows": [
        {"step": r.step, "section": r.section, "line": r.line, "tool": r.tool.value, "command": r.command,
         "do": r.do, "note": r.note} for r in rows]}


def stage(events: list[Event]) -> str:
    """Where the incident is, from the journal alone."""
    has = {e.type for e in events}
    if has & {E.closed, E.drill_ended, E.postmortem_filed}:
        return "review"
    if E.resolved in has:
        return "closure"
    if has & {E.action, E.mitigated, E.verified}:
        return "resolution"
    if has & {E.severity_declared, E.hypothesis}:
        return "investigation"
    return "detection"


def phase_of(runbook: Runbook, name: str) -> Phase | None:
    words, number = STAGES[name]
    named = next((p for p in runbook.phases if any(w in p.name.lower() for w in words)), None)
    return named or next((p for p in runbook.phases if p.number == number), None)


def current_phase(events: list[Event], runbook: Runbook, meta: dict[str, Any]) -> dict[str, Any]:
    """The view model's part of the panel: the target and the phase (number, title, step numbers)."""
    name = stage(events)
    phase = phase_of(runbook, name)
    return {
        "target": drill_target(meta),
        "stage": name,
        "phase": None if phase is None else {
            "number": phase.number, "title": f"Phase {phase.number}: {phase.name}",
            "steps": [s.number for s in phase.steps],
        },
    }
