"""The seed runbook's incident 2026-01-24-001 timeline, scored as a past real incident."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gameday.errors import InputError
from gameday.journal import EventType
from gameday.scoring import Status, score_timeline
from gameday.scoring.timeline import timeline_events


def test_seed_incident_metrics_match_its_table(fixtures: Path, seed_runbook: Path) -> None:
    result = score_timeline(fixtures / "incident-2026-01-24-001.md", runbook=seed_runbook)
    (incident,) = result.incidents
    assert incident.incident == "2026-01-24-001"
    assert incident.source == "timeline"
    metrics = {m.id: m.minutes for m in incident.metrics}
    assert metrics["mttd"] == 0.0  # the table starts at the alert (14:30)
    assert metrics["time_to_declare"] == 2.0  # declared 14:32
    assert metrics["time_to_mitigate"] == 20.0  # pods healthy 14:50
    assert metrics["time_to_restore"] == 30.0  # service restored 15:00
    assert metrics["mttr"] == 60.0  # "15:30 KST - INCIDENT RESOLVED, Duration: 1 hour" (closed after the watch)
    assert metrics["mtta"] is None  # no acknowledgement row
    spans = {m.id: m.span for m in incident.metrics}
    assert spans["time_to_restore"] == "started → restored" and spans["mttr"] == "started → resolved"
    checks = {c.id: c for c in incident.checks}
    assert checks["declared_in_time"].status is Status.passed
    assert checks["stability_watch"].status is Status.passed  # 15:00 -> 15:30
    assert checks["stability_watch"].observed == "watched 30.0 min"
    assert checks["hypothesis_before_fix"].status is Status.passed
    # a summary table is not evidence of absence: unrecorded things are n/a, not failures
    assert checks["status_updates"].status is Status.not_applicable
    assert checks["verification_true"].status is Status.not_applicable
    assert incident.score == 100.0 and incident.possible < 100


def test_timeline_times_are_in_the_tables_zone(fixtures: Path) -> None:
    events = timeline_events(fixtures / "incident-2026-01-24-001.md")
    assert events[0].type is EventType.journal_started
    alert = next(e for e in events if e.type is EventType.alert_firing)
    assert alert.ts == datetime(2026, 1, 24, 5, 30, tzinfo=UTC)  # 14:30 KST
    assert alert.data["alertname"] == "HighErrorRate"
    closed = next(e for e in events if e.type is EventType.closed)
    assert closed.t == 3600.0
    declared = next(e for e in events if e.type is EventType.severity_declared)
    assert declared.data["severity"] == "SEV-1"


def test_timeline_crossing_midnight_and_unknown_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    path.write_text(
        "| Time (UTC) | Event |\n|---|---|\n| 23:50 | Alert: DiskFull firing |\n"
        "| 23:58 | Coffee |\n| 00:20 | Service restored |\n",
        encoding="utf-8",
    )
    events = timeline_events(path, date="2026-02-01")
    restored = next(e for e in events if e.type is EventType.verified)  # "restored" = service healthy again
    assert restored.t == 30 * 60
    assert not any(e.type is EventType.resolved for e in events)  # resolved only after the watch
    assert any(e.type is EventType.note and e.data["text"] == "Coffee" for e in events)


def test_timeline_errors_name_the_problem(tmp_path: Path) -> None:
    no_table = tmp_path / "none.md"
    no_table.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(InputError, match="no table"):
        timeline_events(no_table)
    no_date = tmp_path / "nodate.md"
    no_date.write_text("| Time | Event |\n|---|---|\n| 10:00 | alert firing |\n", encoding="utf-8")
    with pytest.raises(InputError, match="--date"):
        timeline_events(no_date)
    bad_time = tmp_path / "bad.md"
    bad_time.write_text("| Time | Event |\n|---|---|\n| noon | alert firing |\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 1"):
        timeline_events(bad_time, date="2026-01-01")
