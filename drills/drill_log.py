"""The one validated path by which responders append to a running drill's journal.

``gameday drill log ...``, ``gameday sandbox|cluster`` remediations and the web war room all write
through :class:`ResponderLog`: each step has a closed data model (unknown fields refused), severities and
roles are checked against the runbook the drill runs under (named in its ``journal_started`` event), and
nothing is written until the entry is known good.
"""

from __future__ import annotations

import getpass
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drills.active import ActiveDrill, find_running, running_on
from gameday.errors import InputError, from_validation_error
from gameday.journal import Event, EventType, JournalWriter, iter_events
from gameday.runbook import load_runbook
from gameday.runbook.model import Runbook


def default_actor() -> str:
    return os.environ.get("GAMEDAY_ACTOR") or os.environ.get("USER") or getpass.getuser() or "operator"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoData(_Entry):
    pass


class SeverityDeclared(_Entry):
    level: int = Field(ge=1)


class RoleAssigned(_Entry):
    role: str = Field(min_length=1)
    person: str = Field(min_length=1)


class StatusUpdate(_Entry):
    message: str = Field(min_length=1)
    channels: list[str] = Field(default_factory=list)


class DeclarationPosted(_Entry):
    """The declaration message (the runbook's declaration template), posted to its channels."""

    message: str = Field(min_length=1)
    channels: list[str] = Field(default_factory=list)
    channel: str | None = Field(default=None, description="the chat channel it went to, e.g. #incidents")


class ExternalNotice(_Entry):
    """Users told: the runbook's initial or resolution notification."""

    kind: Literal["initial", "resolution"]
    message: str = Field(min_length=1)
    channels: list[str] = Field(default_factory=list)


class StatusPage(_Entry):
    """An entry on the status page, with one of the status page template's statuses."""

    status: str = Field(min_length=1)
    message: str = Field(min_length=1)
    channels: list[str] = Field(default_factory=list)


class Notified(_Entry):
    """Business escalation: someone on the runbook's list told."""

    who: str = Field(min_length=1)
    message: str | None = None
    channels: list[str] = Field(default_factory=list)


class Hypothesis(_Entry):
    text: str = Field(min_length=1)


class Paged(_Entry):
    who: str = Field(default="on-call team", min_length=1)
    level: int = Field(default=1, ge=1)


class WarRoom(_Entry):
    channel: str | None = None


class Postmortem(_Entry):
    path: str = Field(min_length=1)


#: The responder steps ``drill log`` accepts, by journal event type, with the shape of their data.
ENTRIES: dict[EventType, type[_Entry]] = {
    EventType.acknowledged: NoData,
    EventType.severity_declared: SeverityDeclared,
    EventType.role_assigned: RoleAssigned,
    EventType.status_update: StatusUpdate,
    EventType.declaration_posted: DeclarationPosted,
    EventType.external_notice: ExternalNotice,
    EventType.status_page: StatusPage,
    EventType.notified: Notified,
    EventType.hypothesis: Hypothesis,
    EventType.verified: NoData,
    EventType.resolved: NoData,
    EventType.closed: NoData,
    EventType.paged: Paged,
    EventType.war_room_created: WarRoom,
    EventType.postmortem_filed: Postmortem,
}
LOG_KINDS = frozenset(kind.value for kind in ENTRIES)


class ResponderLog:
    """A drill's journal as its responders see it: validated steps and remediations, one writer per entry
    (other processes append to the same file; the journal's lock keeps ``seq`` gap-free)."""

    def __init__(self, journal: str | Path, incident: str, target: str = "local") -> None:
        self.journal = Path(journal)
        self.incident = incident
        self.target = target

    @classmethod
    def of(cls, active: ActiveDrill) -> ResponderLog:
        return cls(active.journal, active.incident, active.target)

    @classmethod
    def running(cls, drill_id: str | None = None, target_key: str | None = None) -> ResponderLog:
        """The running drill's log (by id, by target, or the only one); refuses when none is running."""
        return cls.of(find_running(drill_id, target_key))

    @cached_property
    def runbook(self) -> Runbook:
        """The runbook the drill runs under (its ``journal_started`` names it; default: the shipped one)."""
        first = next(iter_events(self.journal), None)
        return load_runbook((first.data.get("runbook") if first else None) or None)

    def validate(self, kind: str, data: dict[str, Any]) -> tuple[EventType, dict[str, Any]]:
        """The event a responder step becomes; :class:`InputError` naming the field when it is wrong."""
        try:
            event_type = EventType(kind)
            model = ENTRIES[event_type]
        except (ValueError, KeyError):
            raise InputError(None, "kind", f"cannot log {kind!r}; expected one of {', '.join(sorted(LOG_KINDS))}"
                             ) from None
        try:
            entry = model.model_validate(data)
        except ValidationError as exc:
            raise from_validation_error(None, exc) from None
        out = entry.model_dump(exclude_none=True)
        if isinstance(entry, SeverityDeclared):
            by_level = {s.level: s.name for s in self.runbook.severities}
            if entry.level not in by_level:
                names = ", ".join(by_level.values())
                raise InputError(None, "--sev", f"the runbook has {names}, not SEV-{entry.level}")
            out["severity"] = by_level[entry.level]
        elif isinstance(entry, RoleAssigned):
            roles = {r.abbreviation.upper(): r.abbreviation for r in self.runbook.roles}
            if entry.role.upper() not in roles:
                raise InputError(None, "ROLE", f"expected ROLE=name with ROLE one of {', '.join(roles.values())}")
            out["role"] = roles[entry.role.upper()]
        elif isinstance(entry, Paged):
            levels = [level.level for level in self.runbook.escalation.technical]
            if entry.level not in levels:
                raise InputError(None, "level", f"the runbook's escalation ladder has "
                                 f"{', '.join(f'L{n}' for n in levels)}, not L{entry.level}")
        elif isinstance(entry, StatusUpdate | DeclarationPosted | ExternalNotice | StatusPage | Notified):
            out = self._message(entry, out)
        elif isinstance(entry, WarRoom):
            out["channel"] = entry.channel or f"#incident-{self.incident}"
        elif isinstance(entry, Postmortem):
            path = Path(entry.path)
            if not path.is_file():
                raise InputError(path, None, "no such file; write the review first")
            out["path"] = str(path.resolve())
        return event_type, out

    def _message(self, entry: _Entry, out: dict[str, Any]) -> dict[str, Any]:
        """A message's channels, status and addressee are the runbook's names (exact spelling written back), and
        the template fields its text fills are recorded as ``fields`` (the scorer reads them; the text stays
        as the team wrote it)."""
        from gameday.names import unknown
        from gameday.runbook.communication import read_template

        comms = self.runbook.communication
        channels = list(dict.fromkeys(c for s in self.runbook.severities for c in s.update_channels))
        by_name = {c.lower(): c for c in channels}
        for i, name in enumerate(out.get("channels", [])):
            if name.lower() not in by_name:
                raise InputError(None, f"channels.{i}", unknown("channel", name, channels))
        if "channels" in out:
            out["channels"] = list(dict.fromkeys(by_name[c.lower()] for c in out["channels"]))
        if isinstance(entry, StatusPage) and comms.status_page_statuses:
            statuses = {s.lower(): s for s in comms.status_page_statuses}
            if entry.status.lower() not in statuses:
                raise InputError(None, "status", unknown("status", entry.status, comms.status_page_statuses,
                                                         "the status page template"))
            out["status"] = statuses[entry.status.lower()]
        if isinstance(entry, Notified) and self.runbook.escalation.business:
            people = {b.who.lower(): b.who for b in self.runbook.escalation.business}
            if entry.who.lower() not in people:
                raise InputError(None, "who", unknown("person to notify", entry.who, list(people.values()),
                                                      "the runbook's business escalation"))
            out["who"] = people[entry.who.lower()]
        template = {StatusUpdate: comms.update, DeclarationPosted: comms.declaration, StatusPage: comms.status_page,
                    ExternalNotice: comms.resolution_notice if getattr(entry, "kind", "") == "resolution"
                    else comms.initial_notice}.get(type(entry))
        if template is not None and out.get("message"):
            keys = set(template.field_keys())
            said = read_template(template.name, out["message"])
            fields = {f.key: f.example for f in said.fields if f.key in keys and f.example}
            if fields:
                out["fields"] = fields
            if isinstance(entry, StatusUpdate) and str(fields.get("number", "")).isdigit():
                out["number"] = int(fields["number"])
        return out

    def log(self, kind: str, actor: str | None, data: dict[str, Any] | None = None) -> Event:
        """Validate a responder step, then append it."""
        event_type, checked = self.validate(kind, data or {})
        return self._append(event_type, actor, checked)

    def action(self, kind: str, detail: dict[str, Any], actor: str | None) -> Event:
        """A remediation a responder took (rollback, restart, scale, ...), as the scorer reads it."""
        if not kind:
            raise InputError(None, "kind", "an action needs a kind (rollback, restart, scale, ...)")
        return self._append(EventType.action, actor, {"kind": kind, "target": self.target, **detail})

    def _append(self, event_type: EventType, actor: str | None, data: dict[str, Any]) -> Event:
        writer = JournalWriter(self.journal, self.incident)  # keeps the journal's clock origin
        try:
            return writer.emit(event_type, actor or default_actor(), data)
        finally:
            writer.close()


def log_event(kind: str, actor: str | None, data: dict[str, Any] | None = None, *, drill_id: str | None = None,
              target_key: str | None = None) -> Event:
    """``gameday drill log``: a responder step into the running drill."""
    return ResponderLog.running(drill_id, target_key).log(kind, actor, data)


def record_action(kind: str, detail: dict[str, Any], actor: str | None, target_key: str) -> bool:
    """Journal a remediation into the drill running on ``target_key``; False when none is running there."""
    active = running_on(target_key)
    if active is None:
        return False
    ResponderLog.of(active).action(kind, detail, actor)
    return True
