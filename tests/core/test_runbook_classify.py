"""The runbook's words are classified once (gameday.runbook.classify); every consumer reads the result."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gameday.errors import GamedayError, RunbookLookupError
from gameday.journal import EventType
from gameday.runbook import DEFAULT_RUNBOOK, load_runbook, parse_runbook
from gameday.runbook.classify import (
    DECLARATION_EVENTS,
    DeclarationKind,
    NodeRole,
    declaration_kind,
    declaration_roles,
    node_role,
)
from gameday.runbook.communication import message_templates
from gameday.runbook.model import Runbook

K = DeclarationKind


@pytest.fixture(scope="module", params=["seed", "shipped"])
def runbook(request: pytest.FixtureRequest, seed_runbook_path) -> Runbook:
    return load_runbook(seed_runbook_path if request.param == "seed" else DEFAULT_RUNBOOK)


def test_declaration_steps_are_classified(runbook: Runbook) -> None:
    steps = {s.title: (s.kind, s.severities, s.user_facing_only) for s in runbook.declaration}
    assert steps == {
        "Create incident in Slack": (K.announce, ["SEV-1", "SEV-2"], False),
        "Create war room channel": (K.war_room, ["SEV-1", "SEV-2"], False),
        "Page on-call team": (K.page, ["SEV-1"], False),
        "Update status page": (K.status_page, ["SEV-1", "SEV-2"], True),
    }


def test_declaration_for_respects_severity_and_audience(runbook: Runbook) -> None:
    def kinds(severity: str, user_facing: bool) -> list[DeclarationKind]:
        return [s.kind for s in runbook.declaration_for(severity, user_facing=user_facing)]

    assert kinds("SEV-1", True) == [K.announce, K.war_room, K.page, K.status_page]
    assert kinds("SEV-1", False) == [K.announce, K.war_room, K.page]
    assert kinds("SEV-2", True) == [K.announce, K.war_room, K.status_page]
    assert kinds("SEV-3", True) == []


def test_declaration_roles_come_from_the_template(runbook: Runbook) -> None:
    assert runbook.declaration_roles == ["IC", "TL"]
    # a template that names the communications lead too makes it required
    templates = dict(runbook.templates)
    templates["Slack Incident Declaration"] += "\n**CL**: @[username]"
    assert declaration_roles(["IC", "TL", "CL", "SME"], templates) == ["IC", "TL", "CL"]
    # no template at all: the first two roles, never nobody
    assert declaration_roles(["IC", "TL", "CL"], {}) == ["IC", "TL"]
    # a field of the template, read as the scorer reads it, not a word in its prose
    prose = {"Incident Declaration": "**Severity**: SEV-1\n**IC**: @[username]\nThe TL joins the war room."}
    assert declaration_roles(["IC", "TL", "CL"], prose) == ["IC"]
    assert message_templates(prose)["declaration"].field_keys() == ["severity", "ic"]


def test_workflow_node_roles(runbook: Runbook) -> None:
    roles = {n.label: n.role for n in runbook.workflow.nodes}
    assert roles == {
        "Incident Detected": NodeRole.detect,
        "Assess Severity": NodeRole.severity,
        "Declare Incident": NodeRole.declare,
        "Create Ticket": NodeRole.ticket,
        "Assemble Response Team": NodeRole.assemble,
        "Create War Room": NodeRole.war_room,
        "Investigate & Diagnose": NodeRole.investigate,
        "Root Cause Found?": NodeRole.root_cause,
        "Escalate/Get SME": NodeRole.escalate,
        "Implement Fix": NodeRole.fix,
        "Issue Resolved?": NodeRole.fix_worked,
        "Verify Resolution": NodeRole.verify,
        "Monitor Stability": NodeRole.monitor,
        "Stable for 30 min?": NodeRole.stable,
        "Close Incident": NodeRole.close,
        "Post-Incident Review": NodeRole.review,
        "Assign to Team Member": NodeRole.assign,
    }
    assert [n.label for n in runbook.workflow.with_role(NodeRole.verify)] == ["Verify Resolution"]


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("Open a bridge call", K.war_room),
        ("Create war room channel", K.war_room),  # "channel", but a war room
        ("Page the on-call engineer", K.page),
        ("Notify on-call SRE", K.page),
        ("Update the status page", K.status_page),
        ("Post in #incidents", K.announce),
        ("Announce the incident", K.announce),
        ("Order pizza", K.other),
    ],
)
def test_declaration_kind_words(title: str, kind: DeclarationKind) -> None:
    assert declaration_kind(title) is kind


def test_every_kind_has_a_journal_event() -> None:
    assert set(DECLARATION_EVENTS) == set(DeclarationKind)
    assert DECLARATION_EVENTS[K.war_room] is EventType.war_room_created
    assert DECLARATION_EVENTS[K.page] is EventType.paged
    assert DECLARATION_EVENTS[K.status_page] is EventType.status_page
    assert DECLARATION_EVENTS[K.announce] is EventType.declaration_posted


def test_unlabelled_decision_and_step() -> None:
    assert node_role("Ask the oracle?", "decision") is NodeRole.decision
    assert node_role("Brew coffee", "step") is NodeRole.other


def test_a_renamed_runbook_changes_the_classification(seed_runbook_path) -> None:
    text = seed_runbook_path.read_text(encoding="utf-8").replace("Create war room channel", "Open a bridge call")
    runbook = parse_runbook(text, "edited.md")
    assert [s.title for s in runbook.declaration_steps(K.war_room)] == ["Open a bridge call"]


def test_json_shows_the_classification(runbook: Runbook) -> None:
    data = runbook.model_dump(mode="json")
    assert data["declaration"][2]["kind"] == "page"
    assert data["declaration"][3]["user_facing_only"] is True
    assert data["workflow"]["nodes"][0]["role"] == "detect"
    assert data["declaration_roles"] == ["IC", "TL"]


# -- look-ups of names the runbook does not have ----------------------------------------------------------


@pytest.mark.parametrize(
    ("lookup", "named"),
    [
        (lambda rb: rb.severity("SEV-7"), "severity 'SEV-7' (the runbook has SEV-1, SEV-2, SEV-3, SEV-4)"),
        (lambda rb: rb.severity("critical"), "severity 'critical'"),
        (lambda rb: rb.severity(9), "severity 9"),
        (lambda rb: rb.role("DBA"), "role 'DBA' (the runbook has IC, TL, CL, SME)"),
        (lambda rb: rb.workflow.node("ZZ"), "workflow node 'ZZ'"),
        (lambda rb: rb.workflow.find("launch rockets"), "workflow node matching 'launch rockets'"),
    ],
)
def test_unknown_names_raise_the_projects_error(runbook: Runbook, lookup, named: str) -> None:
    with pytest.raises(RunbookLookupError) as info:
        lookup(runbook)
    assert isinstance(info.value, GamedayError) and info.value.exit_code == 2
    assert named in str(info.value)
    assert "\n" not in str(info.value) and not str(info.value).startswith("'")


def test_unknown_severity_on_the_cli_is_one_line(tmp_path) -> None:
    """A scenario expecting a severity the runbook lacks: one line naming it, exit 2, no traceback."""
    journal = tmp_path / "j.jsonl"
    journal.write_text(
        '{"ts":"2026-01-01T00:00:00.000Z","t":0,"seq":0,"incident":"d","type":"journal_started","actor":"gameday",'
        '"data":{"source":"drill","time_scale":1,"scenario":{"expected_severity":"SEV-7"}}}\n'
        '{"ts":"2026-01-01T00:01:00.000Z","t":60,"seq":1,"incident":"d","type":"fault_injected","actor":"gameday",'
        '"data":{}}\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "score", str(journal)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert "severity 'SEV-7'" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
