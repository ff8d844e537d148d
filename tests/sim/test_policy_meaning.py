"""Policies and sweeps name only what the runbook has, and their numbers are finite and in range.

A policy's severities (rates, per-severity values, the ladder's severities), roles, ladder levels and workflow
decisions are checked against the runbook by ``Policy.check_against``: in ``gameday validate``, in ``simulate``
and ``compare``, and in a sweep (its base policy and every point it derives).  Each mistake is one line naming
the file and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.errors import InputError
from gameday.runbook import Runbook
from sim.policy import Policy
from sim.sweep.spec import build_sweep

BASE = yaml.safe_load((Path(__file__).resolve().parents[2] / "scenarios" / "policies" / "baseline.yaml")
                      .read_text(encoding="utf-8"))


def policy(**changes: Any) -> Policy:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in changes.items():
        node = doc
        keys = path.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return Policy.model_validate(doc)


@pytest.mark.parametrize(("changes", "field", "says"), [
    ({"arrivals_per_day": {"SEV-1": 1, "SEV-9": 1}}, "arrivals_per_day.SEV-9", "no severity 'SEV-9'"),
    ({"detection__alert_probability": {"SEV-1": 0.9, "SEV-0": 0.5, "default": 0.8}},
     "detection.alert_probability.SEV-0", "no severity 'SEV-0' (the runbook has SEV-1, SEV-2, SEV-3, SEV-4, default)"),
    ({"decisions__recurrence_probability": {"sev-1": 0.1, "default": 0.1}}, "decisions.recurrence_probability.sev-1",
     "did you mean SEV-1?"),
    ({"incident": {"error_rate": {"SEV-12": {"dist": "fixed", "value": 0.1}}}}, "incident.error_rate.SEV-12",
     "no severity 'SEV-12'"),
    ({"escalation__severities": ["SEV-1", "SEV1x"]}, "escalation.severities[1]", "no severity 'SEV1x'"),
    ({"responders__roles": {"IC": {}, "Incident Commander": {}}}, "responders.roles.Incident Commander",
     "no role 'Incident Commander' (the runbook has IC, TL, CL, SME)"),
    ({"responders__roles": {"ic": {}}}, "responders.roles.ic", "did you mean IC?"),
    ({"escalation__levels": [{"level": 1}]}, "escalation.levels[0].level",
     "no ladder level 'L1' (the runbook's ladder above the on-call (L1) has L2, L3, L4)"),
    ({"escalation__levels": [{"level": 2}, {"level": 9}]}, "escalation.levels[1].level", "no ladder level 'L9'"),
    ({"escalation__levels": [{"level": 3}, {"level": 3}]}, "escalation.levels[1].level", "L3 is given twice"),
    ({"decisions__other": {"root-cause-fund": 0.5}}, "decisions.other.root-cause-fund",
     "did you mean root-cause-found?"),
    ({"escalation__levels": [{"level": 2, "root_cause_probability": {"SEV-5": 0.5, "default": 0.5}}]},
     "escalation.levels[0].root_cause_probability.SEV-5", "no severity 'SEV-5'"),
])  # fmt: skip
def test_a_policy_naming_what_the_runbook_lacks_is_refused(seed_runbook: Runbook, changes: dict[str, Any],
                                                           field: str, says: str) -> None:
    with pytest.raises(InputError) as refused:
        policy(**changes).check_against(seed_runbook)
    assert refused.value.field == field and says in refused.value.problem, str(refused.value)


def test_the_shipped_policies_name_only_what_the_runbook_has(seed_runbook: Runbook, policies_dir: Path) -> None:
    from sim.policy import load_policy

    for path in sorted(policies_dir.glob("*.yaml")):
        load_policy(str(path)).check_against(seed_runbook)


@pytest.mark.parametrize(("changes", "says"), [
    ({"arrivals_per_day": {"SEV-1": 1e9}}, "at most 100000 incidents a day"),
    ({"detection__onset": {"dist": "lognormal", "median": 1, "sigma": 50}}, "less than or equal to 10"),
    ({"detection__onset": {"dist": "lognormal", "mean": 1, "sd": 1e40}}, "less than or equal to 525600"),
    ({"steps__verify": {"dist": "fixed", "value": 1e12}}, "less than or equal to 525600"),
    ({"detection__alert_probability": {"SEV-1": math.inf, "default": 0.5}}, "SEV-1: must be a finite number"),
    ({"decisions__root_cause_probability": math.nan}, "must be a finite number"),
    ({"responders__oncall": 10**9}, "less than or equal to 1000"),
    ({"escalation__levels": [{"level": 2, "after_minutes": math.inf}]}, "finite number"),
])  # fmt: skip
def test_numbers_out_of_range_are_refused(changes: dict[str, Any], says: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=says):
        policy(**changes)


def test_an_empirical_csv_of_infinities_is_refused(tmp_path: Path) -> None:
    (tmp_path / "durations.csv").write_text("minutes\ninf\n1e999\nnan\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no numeric column"):
        Policy.model_validate({**BASE, "steps": {"verify": {"dist": "empirical", "path": "durations.csv"}}},
                              context={"base_dir": tmp_path})
    (tmp_path / "durations.csv").write_text("minutes\n5\n1e300\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs numbers from 0 to 525600 minutes"):
        Policy.model_validate({**BASE, "steps": {"verify": {"dist": "empirical", "path": "durations.csv"}}},
                              context={"base_dir": tmp_path})


def test_simulate_names_the_policy_file_and_field(tmp_path: Path, seed_runbook: Runbook) -> None:
    from sim.model import compile_named

    path = tmp_path / "p.yaml"
    with pytest.raises(InputError, match=rf"^{path}: responders\.roles\.TLX: no role 'TLX'.*did you mean TL\?"):
        compile_named(policy(responders__roles={"TLX": {}}), seed_runbook, path)


def _sweep(policies_dir: Path, runbook: Path, **extra: Any) -> dict[str, Any]:
    return {"kind": "sweep", "policy": str(policies_dir / "baseline.yaml"), "runbook": str(runbook),
            "vary": [{"path": "responders.oncall", "values": [1, 2]}], "incidents": 600, "replications": 2} | extra


@pytest.mark.parametrize(("extra", "field", "says"), [
    ({"vary": [{"path": "detection.alert_probability.SEV-9", "values": [0.5]}]},
     "detection.alert_probability.SEV-9", "no severity 'SEV-9'"),
    ({"vary": [{"path": "responders.roles.XO", "values": [{"availability": 0.5}]}]}, "responders.roles.XO",
     "no role 'XO'"),
    ({"vary": [{"path": "escalation.levels[0].level", "values": [2, 7]}]}, "escalation.levels[0].level",
     "no ladder level 'L7'"),
    ({"vary": [{"path": "escalation.levels[0].after_minutes", "values": [5, math.nan]}]},
     "escalation.levels[0].after_minutes", "finite number"),
    ({"vary": [{"path": "responders.oncall", "range": [1, math.inf]}], "search": 4}, "vary.0.range.1",
     "finite number"),
    ({"minimise": "mtrr.SEV-1.p95"}, "--minimise", "unknown metric 'mtrr.SEV-1.p95' (did you mean mttr?)"),
    ({"subject_to": ["pages_per_week<=1e999"]}, "--subject-to", "the bound must be a finite number"),
    ({"seed": -1}, "seed", "greater than or equal to 0"),
    ({"incidents": 10**12}, "incidents", "less than or equal to 1000000000"),
])  # fmt: skip
def test_a_sweep_naming_what_the_runbook_lacks_is_refused_before_work(
        policies_dir: Path, seed_runbook_path: Path, extra: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(InputError) as refused:
        build_sweep(_sweep(policies_dir, seed_runbook_path, **extra), Path.cwd(), "sweep.yaml")
    message = str(refused.value)
    assert message.startswith(f"sweep.yaml: {field}: ") and says in message and "\n" not in message, message
