"""Every local fault injects with a visible effect under real Locust load, fires its alerts in the real
Alertmanager, and reverts; the injection record is on disk before the change."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gameday_testkit import wait_for
from sandbox_helpers import SharedSandbox

from drills.faults.knobs import LEAK_AFTER_RUNBOOK_S, LEAK_EVERY_RUNBOOK_S
from drills.faults.local import LOCAL_FAULTS, LocalErrorBurst
from drills.load.runner import LoadHandle, start_load
from drills.sandbox.paths import read_json
from gameday.errors import SafetyError
from gameday.faults import FaultType, spec_for
from gameday.files import load_model
from gameday.releases import HEALTHY, LEAKY
from gameday.remediations import Remediation
from gameday.scenario import Fault, LoadShape, Scenario

pytestmark = pytest.mark.sandbox
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture
def quiet(shared_sandbox: SharedSandbox) -> SharedSandbox:
    """No pending fault and no alert left over from the previous test, so each test sees its own."""
    target = shared_sandbox.target
    for record in target.pending_injections():  # type: ignore[attr-defined]
        target.revert(record)  # type: ignore[attr-defined]
    wait_for(target.is_ready, "the sandbox to be ready")  # type: ignore[attr-defined]
    wait_for(lambda: not shared_sandbox.firing(), "alerts from earlier tests to resolve")
    return shared_sandbox


@pytest.fixture
def load(quiet: SharedSandbox, tmp_path: Path) -> Iterator[LoadHandle]:
    handle = start_load(LoadShape(users=15, spawn_rate=15), quiet.app, tmp_path / "locust")
    try:
        yield handle
    finally:
        handle.stop()


def test_pool_leak_fires_high_error_rate_and_rollback_restores_v122(quiet: SharedSandbox, load: LoadHandle) -> None:
    target = quiet.target
    record = target.inject(Fault(type=FaultType.connection_pool_leak), drill_id="t-leak")  # type: ignore[attr-defined]
    assert [r.version for r in target.replicas()] == [LEAKY.version] * 3  # type: ignore[attr-defined]
    # the leak progresses in runbook time (the shared sandbox runs at time scale 60): it starts
    # LEAK_AFTER_RUNBOOK_S after the deploy, one connection per replica every LEAK_EVERY_RUNBOOK_S
    assert record.revert_state == {"version": HEALTHY.version, "knobs": {
        "slow_plan_fraction": 0.05, "slow_plan_every_s": 0.0, "slow_plan_from": 0.0}}
    knobs = read_json(target.sandbox.layout.knobs)  # type: ignore[attr-defined]
    assert (knobs["slow_plan_fraction"], knobs["slow_plan_every_s"]) == (0.0, LEAK_EVERY_RUNBOOK_S / 60.0)
    assert record.injected_at.timestamp() < knobs["slow_plan_from"] - LEAK_AFTER_RUNBOOK_S / 60.0 + 1.0
    wait_for(lambda: (quiet.query("sum(db_pool_leaked_connections)") or 0) >= 4, "connections to leak")
    wait_for(lambda: "HighErrorRate" in quiet.firing(), "HighErrorRate firing in Alertmanager")
    assert (quiet.query('sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))')
            or 0) > 0.0
    wait_for(lambda: "PgBouncerPoolSaturated" in quiet.firing(), "PgBouncerPoolSaturated firing")
    # the responder's rollback (what the runbook says), then the drill's revert finds nothing to do
    assert f"to {HEALTHY.version}" in target.remediate(Remediation.rollback)  # type: ignore[attr-defined]
    assert target.rollout_history()[-3:] == [HEALTHY.version, LEAKY.version, HEALTHY.version]  # type: ignore[attr-defined]
    target.revert(record)  # type: ignore[attr-defined]
    target.revert(record)  # safe twice  # type: ignore[attr-defined]
    knobs = read_json(target.sandbox.layout.knobs)  # type: ignore[attr-defined]
    assert (knobs["slow_plan_fraction"], knobs["slow_plan_every_s"], knobs["slow_plan_from"]) == (0.05, 0.0, 0.0)
    assert target.rollout_history()[-1] == HEALTHY.version  # type: ignore[attr-defined]
    assert len(target.rollout_history()) == 3  # type: ignore[attr-defined]  # no extra rollout by the revert
    assert target.pending_injections() == []  # type: ignore[attr-defined]
    wait_for(lambda: all(r.ready and r.version == HEALTHY.version for r in target.replicas()),  # type: ignore[attr-defined]
             "healthy replicas ready")
    assert httpx.get(f"{quiet.app}/api/patients/2").status_code == 200


def test_crashloop_shows_backoff_with_growing_restarts(quiet: SharedSandbox) -> None:
    target = quiet.target
    record = target.inject(Fault(type=FaultType.crashloop))  # type: ignore[attr-defined]
    wait_for(lambda: all(r.state == "CrashLoopBackOff" or r.restarts >= 2 for r in target.replicas()),  # type: ignore[attr-defined]
             "every replica to crash-loop")
    first = {r.name: r.restarts for r in target.replicas()}  # type: ignore[attr-defined]
    wait_for(lambda: all(r.restarts > first[r.name] for r in target.replicas()),  # type: ignore[attr-defined]
             "restart counts to grow")
    pod = target.sandbox.pod_detail("backend-0")  # type: ignore[attr-defined]
    assert "Cannot connect to database" in pod["message"]
    wait_for(lambda: {"BackendCrashLooping", "BackendDown"} <= quiet.firing(), "crash-loop alerts")
    assert httpx.get(f"{quiet.app}/api/patients/1").status_code == 503  # the Service has no endpoint
    target.revert(record)  # type: ignore[attr-defined]
    assert [(r.version, r.restarts) for r in target.replicas()] == [(HEALTHY.version, 0)] * 3  # type: ignore[attr-defined]
    wait_for(target.is_ready, "the healthy release to be ready again")  # type: ignore[attr-defined]


def test_a_rollout_is_no_outage(quiet: SharedSandbox) -> None:
    """Replicas being replaced are ContainerCreating, not down: BackendDown stays quiet through a rollout
    even with `for:` at 2 runbook minutes = 2 wall seconds (longer than a replica takes to start)."""
    target = quiet.target
    started = time.monotonic()
    target.remediate("restart")  # type: ignore[attr-defined]  # every replica replaced, one by one
    wait_for(target.is_ready, "the sandbox to be ready after the rollout")  # type: ignore[attr-defined]
    time.sleep(3.0)  # one more `for:` and evaluation: a pending BackendDown would have fired by now
    # exactly the rollout and after: the previous test's alerts may have resolved a moment before it began
    window_ms = int((time.monotonic() - started) * 1000)
    fired = quiet.query(f'max_over_time(ALERTS{{alertname="BackendDown",alertstate="firing"}}[{window_ms}ms])')
    assert fired is None, "BackendDown fired while replicas were only being replaced"
    creating = quiet.query('count(kube_pod_container_status_waiting_reason{reason="ContainerCreating"})')
    assert creating == 3, "the exporter reports the ContainerCreating reason for every pod"


def test_pgbouncer_down_fails_requests_until_reverted(quiet: SharedSandbox, load: LoadHandle) -> None:
    target = quiet.target
    record = target.inject(Fault(type=FaultType.pgbouncer_down))  # type: ignore[attr-defined]
    assert target.sandbox.service_state("pgbouncer") == "STOPPED"  # type: ignore[attr-defined]
    wait_for(lambda: {"PgBouncerDown", "HighErrorRate"} <= quiet.firing(), "PgBouncerDown and HighErrorRate")
    assert not any(r.ready for r in target.replicas())  # type: ignore[attr-defined]
    target.revert(record)  # type: ignore[attr-defined]
    assert target.sandbox.service_state("pgbouncer") == "RUNNING"  # type: ignore[attr-defined]
    wait_for(lambda: all(r.ready for r in target.replicas()), "replicas ready after PgBouncer is back")  # type: ignore[attr-defined]


def test_slow_queries_push_p95_over_one_second(quiet: SharedSandbox, tmp_path: Path) -> None:
    scenario = load_model(SCENARIOS / "slow-queries.yaml", Scenario)
    handle = start_load(scenario.load, quiet.app, tmp_path / "locust")
    try:
        record = quiet.target.inject(scenario.fault)  # type: ignore[attr-defined]
        # the scenario's latency, under the scenario's names, is what the backend reads (same on Kubernetes:
        # tests/k8s/test_kubernetes_target.py::test_slow_queries_sets_the_scenarios_latency)
        knobs = read_json(quiet.target.sandbox.layout.knobs)  # type: ignore[attr-defined]
        wanted = scenario.fault.params.model_dump()
        assert wanted == {"query_latency_s": 1.2, "latency_fraction": 0.08}  # scenarios/slow-queries.yaml
        assert {k: knobs[k] for k in wanted} == wanted and record.params == wanted
        wait_for(lambda: "HighLatencyP95" in quiet.firing(), "HighLatencyP95 firing")
        # 8 % slow requests put p95 just over 1 s; one read right after the alert can catch a window with
        # fewer slow ones, so wait (bounded) for a sample over the line instead of reading once
        wait_for(lambda: (quiet.query("sandbox:http_request_duration_seconds:p95_alert_window") or 0) > 1.0,
                 "p95 over 1 s")
        assert "kill" not in record.revert_state
        assert record.revert_state == {"query_latency_s": 0.0, "latency_fraction": 1.0}
        quiet.target.revert(record)  # type: ignore[attr-defined]
        wait_for(lambda: (quiet.query("sandbox:http_request_duration_seconds:p95_alert_window") or 9) < 1.0,
                 "p95 back under 1 s")
    finally:
        handle.stop()


def test_error_burst_turns_patient_records_into_502(quiet: SharedSandbox, load: LoadHandle) -> None:
    record = quiet.target.inject(Fault(type=FaultType.error_burst, params={"upstream_error_fraction": 1.0}))  # type: ignore[attr-defined]
    # knobs are re-read within half a second
    wait_for(lambda: httpx.get(f"{quiet.app}/api/patients/5").status_code == 502, "patient records to fail",
             period=0.2)
    assert httpx.get(f"{quiet.app}/api/patients").status_code == 200  # other pages unaffected
    wait_for(lambda: "HighErrorRate" in quiet.firing(), "HighErrorRate firing")
    quiet.target.revert(record)  # type: ignore[attr-defined]
    wait_for(lambda: all(httpx.get(f"{quiet.app}/api/patients/5").status_code == 200 for _ in range(6)),
             "patient records to work again", period=0.5)


def test_revert_while_the_sandbox_is_down_fixes_the_next_up(quiet: SharedSandbox) -> None:
    """A runner killed with SIGKILL, then `sandbox down`: recovery must still undo the rollout."""
    target = quiet.target
    record = target.inject(Fault(type=FaultType.crashloop))  # type: ignore[attr-defined]
    target.sandbox.down()  # type: ignore[attr-defined]  # the stack only, records stay pending
    assert [r.id for r in target.pending_injections()] == [record.id]  # type: ignore[attr-defined]
    target.revert(record)  # type: ignore[attr-defined]
    assert target.sandbox.deployment().version == HEALTHY.version  # type: ignore[attr-defined]
    target.up()  # type: ignore[attr-defined]
    assert [(r.version, r.ready, r.restarts) for r in target.replicas()] == [(HEALTHY.version, True, 0)] * 3  # type: ignore[attr-defined]


def test_record_is_persisted_before_the_change(quiet: SharedSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    target = quiet.target
    seen: list[list[str]] = []

    def inject(self: LocalErrorBurst, sandbox: object, params: object) -> None:
        folder = target.sandbox.layout.injections  # type: ignore[attr-defined]
        seen.append([json.loads(p.read_text())["fault"] for p in folder.glob("*.json")])
        raise RuntimeError("killed mid-injection")

    monkeypatch.setattr(LocalErrorBurst, "inject", inject)
    with pytest.raises(RuntimeError):
        target.inject(Fault(type=FaultType.error_burst))  # type: ignore[attr-defined]
    assert seen == [["error-burst"]]
    pending = target.pending_injections()  # type: ignore[attr-defined]
    assert [r.fault for r in pending] == [FaultType.error_burst]
    monkeypatch.undo()
    target.revert(pending[0])  # type: ignore[attr-defined]
    assert target.pending_injections() == []  # type: ignore[attr-defined]


def test_every_shipped_scenario_expects_alerts_the_sandbox_has() -> None:
    from drills.sandbox.config import SandboxConfig
    from drills.sandbox.configs import sandbox_alert_rules

    names = {r["alert"] for g in sandbox_alert_rules(SandboxConfig(state_dir=Path("."))).values() for grp in g
             for r in grp["rules"] if "alert" in r}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        scenario = load_model(path, Scenario)
        assert set(scenario.expected_alerts) <= names, path.name
        assert set(spec_for(scenario.fault.type).signature) <= set(scenario.expected_alerts), path.name
        # every scenario the sandbox may run has its actuator here (node-loss is kind only: targets [kubernetes])
        assert scenario.fault.type in LOCAL_FAULTS or "local" not in scenario.targets, path.name


def test_load_refuses_non_loopback_hosts(tmp_path: Path) -> None:
    with pytest.raises(SafetyError):
        start_load(LoadShape(), "http://10.0.0.1:8080", tmp_path)
