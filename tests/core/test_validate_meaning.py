"""``gameday validate`` checks meaning, not only shape: every name a file gives exists in the runbook or a
catalogue, every PromQL expression parses with Prometheus's own parser (promtool), every number is finite and
in range.  Each kind of mistake is one line naming the file and the field.

Most cases run in-process through :class:`gameday.validation.Validator` (what the command runs); one case of
each file kind goes through the real ``gameday validate``: exit 2, one line on stderr, no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from gameday_testkit import SHIPPED_RUNBOOK, require

from gameday.errors import GamedayError, InputError
from gameday.validation import Validator

REPO = Path(__file__).resolve().parents[2]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
SCENARIO = yaml.safe_load((REPO / "scenarios" / "connection-pool-leak.yaml").read_text(encoding="utf-8"))
PERFECT = REPO / "tests" / "scoring" / "fixtures" / "perfect.jsonl"
TIMELINE = REPO / "tests" / "scoring" / "fixtures" / "incident-2026-01-24-001.md"
HAVE_PROMTOOL = any(Path(p, "promtool").is_file() for p in os.environ.get("PATH", "").split(os.pathsep)) or Path(
    "/usr/bin/promtool").is_file()


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


def promtool_required() -> None:
    require(HAVE_PROMTOOL, "promtool not installed (make setup installs Debian's prometheus package)")


def write(folder: Path, doc: Any, name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def scenario(**changes: Any) -> dict[str, Any]:
    return {**SCENARIO, **changes}


def refused(validator: Validator, path: Path) -> str:
    with pytest.raises(InputError) as error:
        validator.validate(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    return message


# -- scenarios ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "field", "says"), [
    ({"expected_severity": "SEV-7"}, "expected_severity", "no severity 'SEV-7' (the runbook has SEV-1, SEV-2"),
    ({"expected_alerts": ["HighErorRate"]}, "expected_alerts.0", "did you mean HighErrorRate?"),
    ({"fault": {"type": "connection-pool-leak", "params": {"version": "v9.9.9"}}}, "fault.params.version",
     "no release 'v9.9.9' (the release catalogue has v1.2.2, v1.2.3"),
    ({"fault": {"type": "conection-pool-leak"}}, "fault.type", "connection-pool-leak"),
    ({"stages": [{"type": "meteor"}]}, "stages.0.type", "error-burst"),
    ({"safe_remediations": ["rolback"]}, "safe_remediations.0", "did you mean rollback?"),
    ({"time_scale": 1e9}, "time_scale", "less than or equal to 3600"),
    ({"timeout_minutes": -1}, "timeout_minutes", "greater than 0"),
    ({"load": {"users": 10, "wait_seconds": [1, 0.5]}}, "load.wait_seconds", "min <= max"),
    ({"blind_delay_seconds": [1, 1e12]}, "blind_delay_seconds", "<= 3600 seconds"),
    ({"steady_state": [{"name": "x", "promql": "up", "threshold": "high"}]}, "steady_state.0.threshold", "number"),
])  # fmt: skip
def test_a_scenario_naming_what_does_not_exist_is_one_line(tmp_path: Path, validator: Validator,
                                                          changes: dict[str, Any], field: str, says: str) -> None:
    message = refused(validator, write(tmp_path, scenario(**changes)))
    assert f": {field}: " in message and says in message, message


def test_a_scenario_is_checked_against_the_runbook_given(tmp_path: Path) -> None:
    lines = SHIPPED_RUNBOOK.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("| **SEV-4 Low**"))
    five = "\n".join([*lines[:row + 1], "| **SEV-5 Info** | Nothing at all | Never | Typo |", *lines[row + 1:]])
    path = write(tmp_path, scenario(expected_severity="SEV-5"))
    assert "SEV-5" in refused(Validator(), path)
    Validator(write(tmp_path, five, "five.md"), promql=False).validate(path)


def test_promql_that_does_not_parse_is_named_by_file_and_field(tmp_path: Path, validator: Validator) -> None:
    promtool_required()
    probes = [{"name": "fine", "promql": "sum(rate(http_requests_total[30s]))", "op": ">", "threshold": 1},
              {"name": "broken", "promql": "sum(rate(http_requests_total[30s])", "op": ">", "threshold": 1}]
    message = refused(validator, write(tmp_path, scenario(steady_state=[], abort_when=probes)))
    assert ": abort_when[1].promql: PromQL does not parse: " in message and "unclosed left parenthesis" in message
    message = refused(validator, write(tmp_path, scenario(steady_state=[{**probes[0], "promql": "rate(x[5m]) @"}])))
    assert ": steady_state[0].promql: PromQL does not parse: " in message
    assert "skipped" not in Validator(promql=False).validate(write(tmp_path, scenario(abort_when=probes)))


def test_promql_is_checked_once_per_expression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    promtool_required()
    from gameday import promql

    runs: list[int] = []
    real = promql._run_promtool
    monkeypatch.setattr(promql, "_run_promtool", lambda exprs: runs.append(len(exprs)) or real(exprs))
    fresh = f"sum(rate(http_requests_total[{len(promql._answers) + 7}m]))"  # nothing cached it yet
    probes = [{"name": f"p{i}", "promql": fresh, "threshold": 1} for i in range(3)]
    checker = Validator()
    for n in range(3):
        checker.validate(write(tmp_path, scenario(steady_state=probes), f"s{n}.yaml"))
    assert runs == [1]  # three files, three probes each, one expression: one promtool run


def test_without_promtool_validate_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gameday import promql

    monkeypatch.setenv(promql.PROMTOOL_ENV, str(tmp_path / "no-promtool"))
    monkeypatch.setattr(promql, "_answers", {})
    with pytest.raises(GamedayError, match=r"cannot check PromQL: GAMEDAY_PROMTOOL=.* is not a file \(apt-get "
                                           r"install prometheus"):
        Validator().validate(write(tmp_path, scenario()))


# -- runbooks ----------------------------------------------------------------------------------------------


def test_a_runbook_whose_promql_does_not_parse_is_named_by_line(tmp_path: Path, validator: Validator) -> None:
    promtool_required()
    text = SHIPPED_RUNBOOK.read_text(encoding="utf-8")
    broken = text.replace("# Request rate (compare with a normal day)\nsum(rate(http_requests_total[1m]))",
                          "# Request rate (compare with a normal day)\nsum(rate(http_requests_total[1m])", 1)
    assert broken != text
    line = broken.splitlines().index("sum(rate(http_requests_total[1m])") + 1
    message = refused(validator, write(tmp_path, broken, "runbook.md"))
    assert f": line {line} (Step 1.2: Assess Severity, promql block): PromQL does not parse" in message
    shell = text.replace('sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))\n#',
                         'sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m])) /\n#')
    assert shell != text
    assert "(Step 3.2: Verify Resolution): PromQL does not parse" in refused(validator, write(tmp_path, shell, "s.md"))


def test_a_runbook_naming_a_severity_its_table_lacks_is_refused(tmp_path: Path, validator: Validator) -> None:
    text = SHIPPED_RUNBOOK.read_text(encoding="utf-8")
    for old, new, field in [
        ("B -->|SEV-3/4| D[Create Ticket]", "B -->|SEV-3/7| D[Create Ticket]", "workflow: B -> D"),
        ("**For SEV-1/SEV-2 incidents, do at once**", "**For SEV-1/SEV-6 incidents, do at once**",
         "declaration: Create incident in Slack"),
    ]:
        assert old in text, old
        message = refused(validator, write(tmp_path, text.replace(old, new, 1), "runbook.md"))
        assert f": {field}: no severity 'SEV-" in message and "the severity table has SEV-1" in message, message


# -- journals and timelines ---------------------------------------------------------------------------------


def _journal_with(tmp_path: Path, event_type: str, **data: Any) -> Path:
    lines = PERFECT.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        event = yaml.safe_load(line)
        if event["type"] == event_type:
            event["data"].update(data)
            data = {}  # the first one only
        out.append(event)
    path = tmp_path / "journal.jsonl"
    import json

    path.write_text("".join(json.dumps(e) + "\n" for e in out), encoding="utf-8")
    return path


@pytest.mark.parametrize(("event_type", "data", "says"), [
    ("severity_declared", {"severity": "SEV-9", "level": 9}, "data.severity: no severity 'SEV-9'"),
    ("severity_declared", {"level": 0}, "data.level: no severity level '0' (the runbook has 1, 2, 3, 4)"),
    ("role_assigned", {"role": "Commander"}, "data.role: no role 'Commander' (the runbook has IC, TL, CL, SME)"),
    ("fault_injected", {"fault": "meteor"}, "data.fault: no fault 'meteor' (the catalogue has connection-pool-leak"),
    ("metric_sample", {"error_rate": "high"}, "a metric reading must be a number or null, not 'high'"),
])  # fmt: skip
def test_a_journal_naming_what_the_runbook_lacks_is_refused_by_validate_and_score(
        tmp_path: Path, validator: Validator, event_type: str, data: dict[str, Any], says: str) -> None:
    from gameday.scoring.engine import score_journal

    path = _journal_with(tmp_path, event_type, **data)
    assert says in refused(validator, path)
    with pytest.raises(GamedayError, match=str(path)) as error:
        score_journal(path)
    assert says in str(error.value)


def test_a_timeline_declaring_an_unknown_severity_is_refused(tmp_path: Path) -> None:
    from gameday.scoring.engine import score_timeline

    path = write(tmp_path, TIMELINE.read_text(encoding="utf-8").replace("declared SEV-1", "declared SEV-8"), "t.md")
    with pytest.raises(GamedayError) as error:
        score_timeline(path)
    assert str(error.value).startswith(f"{path}: seq ") and "data.severity: no severity 'SEV-8'" in str(error.value)


def test_every_shipped_file_validates(validator: Validator) -> None:
    files = [*sorted((REPO / "scenarios").glob("*.yaml")), *sorted((REPO / "scenarios" / "policies").glob("*.yaml")),
             REPO / "gameday" / "scoring" / "weights.yaml",
             SHIPPED_RUNBOOK, *sorted((REPO / "examples" / "journals").glob("*.jsonl")),
             *sorted((REPO / "tests" / "scoring" / "fixtures").glob("*.jsonl"))]
    checker = validator if HAVE_PROMTOOL else Validator(promql=False)
    for path in files:
        checker.validate(path)


# -- the command itself ------------------------------------------------------------------------------------


def test_validate_refuses_each_kind_in_one_line_exit_2(tmp_path: Path) -> None:
    """One bad file of each kind through the real command (run side by side: each is a new interpreter)."""
    policy = yaml.safe_load((REPO / "scenarios" / "policies" / "baseline.yaml").read_text(encoding="utf-8"))
    sweep = yaml.safe_load((REPO / "scenarios" / "sweeps" / "l2-vs-oncall.yaml").read_text(encoding="utf-8"))
    sweep["policy"] = str(REPO / "scenarios" / "policies" / "baseline.yaml")
    weights = yaml.safe_load((REPO / "gameday" / "scoring" / "weights.yaml").read_text(encoding="utf-8"))
    cases = {
        "scenario": (write(tmp_path, scenario(expected_severity="SEV-7"), "scenario.yaml"), "expected_severity"),
        "policy": (write(tmp_path, {**policy, "responders": {"roles": {"ICC": {}}}}, "policy.yaml"),
                   "responders.roles.ICC: no role 'ICC' (the runbook has IC, TL, CL, SME; did you mean IC?)"),
        "sweep": (write(tmp_path, {**sweep, "vary": {"responders.oncall": "1:inf"}, "search": 4}, "sweep.yaml"),
                  "vary.0.range.1: Input should be a finite number"),
        "scoring": (write(tmp_path, {**weights, "update_grace_fraction": float("nan")}, "weights.yaml"),
                    "update_grace_fraction: Input should be a finite number"),
        "journal": (_journal_with(tmp_path, "role_assigned", role="XX"), "data.role: no role 'XX'"),
    }
    if HAVE_PROMTOOL:
        cases["promql"] = (write(tmp_path, scenario(abort_when=[{"name": "x", "promql": "min(pgbouncer_up", "op": "<",
                                                                  "threshold": 1}]), "promql.yaml"),
                           "abort_when[0].promql: PromQL does not parse")
    good = [str(REPO / "scenarios" / "crashloop.yaml"), str(SHIPPED_RUNBOOK), str(PERFECT)]
    running = {kind: subprocess.Popen([GAMEDAY, "validate", str(path)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for kind, (path, _) in cases.items()}
    running["good"] = subprocess.Popen([GAMEDAY, "validate", *good], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
    for kind, process in running.items():
        out, err = process.communicate(timeout=120)
        if kind == "good":
            assert process.returncode == 0, err
            assert [line.split(": ok (")[0] for line in out.splitlines()] == good, out
            continue
        path, says = cases[kind]
        lines = err.strip().splitlines()
        assert process.returncode == 2, (kind, out, err)
        assert len(lines) == 1 and "Traceback" not in err, (kind, err)
        assert str(path) in lines[0] and says in lines[0], (kind, lines[0])
        assert out == "", (kind, out)  # nothing written


def test_a_key_given_twice_is_refused_not_overridden(tmp_path: Path, validator: Validator) -> None:
    text = yaml.safe_dump(scenario(expected_severity="SEV-1"), allow_unicode=True) + "expected_severity: SEV-2\n"
    message = refused(validator, write(tmp_path, text))
    assert "invalid YAML: key 'expected_severity' appears twice in one mapping" in message
    without = {k: v for k, v in scenario(steady_state=[]).items() if k != "abort_when"}
    merged = "base: &b {threshold: 1, op: '<'}\n" + yaml.safe_dump(without, allow_unicode=True) + (
        "abort_when:\n- <<: *b\n  name: x\n  promql: up\n  threshold: 2\n")  # a merge key may be overridden
    assert refused(validator, write(tmp_path, merged)).endswith("base: Extra inputs are not permitted")
