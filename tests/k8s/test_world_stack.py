"""A runbook with other names gets a stack with those names, and drills act on it (the test control plane).

The team's runbook names ``deployment/backend -n hospital-erp-system``; another team's names
``deployment/api -n payments -l app=api`` and Prometheus as ``svc/prometheus-k8s`` in ``observability``.  Rendered from
that runbook, the stack carries exactly those names, a fault and its revert act on them, and nothing of the
shipped runbook's names is created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gameday_testkit import wait_for

from drills.k8s.objects import default_world
from drills.k8s.stack import backend_image
from drills.k8s.target import KubernetesTarget
from gameday.faults import FaultType
from gameday.releases import CRASHLOOP, HEALTHY
from gameday.runbook import load_runbook
from gameday.runbook.parser import DEFAULT_RUNBOOK
from gameday.scenario import Fault

pytestmark = pytest.mark.k8s
CONTEXT = "kind-gameday-test"


def other_team(tmp_path: Path) -> Path:
    text = (DEFAULT_RUNBOOK.read_text(encoding="utf-8")
            .replace("deployment/backend", "deployment/api").replace("app=backend", "app=api")
            .replace("hospital-erp-system", "payments")
            .replace("-n monitoring svc/prometheus-operated", "-n observability svc/prometheus-k8s"))  # fmt: skip
    path = tmp_path / "payments-runbook.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_another_runbooks_names_make_the_stack_and_the_drill_acts_on_them(k8s_control_plane: Any,
                                                                          tmp_path: Path) -> None:
    cp = k8s_control_plane
    shipped = default_world()
    world = load_runbook(other_team(tmp_path)).world
    assert (world.namespace, world.backend_deployment, world.selector) == ("payments", "api", "app=api")
    assert (world.monitoring_namespace, world.prometheus_service) == ("observability", "prometheus-k8s")
    # the shipped stack's module may still be deleting its namespaces (and freeing the NodePorts)
    wait_for(lambda: all(cp.kubectl("get", "namespace", ns, check=False).returncode != 0
                         for ns in (shipped.namespace, shipped.monitoring_namespace)),
             "the shipped stack's namespaces to be gone", timeout=150)  # fmt: skip
    target = KubernetesTarget(CONTEXT, kubeconfig=cp.kubeconfig, kubectl=cp.bin("kubectl"), world=world)
    try:
        target.apply(timeout=150)
        api = target.apps.read_namespaced_deployment("api", "payments")
        assert api.spec.selector.match_labels == {"app": "api"} and api.status.ready_replicas == 3
        assert target.core.read_namespaced_service("prometheus-k8s", "observability").spec.ports[0].port == 9090
        assert [r.name.startswith("api-") for r in target.replicas()] == [True, True, True]
        for ns in (shipped.namespace, shipped.monitoring_namespace):
            assert cp.kubectl("get", "namespace", ns, check=False).returncode != 0, f"{ns} was created"

        record = target.inject(Fault(type=FaultType.crashloop), drill_id="payments")
        assert record.revert_state["name"] == "api" and record.revert_state["namespace"] == "payments"
        image = target.apps.read_namespaced_deployment("api", "payments").spec.template.spec.containers[0].image
        assert image == backend_image(CRASHLOOP)
        assert "deployment/api" in target.describe(Fault(type=FaultType.crashloop))
        target.revert(record)
        wait_for(lambda: target.is_ready() and {r.version for r in target.replicas()} == {HEALTHY.version},
                 "api back on the healthy release", timeout=120)  # fmt: skip
        assert target.pending_injections() == []
    finally:
        target.down()
        target.close()
        wait_for(lambda: all(cp.kubectl("get", "namespace", ns, check=False).returncode != 0
                             for ns in ("payments", "observability")), "the other stack's namespaces gone",
                 timeout=150)  # fmt: skip
