"""Phase 4 and the roles as data: the message templates' fields, the status page's statuses, who owns which duty.

The scorer, the autopilot and the war room fill or judge messages by these fields and never by words of their
own: a runbook that adds ``**Workaround**:`` to its update template asks every update for a workaround.  A
field's *key* is its label in lower snake case (``War Room`` -> ``war_room``); journal events carry filled
fields under those keys (``data.fields``, :mod:`gameday.journal`).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gameday.journal import EventType
from gameday.runbook.severities import severity_names


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def field_key(label: str) -> str:
    """``"War Room"`` -> ``"war_room"``; ``"**Next Update**"`` -> ``"next_update"``."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


class TemplateField(_Closed):
    key: str = Field(description="lower snake case of the label; journal events use it")
    label: str = Field(description="as the runbook writes it")
    example: str = Field(default="", description="the template's sample or placeholder value")


class MessageTemplate(_Closed):
    """One of the runbook's message templates, by its fields."""

    name: str = Field(description="the runbook's heading for it")
    text: str
    fields: list[TemplateField] = Field(default_factory=list)

    def field_keys(self) -> list[str]:
        return [f.key for f in self.fields]

    def missing(self, filled: dict[str, object]) -> list[TemplateField]:
        """Fields ``filled`` (keys or labels, any case) leaves out or empty."""
        have = {field_key(str(k)) for k, v in filled.items() if str(v).strip()}
        return [f for f in self.fields if f.key not in have]

    def labels(self, fields: list[TemplateField] | None = None) -> str:
        return ", ".join(f.label for f in (self.fields if fields is None else fields))


class DutyKind(StrEnum):
    """What one duty in a role's list is (the runbook words it its own way)."""

    support = "support"
    verify = "verify"
    fix = "fix"
    declare = "declare"
    review = "review"
    decide = "decide"
    stakeholders = "stakeholders"
    incident_page = "incident_page"
    updates = "updates"
    notify_users = "notify_users"
    coordinate = "coordinate"
    investigate = "investigate"
    assign = "assign"
    expertise = "expertise"
    other = "other"


#: (kind, pattern on the duty's text), first match wins: "Confirm that the fix worked" verifies, it is no fix;
#: "Coordinate with support team" is support work, not coordinating the responders.
DUTY_PATTERNS: tuple[tuple[DutyKind, str], ...] = (
    (DutyKind.support, r"\bsupport\b"),
    (DutyKind.verify, r"verif|confirm\b.*\b(fix|work|resol)"),
    (DutyKind.fix, r"\bfix|implement|remediat"),
    (DutyKind.declare, r"declar|severity"),
    (DutyKind.review, r"review|post-?mortem|retro"),
    (DutyKind.decide, r"decision|decide|final call"),
    (DutyKind.stakeholders, r"stakeholder"),
    (DutyKind.incident_page, r"incident page|status page"),
    (DutyKind.updates, r"status update|\bupdates?\b"),
    (DutyKind.notify_users, r"\b(notify|tell|inform)\b.*\busers?\b|\busers?\b.*\b(notif|told)"),
    (DutyKind.coordinate, r"coordinat|organi[sz]e|assemble"),
    (DutyKind.investigate, r"investigat|troubleshoot|diagnos"),
    (DutyKind.assign, r"assign|hand out|\btasks?\b"),
    (DutyKind.expertise, r"specialist|expert|engineer"),
)

#: The journal events that record a duty as done, by whom (the event's actor).  Duties with no event here
#: (coordinate, decide, ...) happen in conversation and are not judged.
DUTY_EVENTS: dict[DutyKind, tuple[EventType, ...]] = {
    DutyKind.declare: (EventType.severity_declared, EventType.declaration_posted),
    DutyKind.fix: (EventType.action,),
    DutyKind.verify: (EventType.verified,),
    DutyKind.updates: (EventType.status_update,),
    DutyKind.notify_users: (EventType.external_notice,),
    DutyKind.incident_page: (EventType.status_page,),
    DutyKind.stakeholders: (EventType.notified,),
    DutyKind.review: (EventType.postmortem_filed,),
}


def duty_kind(text: str) -> DutyKind:
    """``"Carry out the fix"`` -> ``fix``; a duty nothing matches -> ``other``."""
    for kind, pattern in DUTY_PATTERNS:
        if re.search(pattern, text, re.IGNORECASE):
            return kind
    return DutyKind.other


class Duty(_Closed):
    role: str = Field(description="the role's abbreviation")
    text: str = Field(description="the duty as the runbook words it")

    @computed_field(description="what the duty is (gameday.runbook.communication.DutyKind)")
    @property
    def kind(self) -> DutyKind:
        return duty_kind(self.text)


class Communication(_Closed):
    """Phase 4 (updates, external communication), the declaration and status-page templates, the duties."""

    declaration: MessageTemplate | None = None
    update: MessageTemplate | None = None
    status_page: MessageTemplate | None = None
    status_page_statuses: list[str] = Field(default_factory=list, description="in the template's order")
    initial_notice: MessageTemplate | None = None
    resolution_notice: MessageTemplate | None = None
    external_severities: list[str] = Field(default_factory=list, description="severities users are told of")
    external_user_facing_only: bool = Field(default=True, description="'For user-facing incidents'")
    duties: list[Duty] = Field(default_factory=list)

    def duty_owner(self, kind: DutyKind) -> Duty | None:
        """The first duty of that kind, and so its role (the runbook lists each duty under one role)."""
        return next((d for d in self.duties if d.kind is kind), None)


# -- reading templates --------------------------------------------------------------------------------------

_LABELLED = re.compile(r"^[\s>*_-]*\**([A-Za-z][A-Za-z0-9 /&()-]*?)\**\s*:\s*\**\s*(.*?)\s*$")
_HEADER = re.compile(r"(\d{1,2}:\d{2})(?:\s*[A-Z]{2,5})?\s*[-–—]\s*([A-Za-z ]+?)\s*#\s*(\d+)")
_AS_OF = re.compile(r"\b([A-Za-z]+)\s+as of\s+(\d{1,2}:\d{2}(?:\s*[A-Z]{2,5})?)")


def read_template(name: str, text: str) -> MessageTemplate:
    """Fields of a template: ``**Label**: value`` and ``Label: value`` lines, a ``14:45 KST - Update #3``
    heading (fields ``time`` and ``number``) and a time in prose (``restored as of 15:00 KST`` -> ``restored``)."""
    fields: list[TemplateField] = []

    def add(key: str, label: str, example: str) -> None:
        if key and key not in {f.key for f in fields}:
            fields.append(TemplateField(key=key, label=label, example=example))

    for line in text.splitlines():
        header = _HEADER.search(line)
        if header:
            add("time", "Time", header.group(1))
            add("number", f"{header.group(2).strip()} #", header.group(3))
            continue
        as_of = _AS_OF.search(line)
        if as_of:
            add(field_key(as_of.group(1)), f"{as_of.group(1).capitalize()} as of", as_of.group(2))
            continue
        labelled = _LABELLED.match(line)
        if labelled and len(labelled.group(1).split()) <= 4 and not labelled.group(1).lower().startswith("http"):
            label = labelled.group(1).strip()
            add(field_key(label), label, labelled.group(2).strip())
    return MessageTemplate(name=name, text=text, fields=fields)


#: A value still the template's placeholder ("[One-line description]", "@[username]", "SEV-[1/2/3]").
PLACEHOLDER = re.compile(r"\[[^\]]*\]")


def filled_fields(text: str) -> dict[str, str]:
    """The fields a written message fills, read the way its template is (``**Impact**: 35% fail``), keyed like
    the template's; a value left as the template's placeholder is no value."""
    return {
        f.key: f.example
        for f in read_template("", text).fields
        if f.example.strip() and not PLACEHOLDER.search(f.example)
    }


def _alternatives(example: str) -> list[str]:
    """``"[Investigating / Identified / Monitoring / Resolved]"`` -> the four statuses."""
    inner = example.strip().strip("[]")
    parts = [p.strip() for p in re.split(r"\s*/\s*|\s*\|\s*", inner) if p.strip()]
    return parts if len(parts) > 1 else []


#: (attribute, pattern on the template's name), first match wins.
TEMPLATE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("initial_notice", r"initial"),
    ("resolution_notice", r"resolution notif|restor"),
    ("declaration", r"declar"),
    ("status_page", r"status[ -]?page"),
    ("update", r"^status update$|\bupdate template\b"),
)


def message_templates(templates: dict[str, str]) -> dict[str, MessageTemplate]:
    """The runbook's templates (name -> text) by what they are (``declaration``, ``update`` ...), read into their
    fields: the one place a template's name and its ``Label: value`` lines are interpreted (the model, the
    roles a declaration must name)."""
    found: dict[str, MessageTemplate] = {}
    for name, text in templates.items():
        for attribute, pattern in TEMPLATE_PATTERNS:
            if attribute not in found and re.search(pattern, name, re.IGNORECASE):
                found[attribute] = read_template(name, text)
                break
    return found


def read_communication(
    templates: dict[str, str],
    roles: list[tuple[str, list[str]]],
    external_intro: str = "",
) -> Communication:
    """Build the model from the parser's templates (name -> text), each role's (abbreviation, duties) and the
    external-communication section's lead-in ("For user-facing incidents (SEV-1/2)")."""
    found = message_templates(templates)
    statuses: list[str] = []
    page = found.get("status_page")
    if page is not None:
        status = next((f for f in page.fields if f.key == "status"), None)
        statuses = _alternatives(status.example) if status else []
    duties = [Duty(role=abbr, text=text) for abbr, texts in roles for text in texts]
    return Communication(
        **found,
        status_page_statuses=statuses,
        external_severities=severity_names(external_intro),
        external_user_facing_only=bool(re.search(r"user[- ]?facing|public|customer", external_intro, re.I)),
        duties=duties,
    )
