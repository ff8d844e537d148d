"""What the runbook's words *mean*, decided once: declaration steps, workflow nodes, the declaring team.

The parser keeps the runbook's own wording (``"Page on-call team"``, ``"Create war room channel"``,
``"Verify Resolution"``); the scorer, the drills' autopilot and both simulator engines need to know what
kind of thing each one is.  Each word list lives here, in one ordered table (first match wins), and the
model exposes the result (``DeclarationStep.kind``, ``WorkflowNode.role``, ``Runbook.declaration_roles``),
so ``gameday runbook show --json`` shows exactly what every consumer will act on.
"""

from __future__ import annotations

import re
from enum import StrEnum

from gameday.journal import EventType
from gameday.runbook.communication import field_key, message_templates


class DeclarationKind(StrEnum):
    """What one of *Declare Incident*'s numbered steps asks for."""

    war_room = "war_room"  # a dedicated channel / bridge for the responders
    page = "page"  # page the on-call team
    status_page = "status_page"  # tell users on the public status page
    announce = "announce"  # post the declaration where the organisation sees it (#incidents)
    other = "other"  # a step gameday has no event for; journaled as a note


#: (kind, pattern on the step's title), first match wins: "Create war room channel" is a war room even
#: though it says "channel"; "Update status page" is the status page, not a generic update.
DECLARATION_PATTERNS: tuple[tuple[DeclarationKind, str], ...] = (
    (DeclarationKind.war_room, r"war[ -]?room|\bbridge\b"),
    (DeclarationKind.page, r"^\s*page\b|\bpag(e|ing)\b.*\bon-?call|\bon-?call\b"),
    (DeclarationKind.status_page, r"status[ -]?page"),
    (DeclarationKind.announce, r"\bslack\b|#incidents|\bannounce|\bcreate (an )?incident\b|\bdeclar"),
)

#: A step's parenthesised condition that limits it to incidents users can see ("if public-facing").
USER_FACING_CONDITION = r"public|user[- ]?facing|external|customer"


def declaration_kind(title: str) -> DeclarationKind:
    """``"Page on-call team"`` -> ``page``; a title nothing matches -> ``other``."""
    for kind, pattern in DECLARATION_PATTERNS:
        if re.search(pattern, title, re.IGNORECASE):
            return kind
    return DeclarationKind.other


#: The journal event that records each kind of step as done: the post in #incidents is the declaration
#: message (its template's fields), the status page step the page's first status.
DECLARATION_EVENTS: dict[DeclarationKind, EventType] = {
    DeclarationKind.war_room: EventType.war_room_created,
    DeclarationKind.page: EventType.paged,
    DeclarationKind.status_page: EventType.status_page,
    DeclarationKind.announce: EventType.declaration_posted,
    DeclarationKind.other: EventType.note,
}


def user_facing_only(condition: str | None) -> bool:
    """Does the step's condition restrict it to user-facing incidents?"""
    return bool(condition) and re.search(USER_FACING_CONDITION, condition or "", re.IGNORECASE) is not None


class NodeRole(StrEnum):
    """What a workflow node does, whatever the runbook calls it (the simulator routes on these)."""

    # steps
    detect = "detect"
    ticket = "ticket"
    assign = "assign"
    declare = "declare"
    assemble = "assemble"
    war_room = "war_room"
    investigate = "investigate"
    escalate = "escalate"
    fix = "fix"
    verify = "verify"
    monitor = "monitor"
    close = "close"
    review = "review"
    other = "other"
    # decisions
    severity = "severity"
    root_cause = "root_cause"
    fix_worked = "fix_worked"  # "Issue Resolved?": did the fix work (the glossary's *resolved* is later)
    stable = "stable"
    decision = "decision"  # a decision gameday has no rule for


#: Decision nodes (``{...}`` in mermaid), first match wins.
DECISION_PATTERNS: tuple[tuple[NodeRole, str], ...] = (
    (NodeRole.severity, r"severity"),
    (NodeRole.root_cause, r"root cause|cause found"),
    (NodeRole.fix_worked, r"resolved|fixed|working"),  # the runbook's label ("Issue Resolved?"), not our word
    (NodeRole.stable, r"stable"),
)
#: Every other node, first match wins ("Assign to Team Member" is an assignment, not a team assembly).
STEP_PATTERNS: tuple[tuple[NodeRole, str], ...] = (
    (NodeRole.detect, r"\bdetect"),
    (NodeRole.ticket, r"ticket"),
    (NodeRole.assign, r"assign"),
    (NodeRole.declare, r"declare"),
    (NodeRole.assemble, r"assemble|response team"),
    (NodeRole.war_room, r"war room|bridge"),
    (NodeRole.investigate, r"investigat|diagnos"),
    (NodeRole.escalate, r"escalat|\bsme\b"),
    (NodeRole.fix, r"fix|remediat|roll ?back|mitigat"),
    (NodeRole.verify, r"verif"),
    (NodeRole.monitor, r"monitor|watch"),
    (NodeRole.close, r"close"),
    (NodeRole.review, r"review|post-?mortem|retro"),
)


def node_role(label: str, kind: str) -> NodeRole:
    """``("Verify Resolution", "step")`` -> ``verify``; ``("Stable for 30 min?", "decision")`` -> ``stable``."""
    table = DECISION_PATTERNS if kind == "decision" else STEP_PATTERNS
    for role, pattern in table:
        if re.search(pattern, label, re.IGNORECASE):
            return role
    return NodeRole.decision if kind == "decision" else NodeRole.other


def declaration_roles(abbreviations: list[str], templates: dict[str, str]) -> list[str]:
    """Roles a declaration must name: those the declaration template has a field for (``**IC**: @…``), read
    the way the scorer reads every template (:func:`gameday.runbook.communication.message_templates`).

    A runbook without such a template gets its first two roles (commander and technical lead in every
    runbook we have seen), so the check never silently asks for nobody.
    """
    template = message_templates(templates).get("declaration")
    fields = set(template.field_keys()) if template is not None else set()
    named = [abbr for abbr in abbreviations if field_key(abbr) in fields]
    return named or abbreviations[:2]
