"""The autopilot's Phase 6: a post-incident review the scorer accepts, from a journal and the scenario."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drills.autopilot import REVIEW_TEMPLATE, file_review
from gameday.files import load_model
from gameday.journal import EventType, JournalWriter
from gameday.runbook import load_runbook
from gameday.scenario import Scenario
from gameday.scoring.engine import score_journal
from gameday.scoring.postmortem import read_review

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 1, 24, 5, 30, tzinfo=UTC)


def _journal(path: Path, scenario: Scenario, runbook_path: str) -> JournalWriter:
    """A drill's journal as the runner and autopilot write it, one wall second = one runbook minute."""
    seconds = iter(range(1000))
    writer = JournalWriter(path, "drill-1", durable=False, start=START,
                           clock=lambda: START + timedelta(seconds=next(seconds)))
    writer.emit(EventType.journal_started, "runner", {
        "source": "drill", "time_scale": 60.0, "runbook": runbook_path,
        "scenario": scenario.model_dump(mode="json")})
    writer.emit(EventType.fault_injected, "runner", {"fault": scenario.fault.type.value})
    writer.emit(EventType.alert_firing, "alertmanager", {"alertname": "HighErrorRate"})
    writer.emit(EventType.acknowledged, "autopilot", {"alerts": ["HighErrorRate"]})
    writer.emit(EventType.severity_declared, "autopilot", {"severity": scenario.expected_severity, "level": 1})
    writer.emit(EventType.hypothesis, "autopilot", {"text": "pool leak; plan: rollback"})
    writer.emit(EventType.action, "autopilot", {"kind": "rollback", "action": "rollback", "target": "backend"})
    writer.emit(EventType.resolved, "autopilot", {"severity": scenario.expected_severity})
    writer.emit(EventType.closed, "autopilot", {"severity": scenario.expected_severity})
    return writer


@pytest.mark.parametrize("name", ["connection-pool-leak", "crashloop", "pgbouncer-down", "slow-queries",
                                  "error-burst"])
def test_review_follows_the_template_and_passes_the_check(tmp_path: Path, name: str) -> None:
    runbook = load_runbook()
    scenario = load_model(ROOT / "scenarios" / f"{name}.yaml", Scenario)
    assert scenario.review is not None
    writer = _journal(tmp_path / "journal.jsonl", scenario, runbook.source)

    path = file_review(writer.path, runbook, scenario)
    assert path is not None and path.parent == tmp_path
    text = path.read_text(encoding="utf-8")
    findings = read_review(path, runbook.templates[REVIEW_TEMPLATE])
    assert findings.problems == [], findings.problems
    assert findings.whys >= 5 and findings.timeline_entries >= 5
    assert findings.actions == len(scenario.review.action_items)
    first = scenario.review.action_items[0]
    due = f"2026-01-{24 + first.due_in_days:02d}"  # drill date + due_in_days, ISO
    assert f"| {first.action.replace('|', '/')} | {first.owner} | {due} |" in text
    assert scenario.review.whys[0] in text

    # the scorer's postmortem check: fails before the review is journaled, passes after
    def postmortem_status() -> str:
        checks = score_journal(writer.path, runbook).incidents[0].checks
        return next(c for c in checks if c.id == "postmortem").status.value

    assert postmortem_status() == "fail"
    writer.emit(EventType.postmortem_filed, "autopilot", {"path": path.name})
    writer.close()
    assert postmortem_status() == "pass"


def test_no_review_notes_means_no_review(tmp_path: Path) -> None:
    runbook = load_runbook()
    scenario = load_model(ROOT / "scenarios" / "crashloop.yaml", Scenario).model_copy(update={"review": None})
    writer = _journal(tmp_path / "journal.jsonl", scenario, runbook.source)
    writer.close()
    assert file_review(writer.path, runbook, scenario) is None
    assert not list(tmp_path.glob("*.md"))
