"""The stack of a cluster with workers (``gameday cluster up --workers N``), rendered from the runbook's world with no
request: the backend spread over the workers with a PodDisruptionBudget and the node-loss record's ConfigMap, every
other workload on the control plane; with no workers, exactly the single-node stack.  Another runbook's names (the
payments team's ``deployment/api``, ``app=api``) make that stack's budget and spread, nothing hard-coded.  The
flannel DaemonSet reaches the API server directly and rewrites the node image's CNI file.  No services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drills.k8s import flannel
from drills.k8s.cluster import kind_config
from drills.k8s.image_load import worker_containers
from drills.k8s.objects import NODE_LOSS_CONFIGMAP, default_world
from drills.k8s.stack import CONTROL_PLANE, pin_to_control_plane, render
from gameday.runbook import load_runbook
from gameday.runbook.parser import DEFAULT_RUNBOOK
from gameday.runbook.world import World


def payments(tmp_path: Path) -> World:
    text = (DEFAULT_RUNBOOK.read_text(encoding="utf-8").replace("deployment/backend", "deployment/api")
            .replace("app=backend", "app=api").replace("hospital-erp-system", "payments"))  # fmt: skip
    path = tmp_path / "payments-runbook.md"
    path.write_text(text, encoding="utf-8")
    return load_runbook(path).world


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_no_workers_renders_the_single_node_stack_unchanged() -> None:
    docs = render(default_world())
    assert not by_kind(docs, "PodDisruptionBudget") and NODE_LOSS_CONFIGMAP not in by_kind(docs, "ConfigMap")
    for workload in [*by_kind(docs, "Deployment").values(), *by_kind(docs, "StatefulSet").values()]:
        pod = workload["spec"]["template"]["spec"]
        assert "topologySpreadConstraints" not in pod and "nodeSelector" not in pod and "tolerations" not in pod
    assert [n["role"] for n in kind_config("img", local_node=True, name="x")["nodes"]] == ["control-plane"]


def test_workers_spread_the_runbooks_backend_with_a_budget_and_pin_the_rest(tmp_path: Path) -> None:
    world = payments(tmp_path)
    assert (world.backend_deployment, world.backend_labels) == ("api", {"app": "api"})
    docs = pin_to_control_plane(render(world, workers=2), world)
    budget = by_kind(docs, "PodDisruptionBudget")["api"]
    assert budget["metadata"]["namespace"] == "payments"
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "api"}}}
    assert by_kind(docs, "ConfigMap")[NODE_LOSS_CONFIGMAP]["metadata"]["namespace"] == "payments"
    deployments = by_kind(docs, "Deployment")
    api = deployments.pop("api")["spec"]["template"]["spec"]
    (spread,) = api["topologySpreadConstraints"]
    assert spread["labelSelector"] == {"matchLabels": {"app": "api"}} and spread["nodeTaintsPolicy"] == "Honor"
    assert {t["key"]: t["tolerationSeconds"] for t in api["tolerations"]} == {
        "node.kubernetes.io/unreachable": 15, "node.kubernetes.io/not-ready": 15}
    assert "nodeSelector" not in api
    for workload in [*deployments.values(), *by_kind(docs, "StatefulSet").values()]:
        pod = workload["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {CONTROL_PLANE: ""}, workload["metadata"]["name"]
        assert {"key": CONTROL_PLANE, "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_a_cluster_with_workers_and_its_network() -> None:
    nodes = kind_config("img", local_node=True, name="nl", workers=2)["nodes"]
    assert [n["role"] for n in nodes] == ["control-plane", "worker", "worker"]
    assert all(n["image"] == "img" for n in nodes) and "extraPortMappings" not in nodes[1]
    assert worker_containers("nl", 3) == ["nl-worker", "nl-worker2", "nl-worker3"]
    objects = flannel.objects(image="gameday/flannel:test", api_host="100.66.0.2")
    (daemonset,) = [o for o in objects if o["kind"] == "DaemonSet"]
    flanneld, writer = daemonset["spec"]["template"]["spec"]["containers"]
    assert {"name": "KUBERNETES_SERVICE_HOST", "value": "100.66.0.2"} in flanneld["env"]
    assert "--kube-subnet-mgr" in flanneld["command"] and daemonset["spec"]["template"]["spec"]["hostNetwork"]
    assert writer["command"][-1] == f"-out={flannel.CNI_FILE}"
    assert flannel.CNI_FILE.endswith("10-gameday-bridge.conflist")  # the node image's file, replaced per node
    net = next(o for o in objects if o["kind"] == "ConfigMap")["data"]["net-conf.json"]
    assert '"Type": "host-gw"' in net and "100.96.0.0/16" in net
