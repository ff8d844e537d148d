"""The memory-leak actuator on the test control plane (real API server, kwok as the kubelet: no container runs, so
no OOM kill here; that is tests/kind/test_kind_memory.py): it rolls the backend out to the leaking release under
the Deployment's own memory limit, paces the leak in the knobs ConfigMap at the target's time scale, records the
undo on the Deployment, and its revert puts template, replicas and knobs back, twice safely."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from drills.k8s.objects import INJECTION_ANNOTATION, default_world
from drills.k8s.stack import backend_image
from drills.k8s.target import KubernetesTarget
from gameday.releases import MEMORY_LEAK
from gameday.scenario import Fault

WORLD = default_world()
BACKEND, NAMESPACE = WORLD.backend_deployment, WORLD.namespace


@pytest.fixture
def target(erp_stack: Any) -> Iterator[KubernetesTarget]:
    t = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig, kubectl=erp_stack.bin("kubectl"))
    t.wait_ready(120)
    yield t
    for record in t.pending_injections():
        t.revert(record)
    t.wait_ready(120)
    t.close()


def backend(target: KubernetesTarget) -> dict[str, Any]:
    return target.api_client.sanitize_for_serialization(target.apps.read_namespaced_deployment(BACKEND, NAMESPACE))


def test_memory_leak_rolls_out_under_the_limit_paces_the_knob_and_reverts(target: KubernetesTarget) -> None:
    before, knobs_before = backend(target), target.knobs()
    target.time_scale = 120.0  # as a drill's calibration sets it
    record = target.inject(Fault.model_validate({"type": "memory-leak", "params": {"mib_per_minute": 30}}),
                           drill_id="d-test")  # fmt: skip
    dep = backend(target)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == backend_image(MEMORY_LEAK)
    assert container["resources"]["limits"]["memory"] == "384Mi"  # the Deployment's own limit, unchanged
    assert target.knobs()["memory_leak_mib_per_s"] == 60.0  # 30 MiB a runbook minute at 120x
    recorded = json.loads(dep["metadata"]["annotations"][INJECTION_ANNOTATION])
    assert recorded["id"] == record.id and recorded["revert_state"]["template"] == before["spec"]["template"]
    assert [r.fault.value for r in target.pending_injections()] == ["memory-leak"]

    target.revert(record)
    after = backend(target)
    assert after["spec"]["template"] == before["spec"]["template"]
    assert INJECTION_ANNOTATION not in (after["metadata"].get("annotations") or {})
    assert target.knobs() == knobs_before and target.pending_injections() == []
    target.revert(record)  # safe twice
