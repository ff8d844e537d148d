"""The network fault's kind actuator on the test control plane (real API server, kwok as the kubelet: no container
runs, so Toxiproxy's own answers come from a stand-in behind the client's transport; the real one is exercised on
kind, tests/kind/test_kind_network.py).

What the API shows: the undo record on ``deployment/toxiproxy`` before any toxic, the toxics the mode adds on the
recorded link, a revert that removes every toxic and then the record (twice safely), ``failover-network``, the
start-up recovery of a dead runner's fault, and, when the API server cannot reach Toxiproxy (no endpoints: a real
503 from the real service proxy), a one-line error and a revert that restarts Toxiproxy's pods instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from gameday_testkit import wait_for

from drills.k8s.objects import INJECTION_ANNOTATION, default_world
from drills.k8s.target import KubernetesTarget
from drills.k8s.toxiproxy import TOXIPROXY, ClusterToxiproxy
from drills.recovery import recover
from gameday.errors import TargetError
from gameday.remediations import Remediation
from gameday.scenario import Fault

WORLD = default_world()
NAMESPACE = WORLD.namespace
BASE = f"/api/v1/namespaces/{NAMESPACE}/services/{TOXIPROXY}:api/proxy"

pytestmark = pytest.mark.k8s


class FakeToxiproxy:
    """Toxiproxy's API for the calls the client makes (list, add, delete a toxic; a proxy off and on), in memory."""

    def __init__(self) -> None:
        self.toxics: dict[str, dict[str, dict[str, Any]]] = {"pgbouncer": {}, "upstream": {}}
        self.calls: list[tuple[str, str]] = []
        self.reconnected: list[str] = []

    def send(self, proxy: ClusterToxiproxy, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        assert proxy.base == BASE  # through the API server's service proxy of the drill's namespace
        self.calls.append((method, path))
        parts = path.strip("/").split("/")  # proxies/<name>[/toxics[/<toxic>]]
        toxics = self.toxics.get(parts[1])
        if toxics is None:
            return 404, b'{"error": "proxy not found"}'
        if len(parts) == 2 and method == "POST":
            if body and body.get("enabled") is False:
                self.reconnected.append(parts[1])
            return 200, b"{}"
        if len(parts) == 3 and method == "GET":
            return 200, json.dumps(list(toxics.values())).encode()
        if len(parts) == 3 and method == "POST":
            assert body is not None
            if body["name"] in toxics:
                return 409, b'{"error": "toxic already exists"}'
            toxics[body["name"]] = body
            return 200, json.dumps(body).encode()
        if len(parts) == 4 and method == "DELETE":
            return (204, b"") if toxics.pop(parts[3], None) else (404, b'{"error": "toxic not found"}')
        return 405, b""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeToxiproxy:
    fake = FakeToxiproxy()
    monkeypatch.setattr(ClusterToxiproxy, "_send", lambda self, m, p, b: fake.send(self, m, p, b))
    return fake


@pytest.fixture
def target(erp_stack: Any, fake: FakeToxiproxy) -> Iterator[KubernetesTarget]:
    t = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig, kubectl=erp_stack.bin("kubectl"))
    t.wait_ready(120)
    yield t
    for record in t.pending_injections():
        t.revert(record)
    t.close()


def toxiproxy(target: KubernetesTarget) -> dict[str, Any]:
    return target._sanitize(target.apps.read_namespaced_deployment(TOXIPROXY, NAMESPACE))


def fault(**params: Any) -> Fault:
    return Fault.model_validate({"type": "network", "params": params})


def test_latency_is_recorded_on_toxiproxys_deployment_added_on_the_link_and_reverted(
    target: KubernetesTarget, fake: FakeToxiproxy
) -> None:
    backend_before = target._sanitize(target.apps.read_namespaced_deployment(WORLD.backend_deployment, NAMESPACE))
    template_before = toxiproxy(target)["spec"]["template"]
    assert target.describe(fault(link="upstream", mode="latency", latency_ms=300, jitter_ms=0)) == (
        "deployment/toxiproxy 300 ms (+/- 0 ms) latency on the backend's link to upstream (Toxiproxy)")
    record = target.inject(fault(link="upstream", mode="latency", latency_ms=300, jitter_ms=0), drill_id="d-net")
    recorded = json.loads(toxiproxy(target)["metadata"]["annotations"][INJECTION_ANNOTATION])
    assert recorded["id"] == record.id and recorded["fault"] == "network"
    assert recorded["revert_state"].items() >= {"kind": "Deployment", "name": TOXIPROXY, "link": "upstream",
                                                "mode": "latency", "namespace": NAMESPACE}.items()
    assert fake.toxics["upstream"] == {"gameday-latency-downstream": {
        "name": "gameday-latency-downstream", "type": "latency", "stream": "downstream", "toxicity": 1.0,
        "attributes": {"latency": 300, "jitter": 0}}}
    assert fake.toxics["pgbouncer"] == {}
    assert [r.fault.value for r in target.pending_injections()] == ["network"]
    fake.toxics["upstream"]["someone-elses"] = {"name": "someone-elses", "type": "latency"}  # a revert takes every one

    target.revert(record)
    assert fake.toxics["upstream"] == {} and fake.reconnected == []  # latency held no connection
    after = toxiproxy(target)
    assert INJECTION_ANNOTATION not in (after["metadata"].get("annotations") or {})
    assert after["spec"]["template"] == template_before  # its pods untouched: the links stayed up
    backend_after = target._sanitize(target.apps.read_namespaced_deployment(WORLD.backend_deployment, NAMESPACE))
    assert backend_after["spec"] == backend_before["spec"]
    assert target.pending_injections() == []
    calls = len(fake.calls)
    target.revert(record)  # safe twice: the record is gone, nothing is sent
    assert len(fake.calls) == calls


def test_failover_network_heals_a_partition_and_the_revert_still_drops_its_held_connections(
    target: KubernetesTarget, fake: FakeToxiproxy
) -> None:
    record = target.inject(fault(link="pgbouncer", mode="partition", share=0.5))
    assert sorted(fake.toxics["pgbouncer"]) == ["gameday-partition-downstream", "gameday-partition-upstream"]
    assert {t["type"] for t in fake.toxics["pgbouncer"].values()} == {"timeout"}
    assert {t["toxicity"] for t in fake.toxics["pgbouncer"].values()} == {0.5}

    assert target.remediate(Remediation.failover_network) == "failed over the network path to pgbouncer"
    assert fake.toxics["pgbouncer"] == {} and fake.reconnected == ["pgbouncer"]
    assert target.remediate(Remediation.failover_network) == "no degraded link found"
    assert [r.id for r in target.pending_injections()] == [record.id]  # the fault's record stays for the runner

    target.revert(record)  # no toxic left, but a partition's connections are dropped once more (a cut-short revert)
    assert fake.reconnected == ["pgbouncer", "pgbouncer"]
    assert target.pending_injections() == []


def test_a_dead_runners_network_fault_is_reverted_by_the_next_start(target: KubernetesTarget,
                                                                    fake: FakeToxiproxy) -> None:
    record = target.inject(fault(link="pgbouncer", mode="reset"), drill_id="d-killed")
    assert len(fake.toxics["pgbouncer"]) == 2
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    left = record.model_copy(update={"runner_pid": int(dead)})  # as a runner killed with SIGKILL left it
    body = {"metadata": {"annotations": {INJECTION_ANNOTATION: left.model_dump_json()}}}
    target._patch("Deployment", TOXIPROXY, body, "test: the runner died")
    outcomes = recover(target, announce=False)
    assert [(o["record"], o["ok"]) for o in outcomes] == [(record.id, True)]
    assert fake.toxics["pgbouncer"] == {} and target.pending_injections() == []


def test_without_toxiproxy_behind_the_service_the_error_is_one_line_and_the_revert_replaces_its_pods(
    target: KubernetesTarget, fake: FakeToxiproxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = target.inject(fault(link="pgbouncer", mode="partition"))
    template_before = toxiproxy(target)["spec"]["template"]
    pods_before = pod_names(target)
    assert len(pods_before) == 1
    monkeypatch.undo()  # from here on the real API server's service proxy answers
    selector = target.core.read_namespaced_service(TOXIPROXY, NAMESPACE).spec.selector
    target.core.patch_namespaced_service(TOXIPROXY, NAMESPACE, {"spec": {"selector": {"app": "no-such-pod"}}})
    try:
        wait_for(lambda: not any(s.addresses for s in target.core.read_namespaced_endpoints(
            TOXIPROXY, NAMESPACE).subsets or []), "the toxiproxy Service without endpoints", timeout=60)  # fmt: skip
        with pytest.raises(TargetError) as caught:
            ClusterToxiproxy(target).toxics("pgbouncer")
        message = str(caught.value)
        assert "\n" not in message and message.startswith("Toxiproxy refused GET /proxies/pgbouncer/toxics: 503")

        target.revert(record)  # the toxics cannot be removed: the pods holding them are replaced instead
        after = toxiproxy(target)
        assert INJECTION_ANNOTATION not in (after["metadata"].get("annotations") or {})
        assert after["spec"]["template"] == template_before  # the Deployment as it was
        wait_for(lambda: pod_names(target) and not set(pod_names(target)) & set(pods_before),
                 "a new Toxiproxy pod in place of the old one", timeout=60)  # fmt: skip
        assert target.pending_injections() == []
    finally:
        target.core.patch_namespaced_service(TOXIPROXY, NAMESPACE, {"spec": {"selector": selector}})
        target.wait_ready(120)


def pod_names(target: KubernetesTarget) -> list[str]:
    pods = target.core.list_namespaced_pod(NAMESPACE, label_selector=f"app={TOXIPROXY}").items
    return [p.metadata.name for p in pods if p.metadata.deletion_timestamp is None]
