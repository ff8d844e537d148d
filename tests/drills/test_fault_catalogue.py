"""One fault catalogue: every fault type has one closed parameter model, checked when the scenario is
loaded (``gameday validate`` and ``drill run`` alike), and one actuator per target registered by type.

No services: the local actuator writes the sandbox's knob file in a temporary state folder (the real
effect under load is in test_faults_local.py, the Kubernetes twin in tests/k8s/test_kubernetes_target.py).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from drills.faults.knobs import KNOB_FAULTS, knob_values
from drills.faults.local import LOCAL_FAULTS
from drills.k8s.faults import KUBE_FAULTS
from drills.sandbox.config import SandboxConfig
from drills.sandbox.paths import read_json
from drills.sandbox.stack import Sandbox
from drills.service.knobs import Knobs
from gameday.errors import InputError
from gameday.faults import CATALOGUE, FaultParams, FaultType, SlowQueriesParams
from gameday.files import load_model
from gameday.scenario import Fault, Scenario

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
GAMEDAY = str(Path(sys.executable).with_name("gameday"))


def test_every_fault_type_has_a_closed_model_and_an_actuator_on_each_target() -> None:
    assert set(CATALOGUE) == set(FaultType)
    for fault_type, spec in CATALOGUE.items():
        assert spec.type is fault_type and spec.signature
        assert issubclass(spec.params, FaultParams) and spec.params.model_config["extra"] == "forbid"
    # each target's registry is exactly what the catalogue promises it (a scenario is refused otherwise)
    assert set(LOCAL_FAULTS.types()) == {t for t, spec in CATALOGUE.items() if "local" in spec.targets}
    assert set(KUBE_FAULTS.types()) == {t for t, spec in CATALOGUE.items() if "kubernetes" in spec.targets}


def test_a_scenario_names_each_parameter_once_and_it_is_typed() -> None:
    fault = load_model(SCENARIOS / "slow-queries.yaml", Scenario).fault
    assert isinstance(fault.params, SlowQueriesParams)
    assert (fault.params.query_latency_s, fault.params.latency_fraction) == (1.2, 0.08)
    burst = load_model(SCENARIOS / "error-burst.yaml", Scenario).fault
    assert burst.params.model_dump() == {"upstream_error_fraction": 0.5}
    assert Fault.model_validate_json(fault.model_dump_json()) == fault  # the journal's copy reads back


@pytest.mark.parametrize(("params", "field", "problem"), [
    ({"latency_s": 0.8}, "fault.params.latency_s", "Extra inputs are not permitted"),  # the old Kubernetes name
    ({"fraction": 1.0}, "fault.params.fraction", "Extra inputs are not permitted"),
    ({"query_latency_s": 0}, "fault.params.query_latency_s", "Input should be greater than 0"),
    ({"latency_fraction": 1.5}, "fault.params.latency_fraction", "Input should be less than or equal to 1"),
])  # fmt: skip
def test_bad_parameters_are_refused_naming_file_and_field(tmp_path: Path, params: dict, field: str,
                                                          problem: str) -> None:
    spec = (SCENARIOS / "slow-queries.yaml").read_text().replace(
        "  params:\n    query_latency_s: 1.2\n    latency_fraction: 0.08\n",
        "  params: " + json.dumps(params) + "\n")  # fmt: skip
    assert json.dumps(params) in spec
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec)
    with pytest.raises(InputError) as caught:
        load_model(bad, Scenario)
    assert (caught.value.path, caught.value.field, caught.value.problem) == (str(bad), field, problem)


def test_validate_and_drill_run_refuse_bad_parameters_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((SCENARIOS / "error-burst.yaml").read_text().replace(
        "upstream_error_fraction: 0.5", "upstream_error_fraction: 0.5\n    colour: red"))  # fmt: skip
    env = {"GAMEDAY_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    for argv in (["validate", str(bad)], ["drill", "run", str(bad), "--out", str(tmp_path / "out")]):
        done = subprocess.run([GAMEDAY, *argv], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().endswith(f"{bad}: fault.params.colour: Extra inputs are not permitted")
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "state").exists()


@pytest.mark.parametrize(("scenario", "edit", "says"), [
    # a fault with no actuator on a target the scenario names (the catalogue's FaultSpec.targets)
    # a network fault's latency given for another mode: one line, not silently ignored
    ("network-partition", ("    mode: partition\n", "    mode: partition\n    latency_ms: 50\n"),
     "fault.params: latency_ms is for mode latency only (mode is partition)"),
    # a recurrence naming a stage the scenario does not have
    ("recurrence", ("  stage: 0\n", "  stage: 3\n"), "recurrence.stage: 3 is not a stage (the scenario has 1)"),
    # node loss on the sandbox, whose processes share one machine (issue 22 item 7: kind only)
    ("node-loss", ("targets: [kubernetes]", "targets: [local, kubernetes]"),
     "targets: node-loss has no actuator on the local target (it runs on kubernetes); list only those targets"),
    ("node-loss", ("    mode: stop", "    mode: reboot"), "fault.params.mode: Input should be 'stop' or 'drain'"),
    # a remediation the catalogue does not know
    ("bad-config", ("[revert-config]", "[revert-configuration]"),
     "safe_remediations.0: unknown remediation 'revert-configuration' (did you mean revert-config?)"),
])  # fmt: skip
def test_validate_refuses_what_no_target_can_run_in_one_line(tmp_path: Path, scenario: str,
                                                             edit: tuple[str, str], says: str) -> None:
    text = (SCENARIOS / f"{scenario}.yaml").read_text()
    assert edit[0] in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(edit[0], edit[1]))
    done = subprocess.run([GAMEDAY, "validate", "--no-promql", str(bad)], capture_output=True, text=True,
                          env={"GAMEDAY_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_node_loss_drill_on_the_sandbox_is_refused_in_one_line_writing_nothing(tmp_path: Path) -> None:
    """``gameday drill run`` defaults to the local target: the kind-only scenario is refused before anything starts
    (no sandbox, no drill directory, no state)."""
    done = subprocess.run([GAMEDAY, "drill", "run", str(SCENARIOS / "node-loss.yaml"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"GAMEDAY_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"error: {SCENARIOS / 'node-loss.yaml'}: targets: this scenario does not run on "
                                   "local"), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_fault_with_no_actuator_on_a_named_target_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unsafe rollback and the data corruption run on both targets now; were one of them the sandbox's only (as
    before the kind actuators), its scenario naming kubernetes would be refused in one line when loaded."""
    spec = CATALOGUE[FaultType.forward_migration]
    monkeypatch.setitem(CATALOGUE, FaultType.forward_migration, dataclasses.replace(spec, targets=("local",)))
    path = SCENARIOS / "unsafe-rollback.yaml"
    with pytest.raises(InputError) as caught:
        load_model(path, Scenario)
    said = str(caught.value)
    assert said.startswith(f"{path}: ") and "\n" not in said, said
    assert said.endswith("targets: forward-migration has no actuator on the kubernetes target (it runs on local); "
                         "list only those targets"), said


def test_the_schema_shows_each_fault_types_parameters() -> None:
    schema = Scenario.model_json_schema()["$defs"]["Fault"]
    by_type = {rule["if"]["properties"]["type"]["const"]: rule["then"]["properties"]["params"]
               for rule in schema["allOf"]}  # fmt: skip
    assert set(by_type) == {t.value for t in FaultType}
    assert set(by_type["slow-queries"]["properties"]) == {"query_latency_s", "latency_fraction"}
    assert by_type["error-burst"]["additionalProperties"] is False


def test_knob_faults_take_knob_names_and_values_as_given() -> None:
    for fault_type in KNOB_FAULTS:
        assert set(CATALOGUE[fault_type].params.model_fields) <= set(Knobs.model_fields)
    params = Fault(type=FaultType.slow_queries, params={"query_latency_s": 2.5, "latency_fraction": 0.3}).params
    assert knob_values(params) == {"query_latency_s": 2.5, "latency_fraction": 0.3}


def test_slow_queries_sets_the_scenarios_latency_on_the_sandbox(tmp_path: Path) -> None:
    """What the local actuator writes is what the scenario says, under the same names (the backend reads
    this file; the Kubernetes twin writes the same values into the erp-knobs ConfigMap)."""
    sandbox = Sandbox(SandboxConfig(state_dir=tmp_path))  # files only: no service is started
    sandbox.layout.home.mkdir(parents=True)
    actuator = LOCAL_FAULTS[FaultType.slow_queries]
    for fault in (load_model(SCENARIOS / "slow-queries.yaml", Scenario).fault,
                  Fault(type=FaultType.slow_queries, params={"query_latency_s": 2.5, "latency_fraction": 0.3})):
        undo = actuator.prepare(sandbox, fault.params)
        actuator.inject(sandbox, fault.params)
        knobs = read_json(sandbox.layout.knobs)
        assert {k: knobs[k] for k in ("query_latency_s", "latency_fraction")} == fault.params.model_dump()
        actuator.revert(sandbox, undo)
        assert Knobs.model_validate(read_json(sandbox.layout.knobs)) == Knobs()


def test_parameters_are_immutable() -> None:
    fault = Fault(type=FaultType.error_burst)
    with pytest.raises(ValidationError):
        fault.params.upstream_error_fraction = 0.9  # type: ignore[attr-defined]
