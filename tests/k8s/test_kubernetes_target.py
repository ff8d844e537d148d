"""KubernetesTarget against the real test control plane: manifests, faults, watch, recovery, guardrails."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from gameday_testkit import never, wait_for
from urllib3.exceptions import MaxRetryError

from drills.k8s.objects import (
    CRASHLOOP_ANNOTATION,
    INJECTION_ANNOTATION,
    KNOBS_CONFIGMAP,
    PGBOUNCER,
    POSTGRES,
    default_world,
)
from drills.k8s.stack import backend_image
from drills.k8s.target import KubernetesTarget
from drills.recovery import recover
from gameday.errors import SafetyError
from gameday.faults import FaultType
from gameday.files import load_model
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.releases import CRASHLOOP, FIXED, HEALTHY, LEAKY
from gameday.remediations import Remediation
from gameday.scenario import Fault, Scenario

WORLD = default_world()  # the shipped runbook's names: deployment, selector, namespaces
BACKEND, NAMESPACE = WORLD.backend_deployment, WORLD.namespace

pytestmark = pytest.mark.k8s
REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")





@pytest.fixture
def target(erp_stack: Any) -> Iterator[KubernetesTarget]:
    t = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig, kubectl=erp_stack.bin("kubectl"))
    t.wait_ready(120)
    yield t
    for record in t.pending_injections():  # never leak a fault into the next test
        t.revert(record)
    t.wait_ready(120)
    t.close()


def workload_spec(target: KubernetesTarget, name: str) -> dict[str, Any]:
    read = target.apps.read_namespaced_stateful_set if name == POSTGRES else target.apps.read_namespaced_deployment
    dep = read(name, NAMESPACE)
    data = target.api_client.sanitize_for_serialization(dep)
    return {"spec": data["spec"], "annotations": data["metadata"].get("annotations", {})}


def faulted_object(target: KubernetesTarget, name: str) -> dict[str, Any]:
    """What a fault changes: a workload's template and replicas, or the knobs ConfigMap's data."""
    if name == KNOBS_CONFIGMAP:
        data = target.api_client.sanitize_for_serialization(target.core.read_namespaced_config_map(name, NAMESPACE))
        return {"state": data.get("data") or {}, "annotations": data["metadata"].get("annotations") or {}}
    spec = workload_spec(target, name)
    return {"state": {k: spec["spec"][k] for k in ("template", "replicas")}, "annotations": spec["annotations"]}


def backend_env(target: KubernetesTarget) -> dict[str, str]:
    dep = target.apps.read_namespaced_deployment(BACKEND, NAMESPACE)
    return {e.name: e.value for e in dep.spec.template.spec.containers[0].env or []}


# ---------------------------------------------------------------------------------------------- manifests


def test_manifests_apply_and_backend_rolls_out_to_three_ready_pods(target: KubernetesTarget) -> None:
    assert target.is_ready()
    replicas = target.replicas()
    assert len(replicas) == 3
    assert all(r.ready and r.state == "Running" and r.version == HEALTHY.version for r in replicas)
    dep = target.apps.read_namespaced_deployment(BACKEND, NAMESPACE)
    container = dep.spec.template.spec.containers[0]
    assert container.image == backend_image(HEALTHY)
    assert container.readiness_probe.http_get.path == "/ready"
    assert container.liveness_probe.http_get.path == "/health"
    monitoring = WORLD.monitoring_namespace
    for kind, name, namespace in (("statefulset", "postgres", NAMESPACE), ("deployment", PGBOUNCER, NAMESPACE),
                                  ("deployment", "prometheus", monitoring), ("deployment", "alertmanager", monitoring),
                                  ("service", WORLD.prometheus_service, monitoring),
                                  ("service", WORLD.alertmanager_service, monitoring)):  # fmt: skip
        assert target._kubectl("get", kind, name, "-n", namespace, "-o", "name").strip()


def test_target_apply_is_idempotent_server_side_apply(target: KubernetesTarget) -> None:
    target.apply(timeout=120)
    assert target.is_ready()


# ---------------------------------------------------------------------------------------------- faults

FAULT_CHECKS: dict[FaultType, tuple[str, Callable[[KubernetesTarget], bool]]] = {
    FaultType.connection_pool_leak: (
        BACKEND,
        lambda t: (
            t.apps.read_namespaced_deployment(BACKEND, NAMESPACE).spec.template.spec.containers[0].image
            == backend_image(LEAKY)
        ),
    ),
    FaultType.crashloop: (
        BACKEND,
        lambda t: (
            backend_env(t)["APP_VERSION"] == CRASHLOOP.version
            and t.apps.read_namespaced_deployment(BACKEND, NAMESPACE).spec.template.spec.containers[0].image
            == backend_image(CRASHLOOP)
            and (t.apps.read_namespaced_deployment(BACKEND, NAMESPACE).spec.template.metadata.annotations or {}).get(
                CRASHLOOP_ANNOTATION
            )
            == "true"
        ),
    ),
    FaultType.pgbouncer_down: (
        PGBOUNCER,
        lambda t: t.apps.read_namespaced_deployment(PGBOUNCER, NAMESPACE).spec.replicas == 0,
    ),
    # the scenario's parameter names and the sandbox's defaults (scenarios/slow-queries.yaml, error-burst.yaml)
    FaultType.slow_queries: (
        KNOBS_CONFIGMAP, lambda t: t.knobs() == {"query_latency_s": 1.2, "latency_fraction": 0.08}),
    FaultType.error_burst: (KNOBS_CONFIGMAP, lambda t: t.knobs() == {"upstream_error_fraction": 0.5}),
    # issue 22: a configuration push through the ConfigMap (no new image), PostgreSQL's StatefulSet scaled to 0
    FaultType.config_change: (KNOBS_CONFIGMAP, lambda t: t.knobs() == {"upstream_timeout_s": 0.0001}),
    FaultType.database_down: (
        POSTGRES, lambda t: t.apps.read_namespaced_stateful_set(POSTGRES, NAMESPACE).spec.replicas == 0),
}


def test_issue_22_remediations_change_what_they_say(target: KubernetesTarget) -> None:
    """revert-config drops the pushed knob, maintenance on/off sets and drops its knob, restart-database brings
    a stopped StatefulSet back, roll-forward makes a new revision on the fixed release's image."""
    record = target.inject(Fault(type=FaultType.config_change), drill_id="d-test")
    target.remediate("revert-config")
    assert "upstream_timeout_s" not in target.knobs()
    target.revert(record)
    target.remediate("maintenance-on")
    assert target.knobs().get("maintenance") is True
    target.remediate("maintenance-off")
    assert "maintenance" not in target.knobs()
    record = target.inject(Fault(type=FaultType.database_down), drill_id="d-test")
    target.remediate("restart-database")
    assert target.apps.read_namespaced_stateful_set(POSTGRES, NAMESPACE).spec.replicas == 1
    target.revert(record)
    target.remediate("roll-forward")
    dep = target.apps.read_namespaced_deployment(BACKEND, NAMESPACE)
    assert dep.spec.template.spec.containers[0].image == backend_image(FIXED)
    assert backend_env(target)["APP_VERSION"] == FIXED.version
    target.remediate("rollback")
    target.wait_ready(120)


@pytest.mark.parametrize("fault_type", list(FAULT_CHECKS), ids=lambda f: f.value)
def test_fault_injects_and_reverts_to_the_original_object(target: KubernetesTarget, fault_type: FaultType) -> None:
    name, injected = FAULT_CHECKS[fault_type]
    before = faulted_object(target, name)
    record = target.inject(Fault(type=fault_type), drill_id="d-test")

    annotation = json.loads(faulted_object(target, name)["annotations"][INJECTION_ANNOTATION])
    assert annotation["id"] == record.id
    undo = annotation["revert_state"]
    recorded = undo["data"] if name == KNOBS_CONFIGMAP else {k: undo[k] for k in ("template", "replicas")}
    assert recorded == before["state"]
    assert injected(target)
    assert [r.id for r in target.pending_injections()] == [record.id]

    if fault_type is FaultType.crashloop:
        crashing = wait_for(
            lambda: [r for r in target.replicas() if r.state == "CrashLoopBackOff" and r.restarts > 0],
            "a backend pod in CrashLoopBackOff", timeout=60,
        )
        assert not any(r.ready for r in crashing)
    if fault_type is FaultType.pgbouncer_down:
        wait_for(
            lambda: not target.core.list_namespaced_pod(NAMESPACE, label_selector="app=pgbouncer").items,
            "pgbouncer pods gone", timeout=60,
        )

    target.revert(record)
    after = faulted_object(target, name)
    assert after["state"] == before["state"]
    assert INJECTION_ANNOTATION not in after["annotations"]
    assert target.pending_injections() == []
    target.revert(record)  # safe twice
    target.wait_ready(120)
    assert all(r.ready for r in target.replicas())


def test_slow_queries_sets_the_scenarios_latency(target: KubernetesTarget) -> None:
    """The scenario's parameters reach the pods under their own names (the local twin:
    tests/drills/test_fault_catalogue.py::test_slow_queries_sets_the_scenarios_latency_on_the_sandbox)."""
    scenario = load_model(REPO / "scenarios" / "slow-queries.yaml", Scenario)
    record = target.inject(scenario.fault)
    assert target.knobs() == scenario.fault.params.model_dump() == {"query_latency_s": 1.2, "latency_fraction": 0.08}
    assert record.params == target.knobs()
    target.revert(record)
    assert target.knobs() == {}
    # not the defaults in disguise: other values arrive as given
    record = target.inject(Fault(type=FaultType.slow_queries, params={"query_latency_s": 2.5, "latency_fraction": 0.3}))
    assert target.knobs() == {"query_latency_s": 2.5, "latency_fraction": 0.3}
    assert "configmap/erp-knobs" in target.describe(Fault(type=FaultType.slow_queries))
    target.revert(record)


def test_second_fault_on_the_same_object_is_refused(target: KubernetesTarget) -> None:
    target.inject(Fault(type=FaultType.slow_queries))  # the knobs ConfigMap
    with pytest.raises(SafetyError, match=f"configmap/{KNOBS_CONFIGMAP} already carries a pending fault"):
        target.inject(Fault(type=FaultType.error_burst))
    target.inject(Fault(type=FaultType.connection_pool_leak))  # another object: allowed
    with pytest.raises(SafetyError, match=f"deployment/{BACKEND} already carries a pending fault"):
        target.inject(Fault(type=FaultType.crashloop))
    assert sorted(r.fault.value for r in target.pending_injections()) == ["connection-pool-leak", "slow-queries"]


def _pacers() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("rolled-out-") and t.is_alive()}


def test_a_revert_ends_its_own_faults_pacer_and_close_ends_every_one(erp_stack: Any) -> None:
    """What a fault leaves waiting for a rollout (once_rolled_out) ends with that fault's revert, whatever was injected
    or refused after it, and every one ends with close(): the clean exit found ``rolled-out-<version>`` threads alive
    after close, their events replaced by a later fault's (or a refused one's)."""
    t = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig, kubectl=erp_stack.bin("kubectl"))
    try:
        t.once_rolled_out("v0.0.0-never", lambda: None)  # no fault of this target's: only close() ends it
        first = t.inject(Fault(type=FaultType.slow_queries))
        t.once_rolled_out("v0.0.1-never", lambda: None)  # as the first fault's actuator would: never rolls out
        with pytest.raises(SafetyError):
            t.inject(Fault(type=FaultType.error_burst))  # refused: the knobs carry the first fault
        later = t.inject(Fault(type=FaultType.connection_pool_leak))
        t.once_rolled_out("v0.0.2-never", lambda: None)  # the later fault's
        assert {f"rolled-out-v0.0.{n}-never" for n in range(3)} <= _pacers()
        t.revert(first)
        wait_for(lambda: "rolled-out-v0.0.1-never" not in _pacers(), "the first fault's pacer ended by its revert", 5)
        assert {"rolled-out-v0.0.0-never", "rolled-out-v0.0.2-never"} <= _pacers()  # the others go on
        t.revert(later)
        wait_for(lambda: "rolled-out-v0.0.2-never" not in _pacers(), "the later fault's pacer ended by its revert", 5)
        assert "rolled-out-v0.0.0-never" in _pacers()
        t.wait_ready(120)
    finally:
        for record in t.pending_injections():
            t.revert(record)
        t.close()
    assert "rolled-out-v0.0.0-never" not in _pacers()  # ended and joined by close()


def test_remediate_rollout_undo_and_history(target: KubernetesTarget) -> None:
    record = target.inject(Fault(type=FaultType.connection_pool_leak))
    wait_for(lambda: target.rollout_history()[-1:] == [LEAKY.version], "the leak's revision", timeout=30)
    wait_for(lambda: target.is_ready(), "the leak rolled out", timeout=90)
    assert target.remediate(Remediation.rollback) == f"deployment/{BACKEND} rolled back to {HEALTHY.version}"
    wait_for(lambda: target.is_ready() and {r.version for r in target.replicas()} == {HEALTHY.version}, "rollback",
             timeout=90)
    assert target.rollout_history()[-1] == HEALTHY.version
    target.revert(record)


def test_dry_run_prints_every_change_and_sends_none(erp_stack: Any) -> None:
    printed: list[str] = []
    t = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig, dry_run=True, printer=printed.append)
    before = workload_spec(t, BACKEND)
    t.inject(Fault(type=FaultType.connection_pool_leak))
    t.remediate(Remediation.scale, replicas=5)
    # the record, the leak's pacing knobs, the rollout, the scale
    assert [line.split(": ")[1].split(" (")[0] for line in printed] == [
        f"patch deployment/{BACKEND}", "patch configmap/erp-knobs", f"patch deployment/{BACKEND}",
        f"patch deployment/{BACKEND}"]
    assert all(line.startswith(f"[dry-run] kind-gameday-test/{NAMESPACE}: ") for line in printed)
    assert "slow_plan_every_s" in printed[1] and LEAKY.version in printed[2]
    assert workload_spec(t, BACKEND) == before
    t.kubectl_bin = erp_stack.bin("kubectl")
    t.apply()  # renders locally, prints the apply, sends nothing
    t.down()
    assert printed[-3].startswith(f"[dry-run] kind-gameday-test/{NAMESPACE}: apply --server-side")
    assert printed[-2].startswith(f"[dry-run] kind-gameday-test/{NAMESPACE}: delete namespace {NAMESPACE}")
    monitoring = WORLD.monitoring_namespace
    assert printed[-1].startswith(f"[dry-run] kind-gameday-test/{NAMESPACE}: delete namespace {monitoring}")
    assert t.core.read_namespace(NAMESPACE).status.phase == "Active"
    t.close()


# ---------------------------------------------------------------------------------------------- kubectl watch


def test_kubectl_actions_become_journal_actions(erp_stack: Any, target: KubernetesTarget, tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path / "drill.jsonl", "d-watch")
    target.start_watch(journal)
    try:
        record = target.inject(Fault(type=FaultType.connection_pool_leak))  # ours: must not be journaled
        erp_stack.kubectl("rollout", "status", f"deployment/{BACKEND}", "-n", NAMESPACE, "--timeout=90s")

        def actions() -> list[dict[str, Any]]:
            return [e.data for e in read_journal(journal.path) if e.type is EventType.action]

        erp_stack.kubectl("rollout", "undo", f"deployment/{BACKEND}", "-n", NAMESPACE)
        undo = wait_for(lambda: [a for a in actions() if a["kind"] == "rollback"], "rollback action", timeout=20)
        assert undo[0]["target"] == f"deployment/{BACKEND}" and undo[0]["manager"].startswith("kubectl")
        erp_stack.kubectl("rollout", "status", f"deployment/{BACKEND}", "-n", NAMESPACE, "--timeout=90s")

        erp_stack.kubectl("scale", f"deployment/{BACKEND}", "--replicas=4", "-n", NAMESPACE)
        scale = wait_for(lambda: [a for a in actions() if a["kind"] == "scale"], "scale action", timeout=20)
        assert scale[0]["replicas"] == 4
        erp_stack.kubectl("scale", f"deployment/{BACKEND}", "--replicas=3", "-n", NAMESPACE)
        erp_stack.kubectl("rollout", "status", f"deployment/{BACKEND}", "-n", NAMESPACE, "--timeout=90s")
        target.wait_ready(60)

        pod = target.replicas()[0].name
        erp_stack.kubectl("delete", "pod", pod, "-n", NAMESPACE, "--wait=false")
        # the audit log names who deleted what: the scale-down's deletion just before is the controller's
        deleted = wait_for(lambda: [a for a in actions() if a["kind"] == "restart"], "pod delete", timeout=20)
        assert deleted == [{"kind": "restart", "target": f"pod/{pod}", "detail": "pod deleted", "manager": "kubectl"}]

        erp_stack.kubectl("rollout", "restart", f"deployment/{BACKEND}", "-n", NAMESPACE)
        wait_for(lambda: [a for a in actions() if a["target"] == f"deployment/{BACKEND}" and a["kind"] == "restart"],
                 "rollout restart action", timeout=20)  # fmt: skip

        events = read_journal(journal.path)
        assert all(e.actor == "kubectl" for e in events if e.type is EventType.action)
        # the target's own inject (field manager gameday) is not a responder action
        assert not [a for a in actions() if a["kind"] == "deploy"]
    finally:
        target.stop_watch()
        journal.close()
    target.revert(record)


# ---------------------------------------------------------------------------------------------- crash recovery

RUNNER = """
import sys, time
from drills.k8s.target import KubernetesTarget
from gameday.scenario import Fault
t = KubernetesTarget("kind-gameday-test", kubeconfig=sys.argv[1])
record = t.inject(Fault(type=sys.argv[2]), drill_id="d-crash")
print(record.id, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("fault_type", [FaultType.connection_pool_leak, FaultType.pgbouncer_down], ids=str)
def test_sigkilled_runner_leaves_annotation_and_recovery_reverts(
    erp_stack: Any, target: KubernetesTarget, fault_type: FaultType
) -> None:
    name = PGBOUNCER if fault_type is FaultType.pgbouncer_down else BACKEND
    before = workload_spec(target, name)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(erp_stack.kubeconfig), fault_type.value],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )  # fmt: skip
    try:
        assert runner.stdout is not None
        record_id = runner.stdout.readline().strip()
        assert record_id, "runner did not inject"
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)

    # a fresh process (here: a new target object) finds the fault in the cluster itself
    fresh = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig)
    pending = fresh.pending_injections()
    assert [(r.id, r.runner_pid, r.drill_id) for r in pending] == [(record_id, runner.pid, "d-crash")]
    assert workload_spec(fresh, name)["spec"] != before["spec"]

    reverted = recover(fresh, announce=False)
    assert [r["record"] for r in reverted] == [record_id]
    after = workload_spec(fresh, name)
    assert after["spec"]["template"] == before["spec"]["template"]
    assert after["spec"]["replicas"] == before["spec"]["replicas"]
    assert INJECTION_ANNOTATION not in after["annotations"]
    fresh.close()


def test_gameday_startup_recovery_reverts_a_dead_runners_cluster_fault(
    erp_stack: Any, target: KubernetesTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """drills.recovery.recover_on_start (run before every gameday command) finds the annotation."""
    from drills import recovery

    before = workload_spec(target, BACKEND)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(erp_stack.kubeconfig), FaultType.crashloop.value],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )  # fmt: skip
    try:
        assert runner.stdout is not None and runner.stdout.readline().strip()
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)

    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path))
    monkeypatch.delenv(recovery.DISABLE_ENV, raising=False)
    monkeypatch.setenv("GAMEDAY_KUBE_CONTEXT", "kind-gameday-test")
    monkeypatch.setenv("KUBECONFIG", str(erp_stack.kubeconfig))
    outcomes = recovery.recover_on_start()
    assert [(o["fault"], o["ok"]) for o in outcomes] == [("crashloop", True)]
    after = workload_spec(target, BACKEND)
    assert after["spec"]["template"] == before["spec"]["template"]
    assert INJECTION_ANNOTATION not in after["annotations"]
    assert recovery.recover_on_start() == []


def test_recovery_leaves_a_live_runners_fault_alone(target: KubernetesTarget) -> None:
    record = target.inject(Fault(type=FaultType.slow_queries))  # runner_pid = this live process
    assert recover(target, announce=False) == []
    assert [r.id for r in target.pending_injections()] == [record.id]


# ---------------------------------------------------------------------------------------------- guardrails


class CountingServer:
    """A TCP listener on 127.0.0.1 that only counts connections (stands in for a prod API server)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def test_non_allowlisted_context_is_refused_before_any_request(
    k8s_control_plane: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = CountingServer()
    try:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(k8s_control_plane.kubeconfig_dict(prod_server=f"https://127.0.0.1:{server.port}"))
        )
        with pytest.raises(SafetyError, match="refusing kube context 'prod-cluster'"):
            KubernetesTarget("prod-cluster", kubeconfig=kubeconfig)
        monkeypatch.setenv("GAMEDAY_KUBE_CONTEXT", "prod-cluster")
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        with pytest.raises(SafetyError, match="not on the allowlist"):
            KubernetesTarget.from_env()
        monkeypatch.setenv("GAMEDAY_KUBE_CONTEXT", "no-such-context")
        with pytest.raises(SafetyError, match="not in the kubeconfig"):
            KubernetesTarget.from_env()
        never(lambda: server.connections, "a connection to the refused prod server", window=1.0)

        # the counter does see traffic when the context is allowed on purpose
        allowed = KubernetesTarget("prod-cluster", kubeconfig=kubeconfig, allowed_contexts=["prod-*"])
        # the fake server accepts and hangs up without TLS: the client's TLS handshake fails (after its retries), as
        # an SSL error or, when the hang-up wins the race, a reset
        with pytest.raises(MaxRetryError, match=r"SSLError|reset|ProtocolError|Remote ?Disconnected"):
            allowed.pending_injections()
        allowed.close()
        wait_for(lambda: server.connections > 0, "a connection to the fake prod server", timeout=5)
    finally:
        server.close()


def test_objects_outside_the_drill_namespace_are_refused(erp_stack: Any) -> None:
    t = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig, kubectl=erp_stack.bin("kubectl"))
    stray = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kube-system"}}
    with pytest.raises(SafetyError, match=f"the drill owns '{NAMESPACE}'"):
        t.apply(extra=[stray])
    with pytest.raises(SafetyError, match=f"the drill owns '{NAMESPACE}'"):
        t._patch("ConfigMap", "coredns", {"data": {}}, "test", namespace="kube-system")
    t.close()


def test_start_observers_journals_kubectl_actions_and_cluster_alerts(
    erp_stack: Any, alertmanager: str, tmp_path: Path
) -> None:
    """What the runner gets from one call: the kubectl watch plus alerts from the cluster's Alertmanager."""
    import urllib.request
    from datetime import UTC, datetime

    from drills.observers.webhook import AlertReceiver
    from drills.targets.base import Endpoints

    endpoints = Endpoints(
        app_url="http://127.0.0.1:1", prometheus_url="http://127.0.0.1:1", alertmanager_url=alertmanager
    )
    t = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig, endpoints=endpoints)
    journal = JournalWriter(tmp_path / "drill.jsonl", "d-observers")
    receiver = AlertReceiver(journal).start()
    t.start_observers(journal, receiver.url)
    try:
        alert = [{"labels": {"alertname": "BackendCrashLooping", "severity": "critical"},
                  "startsAt": datetime.now(UTC).isoformat()}]  # fmt: skip
        request = urllib.request.Request(
            f"{alertmanager}/api/v2/alerts", data=json.dumps(alert).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=5).close()
        erp_stack.kubectl("scale", f"deployment/{PGBOUNCER}", "--replicas=2", "-n", NAMESPACE)

        def seen() -> set[str] | None:
            types = {e.type.value for e in read_journal(journal.path)}
            return types if {"alert_firing", "action"} <= types else None

        wait_for(seen, "an alert and a kubectl action in the journal", timeout=20)
    finally:
        t.close()
        receiver.stop()
        journal.close()
        erp_stack.kubectl("scale", f"deployment/{PGBOUNCER}", "--replicas=1", "-n", NAMESPACE)


def test_a_kubectl_scale_right_after_our_own_write_is_journaled(
    erp_stack: Any, target: KubernetesTarget, tmp_path: Path
) -> None:
    """`kubectl scale` writes through the scale subresource; when gameday wrote the Deployment last (apply, a
    fault's annotation), that subresource write is the only sign of the person — it must not be missed."""
    journal = JournalWriter(tmp_path / "drill.jsonl", "d-scale")
    target.start_watch(journal)
    try:
        # a fault's rollout: gameday is now the newest manager of the Deployment's own fields
        record = target.inject(Fault(type=FaultType.connection_pool_leak))
        erp_stack.kubectl("scale", f"deployment/{BACKEND}", "--replicas=4", "-n", NAMESPACE)
        scale = wait_for(lambda: [e for e in read_journal(journal.path) if e.type is EventType.action],
                         "the scale in the journal", timeout=20)  # fmt: skip
        assert [(e.actor, e.data["kind"], e.data["replicas"]) for e in scale] == [("kubectl", "scale", 4)]
    finally:
        target.stop_watch()
        journal.close()
        for pending in target.pending_injections():
            target.revert(pending)
        erp_stack.kubectl("scale", f"deployment/{BACKEND}", "--replicas=3", "-n", NAMESPACE)
        target.wait_ready(90)
    assert record.id
