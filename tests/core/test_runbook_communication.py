"""Phase 4, the templates and the duties are read from the runbook: the shipped one and the team's own copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.runbook import DEFAULT_RUNBOOK, load_runbook, parse_runbook
from gameday.runbook.communication import DutyKind, duty_kind, read_template

TEAM_RUNBOOK = Path(__file__).resolve().parents[3] / "shared" / "runbooks" / "incident-response.md"
#: The team's runbook beside the checkout when there is one; the shipped one (same tables) otherwise.
RUNBOOKS = [DEFAULT_RUNBOOK, TEAM_RUNBOOK if TEAM_RUNBOOK.is_file() else DEFAULT_RUNBOOK]


@pytest.mark.parametrize("path", RUNBOOKS, ids=["shipped", "team"])
def test_communication_is_read_from_the_runbook(path: Path) -> None:
    runbook = load_runbook(path)
    comms = runbook.communication
    assert runbook.severity("SEV-1").update_channels == ["Slack", "Status Page", "Email"]
    assert runbook.severity("SEV-2").update_interval_minutes == 30
    assert runbook.external_notification_minutes == 15
    assert comms.declaration is not None and comms.declaration.field_keys() == [
        "severity", "summary", "impact", "detected", "ic", "tl", "war_room"]
    assert comms.update is not None and comms.update.field_keys() == [
        "time", "number", "status", "summary", "next_update", "impact"]
    assert comms.status_page is not None and comms.status_page.field_keys() == ["title", "status", "message", "updated"]
    assert comms.status_page_statuses == ["Investigating", "Identified", "Monitoring", "Resolved"]
    assert comms.initial_notice is not None
    assert comms.initial_notice.field_keys() == ["subject", "current_status", "estimated_resolution"]
    assert comms.resolution_notice is not None
    assert comms.resolution_notice.field_keys() == ["subject", "restored", "root_cause", "resolution"]
    assert comms.external_severities == ["SEV-1", "SEV-2"] and comms.external_user_facing_only
    business = [(n.who, n.after_minutes, n.outage_over) for n in runbook.escalation.business]
    assert business == [("Product Manager", 0, False), ("Customer Support Lead", 0, False),
                        ("VP Product", 30, False), ("CEO", 120, True)]
    assert runbook.escalation.business_severities == ["SEV-1"]
    owners = {kind: comms.duty_owner(kind).role for kind in (  # type: ignore[union-attr]
        DutyKind.declare, DutyKind.review, DutyKind.fix, DutyKind.verify, DutyKind.updates,
        DutyKind.notify_users, DutyKind.incident_page, DutyKind.stakeholders, DutyKind.expertise)}
    assert owners == {DutyKind.declare: "IC", DutyKind.review: "IC", DutyKind.fix: "TL", DutyKind.verify: "TL",
                      DutyKind.updates: "CL", DutyKind.notify_users: "CL", DutyKind.incident_page: "CL",
                      DutyKind.stakeholders: "IC", DutyKind.expertise: "SME"}


def test_a_runbook_that_changes_its_templates_changes_the_model() -> None:
    """Nothing is hard-coded: a new update field, other statuses, another channel list and owner follow the file."""
    text = DEFAULT_RUNBOOK.read_text(encoding="utf-8")
    text = text.replace("**Impact**: Users still see errors", "**Workaround**: use the paper forms\n**Impact**: Users")
    text = text.replace("[Investigating / Identified / Monitoring / Resolved]", "[Open / Fixing / Closed]")
    text = text.replace("| Slack, Status Page, Email |", "| Slack, Email              |")
    text = text.replace("  - Carry out the fix\n", "")
    review = "  - Lead the post-incident review\n"
    text = text.replace(review, review + "  - Implement fixes\n")
    runbook = parse_runbook(text, "edited.md")
    assert "workaround" in runbook.communication.update.field_keys()  # type: ignore[union-attr]
    assert runbook.communication.status_page_statuses == ["Open", "Fixing", "Closed"]
    assert runbook.severity("SEV-1").update_channels == ["Slack", "Email"]
    assert runbook.communication.duty_owner(DutyKind.fix).role == "IC"  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "kind"), [
    ("Confirm that the fix worked", DutyKind.verify), ("Carry out the fix", DutyKind.fix),
    ("Decide and announce the severity", DutyKind.declare), ("Coordinate with support team", DutyKind.support),
    ("Post status updates (internal/external)", DutyKind.updates), ("Notify affected users", DutyKind.notify_users),
    ("Update incident page", DutyKind.incident_page), ("Keep stakeholders informed", DutyKind.stakeholders),
    ("Brew the coffee", DutyKind.other),
])
def test_duty_words(text: str, kind: DutyKind) -> None:
    assert duty_kind(text) is kind


def test_template_fields_and_missing() -> None:
    template = read_template("Status Update", "**09:10 UTC - Update #1**\n**Status**: x\n**Next Update**: y\n")
    assert template.field_keys() == ["time", "number", "status", "next_update"]
    assert [f.key for f in template.missing({"Status": "Identified", "time": "09:10", "number": 1,
                                             "next_update": " "})] == ["next_update"]
