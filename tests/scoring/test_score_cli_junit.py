"""``gameday score`` end to end through Typer, and the JUnit XML a CI system reads."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gameday.scoring.cli import register


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_junit_has_one_testcase_per_check_and_the_failures(app: typer.Typer, fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    result = CliRunner().invoke(app, ["score", str(fixtures / "verified-early.jsonl"), "--junit", str(out)])
    assert result.exit_code == 0, result.output
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    cases = root.findall(".//testcase")
    from gameday.scoring.catalogue import CHECKS

    assert len(cases) == len(CHECKS) == 20
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["verification_true"]
    failure = next(c for c in cases if c.get("name") == "verification_true").find("failure")
    assert "error rate 20.1%" in failure.text
    assert root.get("failures") == "1"


def test_junit_marks_not_applicable_as_skipped(app: typer.Typer, fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    result = CliRunner().invoke(app, ["score", str(fixtures / "sim-two.jsonl"), "--junit", str(out)])
    assert result.exit_code == 0, result.output
    suites = ET.parse(out).getroot().findall("testsuite")
    assert len(suites) == 2
    skipped = [c.get("name") for c in suites[0].findall("testcase") if c.find("skipped") is not None]
    assert "postmortem" in skipped and "verification_true" in skipped


def test_text_output_says_what_was_excluded(app: typer.Typer, fixtures: Path) -> None:
    result = CliRunner().invoke(app, ["score", str(fixtures / "sim-two.jsonl")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "not applicable and excluded from the score" in result.output
    assert "Aggregate score" in result.output


def test_json_output_and_min_score(app: typer.Typer, fixtures: Path) -> None:
    result = CliRunner().invoke(app, ["score", str(fixtures / "early-close.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["score"] == 96.0
    assert body["incidents"][0]["checks"][0]["expected"]
    low = CliRunner().invoke(app, ["score", str(fixtures / "early-close.jsonl"), "--min-score", "99"])
    assert low.exit_code == 1


def test_timeline_option(app: typer.Typer, fixtures: Path, seed_runbook: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["score", "--timeline", str(fixtures / "incident-2026-01-24-001.md"), "--runbook", str(seed_runbook),
         "--json"],
    )
    assert result.exit_code == 0, result.output
    metrics = {m["id"]: m["minutes"] for m in json.loads(result.output)["incidents"][0]["metrics"]}
    assert (metrics["mttd"], metrics["time_to_declare"], metrics["time_to_restore"], metrics["mttr"]) == (
        0.0, 2.0, 30.0, 60.0)


def test_bad_input_is_one_line_error(app: typer.Typer, fixtures: Path, tmp_path: Path) -> None:
    from gameday.errors import GamedayError

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"nope": 1}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["score", str(bad)])
    assert isinstance(result.exception, GamedayError)
    assert "line 1" in str(result.exception)
    both = CliRunner().invoke(app, ["score", str(bad), "--timeline", str(bad)])
    assert isinstance(both.exception, GamedayError)


def test_quiet_prints_only_the_score_line(app: typer.Typer, fixtures: Path) -> None:
    result = CliRunner().invoke(app, ["score", str(fixtures / "early-close.jsonl"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [f"{fixtures / 'early-close.jsonl'}: score 96/100 over 1 incident(s)"]
