"""The cluster itself: built here, subnets out of private ranges, DNS for cluster.local only, real pods,
real metrics in the in-cluster Prometheus, and the stack reachable on 127.0.0.1 only."""

from __future__ import annotations

import ipaddress
import json
import time

import httpx
import pytest
from conftest import Kind

from drills.k8s import endpoints
from drills.k8s.build.toxiproxy import image_tag as toxiproxy_image
from drills.k8s.cluster import CLUSTER_ONLY_COREFILE
from drills.k8s.objects import default_world
from drills.k8s.stack import backend_image
from gameday.errors import TargetError
from gameday.releases import HEALTHY, RELEASES

WORLD = default_world()  # the shipped runbook's names: deployment, selector, namespaces
BACKEND, NAMESPACE = WORLD.backend_deployment, WORLD.namespace

pytestmark = pytest.mark.kind

PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def test_node_image_was_built_here_and_every_workload_is_ready(kind: Kind) -> None:
    deadline = time.monotonic() + 60
    while True:  # the kubelet reports its images with its node status: briefly none after a status update race
        nodes = json.loads(kind.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        assert len(nodes) == 1
        node = nodes[0]
        if node["status"].get("images") or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.37.2"
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
    images = {name for image in node["status"]["images"] for name in image.get("names", [])}
    for tag in (*(backend_image(r) for r in RELEASES.values()), "gameday/postgres:15", "gameday/pgbouncer:1.18",
                "gameday/prometheus:2.42", "gameday/alertmanager:0.25", "gameday/cluster-tools:v1",
                toxiproxy_image()):
        assert any(name.endswith(tag) for name in images), f"{tag} is not loaded into the node"
    try:  # the test before (a drill killed with SIGKILL, put back by the next start) may leave a pod starting
        kind.target.wait_ready(120)
    except TargetError as exc:
        workloads = kind.kubectl("get", "deployments,statefulsets", "-A", "-o", "wide").stdout
        raise AssertionError(f"{exc}:\n{workloads}") from None
    replicas = kind.target.replicas()
    assert len(replicas) == 3 and all(r.ready and r.version == HEALTHY.version for r in replicas)


def test_addresses_stay_out_of_private_ranges(kind: Kind) -> None:
    pods = json.loads(kind.kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    services = json.loads(kind.kubectl("get", "services", "-A", "-o", "json").stdout)["items"]
    addresses = [p["status"]["podIP"] for p in pods if p["status"].get("podIP") and not p["spec"].get("hostNetwork")]
    addresses += [s["spec"]["clusterIP"] for s in services if s["spec"].get("clusterIP") not in (None, "None")]
    assert addresses
    for address in map(ipaddress.ip_address, addresses):
        assert not any(address in net for net in PRIVATE), f"{address} is in a private range"
        assert address in ipaddress.ip_network(endpoints.POD_SUBNET) or \
            address in ipaddress.ip_network(endpoints.SERVICE_SUBNET)


def test_coredns_answers_cluster_local_only(kind: Kind) -> None:
    corefile = kind.target.core.read_namespaced_config_map("coredns", "kube-system").data["Corefile"]
    assert corefile == CLUSTER_ONLY_COREFILE and "forward" not in corefile
    pod = kind.target.core.list_namespaced_pod(NAMESPACE, label_selector=f"app={BACKEND}").items[0].metadata.name
    probe = ("import socket\n"
             f"print(socket.gethostbyname('postgres.{NAMESPACE}.svc.cluster.local'))\n"
             "try:\n    socket.gethostbyname('deb.debian.org')\n    print('outside-resolved')\n"
             "except OSError:\n    print('outside-refused')\n")
    out = kind.kubectl("exec", "-n", NAMESPACE, pod, "--", "python", "-c", probe).stdout.split()
    assert ipaddress.ip_address(out[0]) in ipaddress.ip_network(endpoints.SERVICE_SUBNET)
    assert out[1] == "outside-refused"


def test_stack_is_served_on_loopback_and_prometheus_scrapes_the_real_pods(kind: Kind) -> None:
    ep = kind.target.endpoints()
    assert all(url.startswith("http://127.0.0.1:") for url in (ep.app_url, ep.prometheus_url, ep.alertmanager_url))
    assert httpx.get(f"{ep.app_url}/health", timeout=5).status_code == 200
    deadline = time.monotonic() + 90
    up: list = []
    while time.monotonic() < deadline:
        up = httpx.get(f"{ep.prometheus_url}/api/v1/query", params={"query": 'up{job="backend"} == 1'},
                       timeout=5).json()["data"]["result"]
        pools = httpx.get(f"{ep.prometheus_url}/api/v1/query", params={"query": "pgbouncer_up"},
                          timeout=5).json()["data"]["result"]
        if len(up) == 3 and pools and pools[0]["value"][1] == "1":
            break
        time.sleep(2)
    assert len(up) == 3, f"Prometheus does not scrape three backend pods: {up}"
    assert {r["metric"]["version"] for r in up} == {HEALTHY.version}
    rules = httpx.get(f"{ep.prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {"HighErrorRate", "BackendCrashLooping", "PgBouncerDown"} <= {
        r["name"] for g in rules for r in g["rules"] if r["type"] == "alerting"}
    assert httpx.get(f"{ep.alertmanager_url}/-/ready", timeout=5).status_code == 200


def test_the_loaded_archive_is_cached_by_the_images_ids(kind: Kind) -> None:
    """``cluster up`` saved the app images once, under a name made of their IDs: the next ``up`` reuses it (no
    ``docker save``), and the archive holds exactly the images the node has."""
    import tarfile

    from drills.k8s.build.progress import Progress
    from drills.k8s.image_load import archive, archive_dir

    [cached] = list(archive_dir().glob("apps-*.tar"))
    with tarfile.open(cached) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        tags = [t for entry in json.load(member) for t in entry["RepoTags"]]
    assert toxiproxy_image() in tags and backend_image(HEALTHY) in tags
    before = cached.stat().st_mtime_ns
    assert archive(tags, Progress(echo=lambda _line: None)) == cached
    assert cached.stat().st_mtime_ns == before


def test_the_exporter_ends_on_sigterm_not_at_its_grace_periods_kill(kind: Kind) -> None:
    """The exporter runs as its container's PID 1, which ignores SIGTERM unless it handles it: a deletion (the
    runbook's emergency step deletes every pod) then waits the whole grace period for the kubelet's SIGKILL."""
    pod = kind.kubectl("get", "pods", "-n", NAMESPACE, "-l", "app=cluster-exporter", "-o", "name").stdout.split()[0]
    grace = int(kind.kubectl("get", "-n", NAMESPACE, pod, "-o",
                             "jsonpath={.spec.terminationGracePeriodSeconds}").stdout)  # fmt: skip
    start = time.monotonic()
    kind.kubectl("delete", "-n", NAMESPACE, pod, "--wait=true", timeout=grace + 60)
    took = time.monotonic() - start
    kind.kubectl("rollout", "status", "-n", NAMESPACE, "deployment/cluster-exporter", "--timeout=120s", timeout=150)
    assert took < grace / 2, f"the exporter's pod took {took:.0f} s to end (grace {grace} s): SIGTERM unhandled"
