"""The test control plane behaves like a cluster: Deployments roll out to Ready pods
(kwok plays the kubelet), crashloop-marked pods crash-loop, kubectl rollout undo works.
"""

from __future__ import annotations

import json
import os
from typing import Any, TypeVar

import pytest
from gameday_testkit import wait_for
from kubernetes import client

pytestmark = pytest.mark.k8s

T = TypeVar("T")



def deployment(
    name: str, image: str, replicas: int = 3, annotations: dict[str, str] | None = None
) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels, annotations=annotations),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image=image)]),
            ),
        ),
    )


def ready_pods(core: client.CoreV1Api, ns: str, app: str) -> list[client.V1Pod]:
    pods = core.list_namespaced_pod(ns, label_selector=f"app={app}").items
    out = []
    for p in pods:
        if p.metadata.deletion_timestamp or p.status.phase != "Running":
            continue
        conds = {c.type: c.status for c in p.status.conditions or []}
        if conds.get("Ready") == "True":
            out.append(p)
    return out


def test_server_reports_real_version(k8s_control_plane: Any) -> None:
    out = k8s_control_plane.kubectl("version", "-o", "json").stdout
    versions = json.loads(out)
    assert versions["serverVersion"]["gitVersion"].startswith("v1.")
    assert versions["serverVersion"]["gitVersion"] == versions["clientVersion"]["gitVersion"]
    assert versions["serverVersion"]["minor"].isdigit()


def test_deployment_pods_become_running_and_ready(kube_api_client: Any, namespace: str) -> None:
    apps = client.AppsV1Api(kube_api_client)
    core = client.CoreV1Api(kube_api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", "nginx:1.27"))
    pods = wait_for(
        lambda: (lambda r: r if len(r) == 3 else None)(ready_pods(core, namespace, "web")), "3 ready pods", timeout=90)
    assert all(p.spec.node_name for p in pods)
    dep = wait_for(
        lambda: (lambda d: d if (d.status.ready_replicas or 0) == 3 else None)(
            apps.read_namespaced_deployment("web", namespace)
        ),
        "deployment readyReplicas=3", timeout=60,
    )
    assert dep.status.available_replicas == 3


def test_crashloop_marked_pods_crash_loop(kube_api_client: Any, namespace: str) -> None:
    apps = client.AppsV1Api(kube_api_client)
    core = client.CoreV1Api(kube_api_client)
    apps.create_namespaced_deployment(
        namespace,
        deployment("broken", "nginx:1.27", replicas=2, annotations={"gameday.io/crashloop": "true"}),
    )

    def restart_counts() -> list[int] | None:
        pods = core.list_namespaced_pod(namespace, label_selector="app=broken").items
        counts = []
        for p in pods:
            for cs in p.status.container_statuses or []:
                if cs.state.waiting and cs.state.waiting.reason == "CrashLoopBackOff":
                    counts.append(cs.restart_count)
        return counts if len(counts) == 2 else None

    first = wait_for(restart_counts, "2 pods in CrashLoopBackOff", timeout=90)
    assert all(c > 0 for c in first)
    grown = wait_for(
        lambda: (lambda c: c if c and max(c) > max(first) else None)(restart_counts()),
        "restartCount to grow", timeout=30,
    )
    assert max(grown) > max(first)
    assert ready_pods(core, namespace, "broken") == []


def test_kubectl_rollout_undo(k8s_control_plane: Any, kube_api_client: Any, namespace: str) -> None:
    apps = client.AppsV1Api(kube_api_client)
    kubectl = k8s_control_plane.kubectl
    apps.create_namespaced_deployment(namespace, deployment("api", "example/api:v1", replicas=2))
    kubectl("rollout", "status", "deployment/api", "-n", namespace, "--timeout=90s")
    kubectl("set", "image", "deployment/api", "app=example/api:v2", "-n", namespace)
    kubectl("rollout", "status", "deployment/api", "-n", namespace, "--timeout=90s")
    assert apps.read_namespaced_deployment("api", namespace).spec.template.spec.containers[0].image == "example/api:v2"

    kubectl("rollout", "undo", "deployment/api", "-n", namespace)
    kubectl("rollout", "status", "deployment/api", "-n", namespace, "--timeout=90s")
    dep = apps.read_namespaced_deployment("api", namespace)
    assert dep.spec.template.spec.containers[0].image == "example/api:v1"
    assert dep.metadata.annotations["deployment.kubernetes.io/revision"] == "3"


def test_stop_ends_every_process_and_removes_the_temp_dir(k8s_testenv: Any) -> None:
    """A second, short-lived control plane: nothing of it may outlive ``stop()``."""
    cp = k8s_testenv.TestControlPlane(k8s_testenv.find_bin_dir())
    cp.start()
    pids = [p.popen.pid for p in cp._procs]
    workdir = cp.workdir
    assert len(pids) == 5 and workdir is not None and workdir.exists()
    assert cp.kubectl("get", "nodes", "-o", "name").stdout.strip() == "node/kwok-node-0"
    cp.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not workdir.exists()
