"""The Communicate panel's forms, from the runbook model: one per message the runbook has a template for
(declaration, status update, status page, initial and resolution notices) and the business escalation list.

Which channels a form ticks: the channels a template's name names ("Slack Incident Declaration" -> Slack), the
status page's channel for status-page entries, otherwise the declared severity's update channels (the page
ticks those when the severity is known).  Nothing here is a word of gameday's: a runbook with other templates,
channels or statuses gets other forms.
"""

from __future__ import annotations

from typing import Any

from gameday.runbook.communication import field_key
from gameday.runbook.model import Runbook

#: form id -> (label, draft name in drills.warroom.drafts, request type, notice kind, Communication attribute)
FORMS: tuple[tuple[str, str, str, str, str | None, str], ...] = (
    ("declaration", "Declaration", "declaration", "declaration", None, "declaration"),
    ("update", "Status update", "status-update", "update", None, "update"),
    ("status_page", "Status page", "status-page", "status_page", None, "status_page"),
    ("initial", "Initial notice to users", "initial-notice", "notice", "initial", "initial_notice"),
    ("resolution", "Resolution notice to users", "resolution-notice", "notice", "resolution", "resolution_notice"),
)


def channels_named(text: str, channels: list[str]) -> list[str]:
    """The runbook channels a template's name mentions, in the runbook's order."""
    key = field_key(text)
    return [c for c in channels if field_key(c) and field_key(c) in key]


def communicate_config(runbook: Runbook) -> dict[str, Any]:
    """The page's Communicate forms (text only; the page fills its widgets with textContent)."""
    channels = list(dict.fromkeys(c for s in runbook.severities for c in s.update_channels))
    page_channels = [c for c in channels if "status_page" in field_key(c)]
    forms = []
    for form, label, draft, act, notice, attribute in FORMS:
        template = getattr(runbook.communication, attribute, None)
        if template is None:
            continue
        fixed = page_channels if attribute == "status_page" else channels_named(template.name, channels)
        named = label if field_key(label) == field_key(template.name) else f"{label} ({template.name})"
        forms.append({"id": form, "label": named, "draft": draft, "act": act,
                      "notice": notice, "channels": fixed or None})
    business = [{"who": b.who, "rule": b.condition_text} for b in runbook.escalation.business]
    if business:
        forms.append({"id": "notify", "label": "Business notification", "draft": None, "act": "notify",
                      "notice": None, "channels": []})
    return {"channels": channels, "forms": forms, "statuses": list(runbook.communication.status_page_statuses),
            "business": business}
