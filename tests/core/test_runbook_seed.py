"""The seed runbook (damaged by mojibake) parses into the numbers the team wrote."""

from __future__ import annotations

import pytest

from gameday.runbook import DEFAULT_RUNBOOK, load_runbook, parse_runbook
from gameday.runbook.model import Runbook


@pytest.fixture(scope="module", params=["seed", "shipped"])
def runbook(request: pytest.FixtureRequest, seed_runbook_path) -> Runbook:
    return load_runbook(seed_runbook_path if request.param == "seed" else DEFAULT_RUNBOOK)


def test_mojibake_is_repaired_before_parsing(seed_runbook_path) -> None:
    raw = seed_runbook_path.read_text(encoding="utf-8")
    assert "â†’" in raw, "the seed is expected to carry mojibake"
    runbook = parse_runbook(raw, "seed")
    ladder = runbook.escalation.technical
    assert [lv.after_minutes for lv in ladder] == [0, 30, 60, 120]
    assert "→" in runbook.templates["Post-Incident Review"]


def test_severities(runbook: Runbook) -> None:
    by_name = {s.name: s for s in runbook.severities}
    assert list(by_name) == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    assert [s.response_minutes for s in runbook.severities] == [15, 60, 240, None]
    assert by_name["SEV-4"].response_text == "Next business day"
    assert [s.update_interval_minutes for s in runbook.severities] == [15, 30, 60, None]
    assert by_name["SEV-1"].update_channels == ["Slack", "Status Page", "Email"]
    assert by_name["SEV-1"].label == "Critical"
    assert "Database down" in by_name["SEV-1"].examples


def test_roles(runbook: Runbook) -> None:
    assert [r.abbreviation for r in runbook.roles] == ["IC", "TL", "CL", "SME"]
    assert runbook.role("IC").name == "Incident Commander"
    assert len(runbook.role("IC").duties) == 5
    assert len(runbook.role("TL").duties) == 4


def test_workflow_graph(runbook: Runbook) -> None:
    wf = runbook.workflow
    assert len(wf.nodes) == 17
    assert len(wf.edges) == 19
    assert wf.start().label == "Incident Detected"
    assess = wf.find("assess severity")
    assert assess.kind == "decision"
    labels = {(e.target, e.label) for e in wf.out_edges(assess.id)}
    assert labels == {(wf.find("declare incident").id, "SEV-1/2"), (wf.find("create ticket").id, "SEV-3/4")}
    stable = wf.find("stable for")
    assert {e.label for e in wf.out_edges(stable.id)} == {"Yes", "No"}
    assert runbook.declared_severities() == ["SEV-1", "SEV-2"]


def test_phases_and_checklists(runbook: Runbook) -> None:
    windows = {p.number: (p.start_minutes, p.end_minutes) for p in runbook.phases}
    assert windows[1] == (0, 15)
    assert windows[2] == (15, 120)
    assert windows[3] == (None, None)
    assert [s.number for s in runbook.phases[0].steps] == ["1.1", "1.2", "1.3"]
    assert "Error rate < 1%" in runbook.verification.checklist
    assert runbook.verification.error_rate_below == pytest.approx(0.01)
    assert runbook.verification.p95_below_seconds == 1.0
    assert "System stable for 30+ minutes" in runbook.closure_checklist


def test_targets_escalation_and_clocks(runbook: Runbook) -> None:
    t = runbook.targets
    assert (t.mttd_minutes, t.mtta_minutes) == (5, 15)
    assert t.mttr_minutes == {"SEV-1": 60}
    assert t.repeat_incidents == 0
    roles = [(lv.level, lv.role, lv.after_minutes) for lv in runbook.escalation.technical]
    assert roles == [
        (1, "On-call Engineer", 0),
        (2, "Engineering Team Lead", 30),
        (3, "Engineering Manager", 60),
        (4, "VP Engineering / CTO", 120),
    ]
    assert runbook.escalation.technical[3].or_severities == ["SEV-1"]
    assert runbook.escalation.level_after(45).level == 2
    business = {b.who: b.after_minutes for b in runbook.escalation.business}
    assert business == {"Product Manager": 0, "Customer Support Lead": 0, "VP Product": 30, "CEO": 120}
    assert runbook.escalation.business_severities == ["SEV-1"]
    assert runbook.stability_minutes == 30
    assert runbook.postmortem_within_hours == 48
    assert runbook.external_notification_minutes == 15


def test_declaration_steps_by_severity(runbook: Runbook) -> None:
    sev1 = [s.title for s in runbook.declaration_for("SEV-1")]
    sev2 = [s.title for s in runbook.declaration_for("SEV-2")]
    assert "Page on-call team" in sev1
    assert "Page on-call team" not in sev2
    assert "Create war room channel" in sev2


def test_json_keys_named_in_the_issue(runbook: Runbook) -> None:
    data = runbook.model_dump(mode="json")
    assert {"name", "response_minutes", "update_interval_minutes"} <= set(data["severities"][0])
    assert {"source", "target", "label"} == set(data["workflow"]["edges"][0])
    assert {"level", "role", "after_minutes"} <= set(data["escalation"]["technical"][0])
    assert {"mttd_minutes", "mtta_minutes", "mttr_minutes"} <= set(data["targets"])
    assert data["stability_minutes"] == 30 and data["postmortem_within_hours"] == 48


def test_changing_the_runbook_changes_the_model(seed_runbook_path) -> None:
    text = seed_runbook_path.read_text(encoding="utf-8")
    text = text.replace("Monitor for 30 minutes minimum", "Monitor for 45 minutes minimum")
    text = text.replace("(if unresolved after 30 min)", "(if unresolved after 15 min)")
    runbook = parse_runbook(text, "edited")
    assert runbook.stability_minutes == 45
    assert runbook.escalation.technical[1].after_minutes == 15
