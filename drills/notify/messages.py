"""What a communication event says on a channel, and which channels it names.

The journal's communication events (:data:`gameday.journal.EVENT_DATA`) carry the message as the team wrote
it, or only the runbook template's fields; either way every sink gets one :class:`Message` (a subject for
email and the status page's heading, a text body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gameday.journal import Event, EventType

E = EventType
#: The events a sink delivers; everything else stays in the journal only.
COMMUNICATION = frozenset({E.status_update, E.declaration_posted, E.external_notice, E.status_page, E.notified})
_SUBJECT = re.compile(r"^\s*Subject:\s*(?P<subject>.+?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Message:
    """One event as a channel shows it."""

    seq: int
    kind: str  # the event type
    subject: str
    text: str
    status: str | None = None  # the status page's status (Investigating, ..., Resolved)
    at: str = ""  # the event's timestamp, ISO UTC


def channels_of(event: Event) -> list[str]:
    """The runbook channels the event names (``channels``, and a declaration's or notification's ``channel``)."""
    data = event.data
    named = [str(c) for c in data.get("channels") or []]
    if data.get("channel"):
        named.append(str(data["channel"]))
    return list(dict.fromkeys(named))


def field_lines(fields: dict[str, object]) -> str:
    """A template's fields as ``Label: value`` lines (``war_room`` -> ``War Room``)."""
    return "\n".join(f"{key.replace('_', ' ').title()}: {value}" for key, value in fields.items())


def message_for(event: Event, severity: str | None, incident: str) -> Message:
    """The subject and body a sink sends for ``event`` (severity: the last one declared, for the subject)."""
    data = event.data
    fields = dict(data.get("fields") or {})
    body = str(data.get("message") or "").strip() or field_lines(fields)
    sev = f"[{severity}] " if severity else ""
    status = None
    if event.type is E.status_update:
        number = data.get("number")
        subject = f"{sev}Status update{f' #{number}' if number else ''}: incident {incident}"
    elif event.type is E.declaration_posted:
        subject = f"{sev}Incident declared: {incident}"
    elif event.type is E.external_notice:
        if not data.get("message"):  # the subject is the mail's, not a line of its body
            body = field_lines({k: v for k, v in fields.items() if k != "subject"})
        lines = body.splitlines()
        match = _SUBJECT.match(lines[0]) if lines else None
        if match:  # the runbook's notices start with their own "Subject:" line
            body = "\n".join(lines[1:]).strip()
        given = data.get("subject") or fields.get("subject") or (match.group("subject") if match else None)
        subject = str(given or f"{'Service restored' if data.get('kind') == 'resolution' else 'Service issue'}"
                                f": incident {incident}")
    elif event.type is E.status_page:
        status = str(data.get("status") or "")
        subject = str(fields.get("title") or f"Incident {incident}")
        body = str(data.get("message") or fields.get("message") or body).strip()
    else:  # notified: the business escalation
        subject = f"{sev}For {data.get('who', 'you')}: incident {incident}"
        body = body or f"Incident {incident} is in progress; you are told as the runbook's escalation asks."
    return Message(seq=event.seq, kind=event.type.value, subject=subject, text=body, status=status,
                   at=event.ts.isoformat())
