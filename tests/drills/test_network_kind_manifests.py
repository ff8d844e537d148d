"""The network fault's kind side without a cluster: the rendered stack puts Toxiproxy on the backend's links (and
the exporter's probes through them) in the runbook's namespace, `cluster up` loads its image, the scenario
validates on kubernetes, and the client reaches Toxiproxy only through the API server (printed in dry-run).

The API-level behaviour (the record on the Deployment, the revert, recovery) is in
tests/k8s/test_network_fault_k8s.py; the real effect on kind in tests/kind/test_kind_network.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import yaml

from drills.faults.network import describe_network, network_toxics
from drills.k8s.build.toxiproxy import image_tag
from drills.k8s.faults import KUBE_FAULTS
from drills.k8s.objects import default_world
from drills.k8s.stack import render
from drills.k8s.toxiproxy import LINK_PORTS, TOXIPROXY, ClusterToxiproxy
from drills.sandbox.toxiproxy import LINKS
from gameday.faults import CATALOGUE, FaultType, NetworkParams
from gameday.files import load_model
from gameday.scenario import Scenario

REPO = Path(__file__).resolve().parents[2]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def env(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container.get("env") or []}


def test_the_backend_and_the_exporters_probes_reach_pgbouncer_and_the_upstream_through_toxiproxy() -> None:
    world = default_world()
    docs = render(world)
    config = json.loads(find(docs, "ConfigMap", "toxiproxy-config")["data"]["toxiproxy.json"])
    service = find(docs, "Service", TOXIPROXY)
    deployment = find(docs, "Deployment", TOXIPROXY)
    assert {d["metadata"]["namespace"] for d in (service, deployment)} == {world.namespace}
    service_ports = {p["port"] for p in service["spec"]["ports"]}
    # one proxy per link the fault names, listening on the port of the Service it fronts, upstream that Service
    assert {p["name"] for p in config} == set(LINKS.values()) and all(p["enabled"] for p in config)
    for proxy in config:
        host, port = proxy["upstream"].rsplit(":", 1)
        fronted = find(docs, "Service", host)  # a Service of the same namespace (no namespace spelled out)
        assert int(port) in {p["port"] for p in fronted["spec"]["ports"]}
        assert int(proxy["listen"].rsplit(":", 1)[1]) == int(port) == LINK_PORTS[proxy["name"]]
        assert int(port) in service_ports
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == image_tag() and container["imagePullPolicy"] == "IfNotPresent"
    assert "/etc/toxiproxy/toxiproxy.json" in container["args"]  # the links exist from the start
    backend = env(find(docs, "Deployment", world.backend_deployment))
    assert urlsplit(backend["DATABASE_URL"]).netloc.endswith(f"@{TOXIPROXY}:{LINK_PORTS['pgbouncer']}")
    assert backend["UPSTREAM_URL"] == f"http://{TOXIPROXY}:{LINK_PORTS['upstream']}"
    exporter = env(find(docs, "Deployment", "cluster-exporter"))
    assert exporter["LINK_DATABASE_URL"] == backend["DATABASE_URL"]
    assert exporter["LINK_UPSTREAM_URL"] == backend["UPSTREAM_URL"]


def test_another_runbooks_namespace_gets_its_own_toxiproxy() -> None:
    world = default_world().model_copy(update={"namespace": "payments", "monitoring_namespace": "payments-mon"})
    docs = [d for d in render(world) if d["metadata"]["name"] in (TOXIPROXY, "toxiproxy-config")]
    assert len(docs) == 3 and {d["metadata"]["namespace"] for d in docs} == {"payments"}
    assert default_world().namespace not in json.dumps(docs)  # no namespace spelled out in the template


def test_cluster_up_imports_and_loads_the_toxiproxy_image() -> None:
    from drills.k8s.cluster import KindCluster

    steps = KindCluster(name="plan-only").plan()
    load = next(s for s in steps if "ctr" in s.argv and "import" in s.argv)
    assert image_tag() in load.what
    assert any(s.argv[:2] == ("docker", "import") and s.argv[-1] == image_tag() for s in steps)


def test_the_network_fault_runs_on_both_targets_and_the_scenario_validates_on_kubernetes() -> None:
    assert CATALOGUE[FaultType.network].targets == ("local", "kubernetes")
    assert FaultType.network in KUBE_FAULTS.types()
    scenario = load_model(REPO / "scenarios" / "network-partition.yaml", Scenario)
    assert [str(t) for t in scenario.targets] == ["local", "kubernetes"]
    done = subprocess.run([GAMEDAY, "validate", "--no-promql", str(REPO / "scenarios" / "network-partition.yaml")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_both_targets_describe_and_add_the_same_toxics() -> None:
    from drills.faults.local import LOCAL_FAULTS

    params = NetworkParams(link="upstream", mode="latency", latency_ms=300, jitter_ms=0)
    assert KUBE_FAULTS[FaultType.network].describe(params) == LOCAL_FAULTS[FaultType.network].describe(params)
    assert describe_network(params) == "300 ms (+/- 0 ms) latency on the backend's link to upstream (Toxiproxy)"
    assert network_toxics(NetworkParams(mode="partition")) == [("upstream", "timeout", {"timeout": 0}),
                                                               ("downstream", "timeout", {"timeout": 0})]


def test_the_cluster_client_goes_through_the_api_servers_service_proxy_and_dry_run_prints() -> None:
    printed: list[str] = []

    def change(what: str, body: Any, send: Any) -> None:
        printed.append(f"{what}: {json.dumps(body)}")

    target = SimpleNamespace(namespace="hospital-erp-system", dry_run=True, _change=change)
    proxy = ClusterToxiproxy(target)  # type: ignore[arg-type]
    assert proxy.base == "/api/v1/namespaces/hospital-erp-system/services/toxiproxy:api/proxy"
    assert proxy.clear("pgbouncer") == []  # nothing read back in dry-run, nothing removed
    proxy.add("pgbouncer", "gameday-latency-downstream", "latency", "downstream", {"latency": 5})
    assert printed == ['Toxiproxy POST /proxies/pgbouncer/toxics: {"name": "gameday-latency-downstream", '
                       '"type": "latency", "stream": "downstream", "toxicity": 1.0, "attributes": {"latency": 5}}']


def test_toxiproxy_fails_a_dial_to_a_vanished_pod_fast_and_the_cluster_allows_it() -> None:
    """Toxiproxy dials its upstream in its accept loop with no timeout; with the kernel's default SYN retries
    one dial to a pod just gone held the link for over a minute (the kind pgbouncer-down drill never recovered).
    Every sysctl a rendered pod asks for must be allowed by the kubelet of the clusters gameday creates, or
    the pod is refused (SysctlForbidden)."""
    from drills.k8s.cluster import kind_config

    docs = render(default_world())
    asked = {s["name"]: s["value"] for d in docs if d["kind"] == "Deployment"
             for s in d["spec"]["template"]["spec"].get("securityContext", {}).get("sysctls", [])}
    assert asked.get("net.ipv4.tcp_syn_retries") == "1"
    kubelet = next(p for p in (yaml.safe_load(doc) for doc in kind_config("node:x", local_node=True)
                               ["kubeadmConfigPatches"]) if p["kind"] == "KubeletConfiguration")
    assert set(asked) <= set(kubelet["allowedUnsafeSysctls"])
    assert env(find(docs, "Deployment", TOXIPROXY))["LOG_LEVEL"] == "info"
