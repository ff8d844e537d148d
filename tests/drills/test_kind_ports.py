"""Each kind cluster's host ports: the user's ``gameday`` cluster on the documented ports, every other cluster on
its own block (a test run never collides with a cluster kept up), and a taken port refused with its holder."""

from __future__ import annotations

import socket

import pytest

from drills.k8s import endpoints
from drills.k8s.cluster import KindCluster, kind_config
from gameday.errors import TargetError


def test_the_default_cluster_keeps_the_documented_ports() -> None:
    ports = endpoints.ports_for_cluster("gameday")
    assert (ports.app, ports.prometheus, ports.alertmanager, ports.webhook) == (17080, 17090, 17093, 17095)
    assert endpoints.ports_for_context("kind-gameday") == ports
    assert endpoints.ports_for_context("prod-eu") == ports  # a real cluster: port-forwards on the base ports


def test_other_clusters_get_their_own_block_stable_by_name() -> None:
    # 443 is every cluster's: the runbook's URLs name no port (so one cluster at a time serves them)
    default = set(endpoints.ports_for_cluster("gameday").node_ports) - {443}
    for name in ("gameday-e2e", "gameday-bench", "gameday-test", "alice"):
        ports = endpoints.ports_for_cluster(name)
        assert ports == endpoints.ports_for_cluster(name) == endpoints.ports_for_context(f"kind-{name}")
        own = set(ports.node_ports) - {ports.https}
        assert ports.https == 443 and not default & own
        assert all(17100 <= p <= 17279 for p in (*own, ports.webhook))
    assert endpoints.ports_for_cluster("gameday-e2e") != endpoints.ports_for_cluster("gameday-bench")


def test_kind_config_maps_the_clusters_own_ports_on_loopback() -> None:
    config = kind_config("img", local_node=True, name="gameday-e2e")
    mappings = config["nodes"][0]["extraPortMappings"]
    ports = endpoints.ports_for_cluster("gameday-e2e")
    assert {(m["hostPort"], m["containerPort"]) for m in mappings} == set(ports.node_ports.items())
    assert {m["listenAddress"] for m in mappings} == {"127.0.0.1"}


def test_a_taken_port_is_refused_before_kind_starts_a_node() -> None:
    name = "gameday-porttest"
    port = endpoints.ports_for_cluster(name).prometheus
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        refused = rf"cannot create kind cluster 'gameday-porttest': 127.0.0.1:{port} is taken"
        with pytest.raises(TargetError, match=refused):
            KindCluster(name=name).check_ports_free()
    try:  # free again: no complaint about it (443, every cluster's, may be held by a cluster running beside)
        KindCluster(name=name).check_ports_free()
    except TargetError as exc:
        assert f"127.0.0.1:{endpoints.HTTPS_PORT} is taken" in str(exc), exc


def test_the_node_loss_clusters_ports_are_a_block_of_their_own() -> None:
    """tests/kind/test_kind_node_loss.py's cluster runs while the main lane runs this file and the kind lane's cluster
    comes after it: its block must be no other test cluster's (the port test's above, the suite's, the bench's)."""
    own = endpoints.ports_for_cluster("gameday-workers-e2e").app
    others = ("gameday-porttest", "gameday-e2e", "gameday-test", "gameday-bench", "gameday-drift", "gameday-fronttest",
              "gameday-hoststest", "gameday-tlstest")
    assert own not in {endpoints.ports_for_cluster(name).app for name in others}
