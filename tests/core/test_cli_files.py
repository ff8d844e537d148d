"""Scenario files and the CLI: bad input is one line naming file and field, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameday.errors import GamedayError
from gameday.files import load_any

GOOD_SCENARIO = {
    "kind": "scenario",
    "name": "pool-leak",
    "title": "Connection pool leak",
    "fault": {"type": "connection-pool-leak"},
    "expected_severity": "SEV-1",
}


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday.cli", *args], capture_output=True, text=True, timeout=120)


def write(tmp_path: Path, data: object, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_good_scenario_validates(tmp_path: Path) -> None:
    result = gameday("validate", str(write(tmp_path, GOOD_SCENARIO)))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fault": {"type": "meteor-strike"}}, "fault.type"),
        ({"expected_severity": "SEV-9000"}, "expected_severity"),
        ({"surprise": 1}, "surprise"),
        ({"blind_delay_seconds": [5, 1]}, "blind_delay_seconds"),
        ({"load": {"shape": "spike"}}, "load"),
    ],
)
def test_bad_scenario_is_one_line_exit_2(tmp_path: Path, change: dict, field: str) -> None:
    path = write(tmp_path, {**GOOD_SCENARIO, **change})
    result = gameday("validate", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and field in lines[0]
    assert "Traceback" not in result.stderr


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "kind: scenario\nname: [unclosed\n")
    result = gameday("validate", str(path))
    assert result.returncode == 2
    assert "line 3" in result.stderr or "line 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_runbook_is_one_line(tmp_path: Path) -> None:
    result = gameday("runbook", "show", str(tmp_path / "nope.md"))
    assert result.returncode == 2
    assert "nope.md" in result.stderr and "Traceback" not in result.stderr


def test_runbook_show_json(seed_runbook_path: Path) -> None:
    result = gameday("runbook", "show", str(seed_runbook_path), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["severities"][0]["response_minutes"] == 15
    assert len(data["workflow"]["nodes"]) == 17


def test_schema_is_json_schema() -> None:
    result = gameday("schema", "scenario")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert "fault" in schema["properties"]


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    overrides=st.dictionaries(
        st.sampled_from([*GOOD_SCENARIO, "load", "steady_state", "abort_when", "time_scale", "junk"]),
        _yaml_values,
        max_size=4,
    )
)
def test_random_scenarios_give_a_model_or_a_clean_error(tmp_path: Path, overrides: dict) -> None:
    path = write(tmp_path, {**GOOD_SCENARIO, **overrides})
    try:
        load_any(path)
    except GamedayError as exc:
        assert str(exc).startswith(str(path))
        assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_random_text_files_give_a_clean_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(text.encode("utf-8", "replace"))
    try:
        load_any(path)
    except GamedayError as exc:
        assert str(exc).startswith(str(path))
