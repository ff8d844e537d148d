"""One remediation catalogue (``gameday/remediations.py``): every target implements each entry through its
registry, a scenario names only catalogued remediations (``gameday validate`` refuses a typo in one line), and
the war room, the autopilot and the CLIs take their names, labels and journal kinds from it.

No services: the targets' remedies are called on stand-ins or on a sandbox's files (the real effects are in
test_faults_local.py and tests/k8s/test_kubernetes_target.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drills.k8s.target import KUBE_REMEDIES
from drills.sandbox.config import SandboxConfig
from drills.sandbox.paths import read_json
from drills.targets.base import RemedyRegistry
from drills.targets.factory import TARGETS, target_class
from drills.targets.local import LocalTarget
from drills.warroom import requests as rq
from drills.warroom.actions import remediation_buttons
from gameday.errors import InputError, TargetError
from gameday.faults import FaultType
from gameday.files import load_model
from gameday.remediations import (
    CATALOGUE,
    NoParams,
    Remediation,
    ScaleParams,
    checked,
    fixes_for,
    spec_for,
)
from gameday.scenario import Scenario

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
GAMEDAY = str(Path(sys.executable).with_name("gameday"))


# -- the catalogue and the targets ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", TARGETS)
def test_every_target_implements_every_catalogued_remediation(name: str) -> None:
    remedies = target_class(name).remedies
    assert isinstance(remedies, RemedyRegistry)
    assert remedies.missing() == [], f"the {name} target lacks {remedies.missing()}"
    assert sorted(remedies.names()) == sorted(Remediation)


def test_the_check_fails_for_a_target_that_lacks_one() -> None:
    partial: RemedyRegistry[Any] = RemedyRegistry("partial")
    partial.register(Remediation.rollback)(lambda target, params: "rolled back")
    assert Remediation.failover_upstream in partial.missing()
    with pytest.raises(TargetError, match="the partial target cannot failover-upstream"):
        partial.take(object(), "failover-upstream", {})
    with pytest.raises(ValueError, match="two implementations of rollback"):
        partial.register(Remediation.rollback)(lambda target, params: "again")


def test_every_entry_is_complete_and_every_fault_has_a_fix() -> None:
    assert set(CATALOGUE) == set(Remediation)
    for name, spec in CATALOGUE.items():
        assert spec.name is name and spec.label and spec.summary and spec.kind and spec.acts_on
        assert spec.params.model_config["extra"] == "forbid"
    for fault in FaultType:
        assert fixes_for(fault), f"no remediation ends {fault.value}"
    # the decision tree's rollback: of the deployment, or of a configuration push (no new image)
    assert [spec.name for spec in CATALOGUE.values() if spec.rollback] == [Remediation.rollback,
                                                                           Remediation.revert_config]
    assert all(spec.kind == "rollback" for spec in CATALOGUE.values() if spec.rollback)
    assert spec_for("rollback").kind == "rollback"  # what the decision-tree check of the scorer looks for


@pytest.mark.parametrize(("given", "member"), [
    ("restart-pgbouncer", Remediation.restart_pgbouncer), ("restart_pgbouncer", Remediation.restart_pgbouncer),
    ("rollout_undo", Remediation.rollback), ("Kill-Slow-Queries", Remediation.kill_slow_queries),
])  # fmt: skip
def test_either_spelling_names_one_remediation(given: str, member: Remediation) -> None:
    assert checked(given)[0] is member


def test_names_and_parameters_are_checked_before_a_target_is_reached() -> None:
    with pytest.raises(InputError) as caught:
        checked("rolback")
    assert (caught.value.field, caught.value.problem.split(";")[0]) == (
        "action", "unknown remediation 'rolback' (did you mean rollback?)")
    with pytest.raises(InputError) as caught:
        checked("scale")
    assert (caught.value.field, caught.value.problem) == ("replicas", "Field required")
    with pytest.raises(InputError) as caught:
        checked("kill-slow-queries", {"replicas": 3})
    assert caught.value.field == "replicas"
    name, params = checked("scale", {"replicas": 4, "deployment": None})
    assert name is Remediation.scale and params == ScaleParams(replicas=4)


# -- each target's dispatch, on stand-ins ---------------------------------------------------------------------


def test_the_sandbox_takes_the_catalogues_names(tmp_path: Path) -> None:
    target = LocalTarget(SandboxConfig(state_dir=tmp_path))
    target.sandbox.layout.home.mkdir(parents=True)
    assert target.remediate(Remediation.kill_slow_queries) == "cancelled the slow queries"
    assert read_json(target.sandbox.layout.knobs)["query_latency_s"] == 0.0
    assert target.remediate("failover_upstream") == "failed over the eligibility upstream"
    assert read_json(target.sandbox.layout.knobs)["upstream_error_fraction"] == 0.0
    for action, params, field in (("scale", {}, "replicas"), ("restart", {"deployment": "pgbouncer"}, "deployment"),
                                  ("rollback", {"to_revision": 1}, "to_revision"), ("restrat", {}, "action")):
        with pytest.raises(InputError) as caught:
            target.remediate(action, **params)
        assert caught.value.field == field


class KnobRecorder:
    """What the Kubernetes remedies call on their target, recorded."""

    backend = "backend"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def set_knobs(self, what: str, **knobs: float) -> None:
        self.calls.append(("knobs", knobs))

    def _patch(self, kind: str, name: str, body: Any, what: str) -> None:
        self.calls.append((what, (kind, name, body)))


def test_the_kubernetes_target_takes_the_catalogues_names() -> None:
    recorder = KnobRecorder()
    assert KUBE_REMEDIES.take(recorder, "kill_slow_queries", {}) == "cancelled the slow queries"
    assert KUBE_REMEDIES.take(recorder, Remediation.scale, {"replicas": 5}) == "deployment/backend scaled to 5"
    assert recorder.calls == [("knobs", {"query_latency_s": 0.0}),
                              ("scale", ("Deployment", "backend", {"spec": {"replicas": 5}}))]  # fmt: skip


# -- scenarios ------------------------------------------------------------------------------------------------


def scenario_with(tmp_path: Path, base: str, line: str, replacement: str) -> Path:
    text = (SCENARIOS / f"{base}.yaml").read_text(encoding="utf-8")
    assert line in text
    path = tmp_path / f"{base}-edited.yaml"
    path.write_text(text.replace(line, replacement), encoding="utf-8")
    return path


def test_gameday_validate_refuses_a_misspelt_remediation_in_one_line(tmp_path: Path) -> None:
    bad = scenario_with(tmp_path, "connection-pool-leak", "safe_remediations: [rollback]",
                        "safe_remediations: [rolback]")
    env = {"GAMEDAY_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    for argv in (["validate", str(bad)], ["drill", "run", str(bad), "--out", str(tmp_path / "out")]):
        done = subprocess.run([GAMEDAY, *argv], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"error: {bad}: safe_remediations.0: unknown remediation 'rolback'"), lines
        assert "expected one of rollback, restart, scale, restart-pgbouncer" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("base", "line", "replacement", "problem"), [
    ("crashloop", "safe_remediations: [rollback]", "safe_remediations: [restart]",
     "safe_remediations: none of restart fixes crashloop (what fixes it: rollback)"),
    ("crashloop", "safe_remediations: [rollback]", "safe_remediations: [scale]",
     "scale needs replicas, which a scenario cannot give"),
    ("pgbouncer-down", "safe_remediations: [restart-pgbouncer]", "safe_remediations: [rollback, restart-pgbouncer]",
     "safe_remediations: rollback is a rollback, but rollback_safe is false"),
])  # fmt: skip
def test_a_scenario_names_remediations_that_fit_its_fault(tmp_path: Path, base: str, line: str, replacement: str,
                                                          problem: str) -> None:
    bad = scenario_with(tmp_path, base, line, replacement)
    with pytest.raises(InputError) as caught:
        load_model(bad, Scenario)
    assert str(caught.value).endswith(problem), str(caught.value)


def test_shipped_scenarios_name_catalogued_remediations_that_fix_their_fault() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        scenario = load_model(path, Scenario)
        assert all(isinstance(r, Remediation) for r in scenario.safe_remediations)
        assert set(scenario.safe_remediations) & set(fixes_for(scenario.fault.type)), path.name
    assert "safe_remediations" in Scenario.model_json_schema()["properties"]


def test_the_underscore_spelling_reads_as_the_catalogue_name(tmp_path: Path) -> None:
    path = scenario_with(tmp_path, "pgbouncer-down", "safe_remediations: [restart-pgbouncer]",
                         "safe_remediations: [restart_pgbouncer]")
    assert load_model(path, Scenario).safe_remediations == [Remediation.restart_pgbouncer]


# -- the war room ---------------------------------------------------------------------------------------------


def test_the_war_rooms_buttons_and_requests_come_from_the_catalogue() -> None:
    assert remediation_buttons() == [{"action": s.name.value, "label": s.label} for s in CATALOGUE.values()]
    for button in remediation_buttons():
        request = rq.parse_request(
            f'{{"type": "remediate", "action": "{button["action"]}", "actor": "alice"}}'.encode(), game_master=False)
        assert isinstance(request, rq.Remediate) and request.action is Remediation(button["action"])
    old_page = rq.parse_request(b'{"type": "remediate", "action": "restart_pgbouncer", "actor": "a"}',
                                game_master=False)
    assert old_page.action is Remediation.restart_pgbouncer  # type: ignore[attr-defined]
    with pytest.raises(rq.RequestRefused) as refused:
        rq.parse_request(b'{"type": "remediate", "action": "rolback", "actor": "a"}', game_master=False)
    assert refused.value.status == 422
    assert refused.value.message.startswith("remediate: action: unknown remediation 'rolback' (did you mean")


def test_only_scale_needs_a_parameter() -> None:
    """What the autopilot (which takes a scenario's remediations as named) can never take: scale."""
    assert [s.name for s in CATALOGUE.values() if s.required] == [Remediation.scale]
    assert all(s.params is NoParams for s in CATALOGUE.values() if s.acts_on != "backend")
