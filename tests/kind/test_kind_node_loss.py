"""Node loss on a kind cluster with workers (issue 22 item 7): one test, several checks, on one cluster.

``gameday cluster up --workers 2`` spreads the backend over two workers (flannel's host-gw routes between the
nodes' subnets) with a PodDisruptionBudget, and keeps everything else on the control plane.  A worker stopped
(``docker stop``) takes its backend pods; the gateway keeps answering from the other worker while Kubernetes
replaces them there, and the revert starts the node again.  A drain evicts only as the budget allows, and its
revert uncordons.  The autopilot takes the scenario's branch (a SEV-3 ticket, restore-node) and the scorer's branch
checks pass.  A drill killed with ``kill -9`` while its node is down leaves the record on the cluster, and the next
``gameday`` start brings the node back.

The cluster is its own (``gameday-workers-e2e``), created before the suite's single-node one (conftest orders this
module first: both would map 127.0.0.1:443) and deleted after this module; ``GAMEDAY_TEST_KIND_NAME`` /
``GAMEDAY_TEST_KIND_KUBECONFIG`` naming a running cluster with two workers reuses it instead.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    CLUSTER,
    GAMEDAY,
    REPO,
    UP_TIMEOUT_S,
    Kind,
    delete_stale_clusters,
    drill,
    kind_handle,
    require_docker,
    wait_fault_applied,
)
from gameday_testkit import finish_drill, kind_test_cluster

from drills.k8s import nodes
from drills.k8s.cluster import KindCluster
from drills.k8s.objects import INJECTION_ANNOTATION, NODE_LOSS_CONFIGMAP
from gameday.faults import FaultType
from gameday.journal import EventType, read_journal
from gameday.scenario import Fault
from gameday.scoring import score_journal

#: pytest-timeout counts the module's cluster (set-up ~3 min, deletion) in the one test's time: CI at 4267230 spent
#: 189 s setting up, 391 s in the checks and was cut at 600 s while deleting the cluster
pytestmark = [pytest.mark.kind, pytest.mark.slow, pytest.mark.timeout(1500)]
NAME = kind_test_cluster("workers")
WORKERS = 2
DRILL_TIMEOUT_S = float(os.environ.get("GAMEDAY_TEST_DRILL_TIMEOUT", "600"))


@pytest.fixture(scope="module")
def workers_kind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kind]:
    require_docker()
    home = tmp_path_factory.mktemp("kind-workers")
    reuse = os.environ.get("GAMEDAY_TEST_KIND_KUBECONFIG")
    name = os.environ.get("GAMEDAY_TEST_KIND_NAME", NAME) if reuse else NAME
    kubeconfig = Path(reuse) if reuse else home / "kubeconfig"
    cluster = KindCluster(name=name, kubeconfig=kubeconfig, workers=WORKERS,
                          echo=lambda line: print(line, file=sys.stderr))  # fmt: skip
    if reuse:
        target = cluster.target()
        if len(nodes.workers(target)) < WORKERS:
            target.close()
            pytest.skip(f"the reused cluster {name} has fewer than {WORKERS} workers (gameday cluster up --workers 2)")
    else:
        delete_stale_clusters(NAME, CLUSTER)  # this module runs first: any session cluster now is a stale one
        target = cluster.up(timeout=UP_TIMEOUT_S)
    with kind_handle(cluster, target, kubeconfig, home, owned=not reuse) as handle:
        yield handle


class Prober:
    """GET /health through the gateway's NodePort (the users' way in) every 0.2 s on a thread; keeps each answer."""

    def __init__(self, url: str) -> None:
        self.url = url + "/health"
        self.results: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    ok = resp.status == 200
            except Exception:  # a refused, reset or timed-out request is a failed one
                ok = False
            self.results.append((time.monotonic(), ok))
            self._stop.wait(0.2)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def share_ok(self, since: float = 0.0) -> float:
        tail = [ok for t, ok in self.results if t >= since]
        return sum(tail) / max(1, len(tail))

    def longest_silence(self) -> float:
        """The longest wall time between two answered requests (the service "down" for users that long)."""
        answered = [t for t, ok in self.results if ok]
        return max((b - a for a, b in itertools.pairwise(answered)), default=float("inf"))


def backend_nodes(kind: Kind) -> dict[str, int]:
    return nodes.backend_pods_by_node(kind.target)


def ready_backend_pods(kind: Kind) -> list[tuple[str, str]]:
    target = kind.target
    selector = ",".join(f"{k}={v}" for k, v in target.world.backend_labels.items())
    pods = target.core.list_namespaced_pod(target.namespace, label_selector=selector).items
    return [(p.metadata.name, p.spec.node_name) for p in pods if p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]


def wait_for(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(1.0)


def container_running(node: str) -> bool:
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", node], capture_output=True, text=True,
                         timeout=30)  # fmt: skip
    return out.stdout.strip() == "true"


def record(kind: Kind) -> str | None:
    cm = kind.target.core.read_namespaced_config_map(NODE_LOSS_CONFIGMAP, kind.target.namespace)
    return (cm.metadata.annotations or {}).get(INJECTION_ANNOTATION)


def test_a_lost_worker_is_survived_by_spread_and_budget_and_always_comes_back(workers_kind: Kind,
                                                                            tmp_path: Path) -> None:
    """One cluster, several checks (the kind lane's time): stop, drain, an autopilot drill, kill -9 with the node
    down."""
    kind, target = workers_kind, workers_kind.target
    for pending in target.pending_injections():  # a reused cluster's killed session: as the next start would
        target.revert(pending)
    try:
        check_node_loss(kind, tmp_path)
    finally:  # a failed check leaves no node down for the next test
        for pending in target.pending_injections():
            target.revert(pending)


def check_node_loss(kind: Kind, tmp_path: Path) -> None:
    target = kind.target
    workers = nodes.workers(target)
    assert len(workers) >= WORKERS
    assert nodes.spread_again(target)  # a reused cluster's last drill may have left it lopsided
    # the spread: the backend on every worker, nothing else of the stack on them; the budget
    spread = backend_nodes(kind)
    assert set(spread) == set(workers) and sum(spread.values()) == 3, spread
    pdb = kind.kubectl("-n", target.namespace, "get", f"pdb/{target.backend}", "-o",
                       "jsonpath={.spec.maxUnavailable}").stdout  # fmt: skip
    assert pdb == "1"
    app = target.endpoints().app_url

    # 1. stop: the worker with the most backend pods goes; the service keeps answering from the other one
    lost = max(spread, key=lambda n: spread[n])
    with Prober(app) as probe:
        time.sleep(2)
        rec = target.inject(Fault(type=FaultType.node_loss, params={"mode": "stop"}), drill_id="test")
        assert rec.revert_state["node"] == lost and record(kind) is not None
        assert not container_running(lost)
        stopped = time.monotonic()
        # NotReady within the node monitor grace period, the pods replaced after their 15 s toleration
        wait_for("three backend pods ready on the workers left",
                 lambda: len([n for _, n in ready_backend_pods(kind) if n != lost]) == 3, 240)
        rescheduled = time.monotonic() - stopped
        time.sleep(3)
        assert probe.share_ok(since=time.monotonic() - 3) == 1.0  # all answered once replaced
    print(f"node loss: replacement pods ready {rescheduled:.0f} s after the stop; {probe.share_ok():.0%} of "
          f"{len(probe.results)} requests answered, longest silence {probe.longest_silence():.1f} s", file=sys.stderr)
    # the other worker served all along: until the node is NotReady the gateway still sends a share of the requests
    # to the lost pods (those time out), but users are never without an answer for long
    assert probe.longest_silence() < 10.0, probe.results  # all three pods on the lost node: over a minute
    target.revert(rec)
    assert container_running(lost) and nodes.ready(target, lost) and record(kind) is None
    assert target.pending_injections() == []
    assert set(backend_nodes(kind)) == set(workers)  # the revert spread the backend over the workers again

    # 2. drain: cordoned, its backend pods evicted as the budget allows (one at a time); the revert uncordons
    spread = backend_nodes(kind)
    other = next(w for w in workers if w != lost)
    assert spread.get(other, 0) >= 1, spread
    with Prober(app) as probe:
        index = workers.index(other) + 1
        rec = target.inject(Fault(type=FaultType.node_loss, params={"mode": "drain", "worker": index}))
        assert rec.revert_state["node"] == other
        assert target.core.read_node(other).spec.unschedulable is True
        wait_for("three backend pods ready, none on the drained node",
                 lambda: len([n for _, n in ready_backend_pods(kind) if n != other]) == 3, 180)
    # within the budget two pods always serve: only a request that reaches a pod as it terminates fails (the gateway
    # follows the endpoints a moment late; 2 % measured)
    assert probe.share_ok() >= 0.9 and probe.longest_silence() < 5.0, probe.results
    target.revert(rec)
    assert not target.core.read_node(other).spec.unschedulable and record(kind) is None

    # 3. the autopilot on the decision tree's branch: SEV-3 ticket, BackendDown, restore-node, nothing left behind
    out = tmp_path / "autopilot"
    output = finish_drill(drill(kind, out, "node-loss", "--responder", "autopilot", "--time-scale", "120", "--seed",
                                "1"), DRILL_TIMEOUT_S)  # fmt: skip
    summaries = list(out.glob("*/summary.json"))
    assert summaries, f"no summary:\n{output[-4000:]}"
    summary = json.loads(summaries[0].read_text())
    assert summary["outcome"] == "closed" and summary["pending_after"] == [], f"{summary}\n{output[-4000:]}"
    events = read_journal(summary["journal"])
    assert any(e.type is EventType.alert_firing and e.data.get("alertname") == "BackendDown" for e in events)
    taken = [e.data.get("action") for e in events if e.type is EventType.action and e.actor.startswith("autopilot")]
    assert taken == ["restore-node"], taken
    (score,) = score_journal(summary["journal"]).incidents
    checks = {c.id: c for c in score.checks}
    for check_id in ("decision_branch", "remediation_choice", "verification_true", "severity_matches"):
        assert checks[check_id].status.value == "pass", (check_id, checks[check_id].feedback)
    assert all(container_running(w) and nodes.ready(target, w) for w in workers)

    # 4. kill -9 of a drill while its node is down: the next gameday start brings the node back
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [GAMEDAY, "drill", "run", str(REPO / "scenarios" / "node-loss.yaml"), "--target", "kubernetes",
         "--context", kind.context, "--kubeconfig", str(kind.kubeconfig), "--out", str(out), "--responder", "human",
         "--time-scale", "60"],
        env=kind.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        wait_fault_applied(out, proc, "node-loss")
        down = [w for w in workers if not container_running(w)]
        assert len(down) == 1 and record(kind) is not None, down
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no clean-up of its own: the next start must do it
        proc.wait(30)
    status = subprocess.run([GAMEDAY, "cluster", "status"], env=kind.env(), capture_output=True, text=True,
                            timeout=400)  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "reverted node-loss" in status.stderr, status.stderr
    assert container_running(down[0]) and nodes.ready(target, down[0]) and record(kind) is None
    assert target.pending_injections() == []
