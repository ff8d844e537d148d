"""``gameday cluster ...`` and ``gameday drill run --target kubernetes`` as a user runs them (subprocesses of
the real CLI) against the real test control plane: status, guardrails, remediations, the kind plan."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from gameday_testkit import never, wait_for

from drills.active import ActiveDrill, claim
from drills.k8s.objects import default_world
from drills.k8s.stack import backend_image as release_image
from drills.k8s.target import KubernetesTarget
from gameday.faults import FaultType
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.releases import HEALTHY, LEAKY, RELEASES
from gameday.scenario import Fault

WORLD = default_world()  # the shipped runbook's names: deployment, selector, namespaces
BACKEND, NAMESPACE = WORLD.backend_deployment, WORLD.namespace

pytestmark = pytest.mark.k8s
REPO = Path(__file__).resolve().parents[2]
CONTEXT = "kind-gameday-test"
T = TypeVar("T")



def gameday(*args: str, env: dict[str, str] | None = None, path: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """The real CLI in a fresh process; no kube context from the developer's environment leaks in."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAMEDAY_KUBE", "GAMEDAY_ALLOWED", "KUBECONFIG"))}
    full = {**base, **(env or {})}
    if path is not None:
        full["PATH"] = path
    return subprocess.run([sys.executable, "-m", "gameday.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=full)  # fmt: skip


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {text!r}"
    return lines[0]




@pytest.fixture
def target(erp_stack: Any) -> Iterator[KubernetesTarget]:
    t = KubernetesTarget(CONTEXT, kubeconfig=erp_stack.kubeconfig, kubectl=erp_stack.bin("kubectl"))
    t.wait_ready(120)
    yield t
    for record in t.pending_injections():  # never leak a fault into the next test
        t.revert(record)
    t.wait_ready(120)
    t.close()


def kube_args(cp: Any, context: str = CONTEXT) -> list[str]:
    return ["--kubeconfig", str(cp.kubeconfig), "--context", context]


def backend_image(t: KubernetesTarget) -> str:
    return str(t.apps.read_namespaced_deployment(BACKEND, NAMESPACE).spec.template.spec.containers[0].image)


class CountingServer:
    """A TCP listener on 127.0.0.1 that only counts connections (stands in for a production API server)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
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


@pytest.fixture
def prod_kubeconfig(k8s_control_plane: Any, tmp_path: Path) -> Iterator[tuple[Path, CountingServer]]:
    """The test kubeconfig with ``prod-cluster`` pointing at a connection counter."""
    server = CountingServer()
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(k8s_control_plane.kubeconfig_dict(prod_server=f"https://127.0.0.1:{server.port}")))
    try:
        yield path, server
    finally:
        server.close()


# ---------------------------------------------------------------------------------------------- status


def test_status_json_shows_workloads_pods_and_pending_faults(erp_stack: Any, target: KubernetesTarget) -> None:
    result = gameday("cluster", "status", "--json", *kube_args(erp_stack))
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert (status["context"], status["namespace"], status["ready"]) == (CONTEXT, NAMESPACE, True)
    backend = next(w for w in status["workloads"] if w["kind"] == "Deployment" and w["name"] == BACKEND)
    assert (backend["ready"], backend["desired"], backend["version"]) == (3, 3, HEALTHY.version)
    assert backend["images"] == [release_image(HEALTHY)]
    assert {w["name"] for w in status["workloads"]} >= {"pgbouncer", "postgres", "prometheus", "alertmanager"}
    pods = [p for p in status["pods"] if p["app"] == BACKEND]
    assert len(pods) == 3
    assert all(p["ready"] and p["state"] == "Running" and p["phase"] == "Running" for p in pods)
    assert all(p["restarts"] == 0 and p["version"] == HEALTHY.version and p["containers_ready"] == "1/1" for p in pods)
    assert status["pending_injections"] == []

    # a crash-looping release: the pods say so, and the fault is listed from the object's annotation
    record = target.inject(Fault(type=FaultType.crashloop), drill_id="d-status")
    wait_for(lambda: any(r.state == "CrashLoopBackOff" for r in target.replicas()), "a crash-looping pod", timeout=60)
    status = json.loads(gameday("cluster", "status", "--json", *kube_args(erp_stack)).stdout)
    crashing = [p for p in status["pods"] if p["state"] == "CrashLoopBackOff"]
    assert crashing and not any(p["ready"] for p in crashing)
    assert [(r["id"], r["fault"], r["object"], r["drill_id"], r["runner_alive"])
            for r in status["pending_injections"]] == [(record.id, "crashloop", f"deployment/{BACKEND}", "d-status",
                                                        True)]  # fmt: skip
    assert status["ready"] is False

    text = gameday("cluster", "status", *kube_args(erp_stack))
    assert text.returncode == 0, text.stderr
    assert f"deployment/{BACKEND}" in text.stdout and "CrashLoopBackOff" in text.stdout
    assert f"pending gameday fault {record.id}: crashloop on deployment/{BACKEND} (drill d-status" in text.stdout


def test_status_refuses_a_context_off_the_allowlist_without_a_connection(
    prod_kubeconfig: tuple[Path, CountingServer],
) -> None:
    kubeconfig, server = prod_kubeconfig
    result = gameday("cluster", "status", "--kubeconfig", str(kubeconfig), "--context", "prod-cluster")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "refusing kube context 'prod-cluster'" in line and "['kind-*']" in line
    assert result.stdout == ""
    # the environment's allowlist is honoured too, under both names
    for name in ("GAMEDAY_ALLOWED_CONTEXTS", "GAMEDAY_KUBE_ALLOWED_CONTEXTS"):
        refused = gameday("cluster", "status", "--kubeconfig", str(kubeconfig), "--context", "prod-cluster",
                          env={name: "staging-*,kind-*"})  # fmt: skip
        assert refused.returncode == 2 and "['staging-*', 'kind-*']" in one_line(refused.stderr)
    never(lambda: server.connections, "a connection to the refused prod server", window=1.0)

    # allowed on purpose, the counter sees the traffic (and an unreachable API is one line, no traceback)
    allowed = gameday("cluster", "status", "--kubeconfig", str(kubeconfig), "--context", "prod-cluster",
                      "--allow-context", "staging", "--allow-context", "prod-*")  # fmt: skip
    assert allowed.returncode == 2
    assert "kube context prod-cluster: cannot reach the API server" in one_line(allowed.stderr)
    wait_for(lambda: server.connections > 0, "a connection to the fake prod server", timeout=5)


def test_drill_run_with_a_refused_context_stops_before_anything(
    prod_kubeconfig: tuple[Path, CountingServer], tmp_path: Path
) -> None:
    kubeconfig, server = prod_kubeconfig
    out, state = tmp_path / "out", tmp_path / "state"
    result = gameday(
        "drill", "run", "scenarios/crashloop.yaml", "--target", "kubernetes", "--context", "prod-cluster",
        "--kubeconfig", str(kubeconfig), "--out", str(out), env={"GAMEDAY_STATE_DIR": str(state)},
    )  # fmt: skip
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "refusing kube context 'prod-cluster'" in line and "kind-*" in line
    assert not out.exists()
    assert not list(state.rglob("*.json")), "no active-drill marker may be written for a refused context"
    never(lambda: server.connections, "a connection to the refused prod server", window=1.0)


def test_drill_run_options_reach_the_guard_and_the_target(erp_stack: Any, tmp_path: Path) -> None:
    """--allow-context replaces the default list, --kubeconfig is the file read; make_target passes all four."""
    from drills.targets.factory import make_target

    env = {"GAMEDAY_STATE_DIR": str(tmp_path / "state")}
    base = ["drill", "run", "scenarios/crashloop.yaml", "--target", "kubernetes", "--out", str(tmp_path / "out")]
    refused = gameday(*base, *kube_args(erp_stack), "--allow-context", "prod-*", env=env)
    assert refused.returncode == 2
    assert "refusing kube context 'kind-gameday-test': not on the allowlist ['prod-*']" in one_line(refused.stderr)
    missing = gameday(*base, "--kubeconfig", str(tmp_path / "none"), "--context", CONTEXT, env=env)
    assert missing.returncode == 2 and f"cannot read kubeconfig {tmp_path / 'none'}" in one_line(missing.stderr)
    assert not (tmp_path / "out").exists()

    printed: list[str] = []
    target = make_target("kubernetes", context=CONTEXT, kubeconfig=erp_stack.kubeconfig, allowed_contexts=["kind-*"],
                         dry_run=True)  # fmt: skip
    assert isinstance(target, KubernetesTarget) and target.dry_run and target.context == CONTEXT
    target.printer = printed.append
    before = backend_image(target)
    target.inject(Fault(type=FaultType.connection_pool_leak))
    assert len(printed) == 3 and backend_image(target) == before and target.pending_injections() == []
    target.close()


def test_drill_run_kube_options_are_refused_for_the_local_target(tmp_path: Path) -> None:
    result = gameday("drill", "run", "scenarios/crashloop.yaml", "--context", CONTEXT, "--dry-run",
                     "--out", str(tmp_path / "out"), env={"GAMEDAY_STATE_DIR": str(tmp_path / "state")})  # fmt: skip
    assert result.returncode == 2
    assert "--context, --dry-run only apply to --target kubernetes" in one_line(result.stderr)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- remediations


def test_rollout_undo_restores_the_previous_image_and_is_journaled(
    erp_stack: Any, target: KubernetesTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = target.inject(Fault(type=FaultType.connection_pool_leak), drill_id="d-undo")
    wait_for(lambda: target.is_ready() and {r.version for r in target.replicas()} == {LEAKY.version}, "leak out",
             timeout=90)
    assert backend_image(target) == release_image(LEAKY)

    # a running Kubernetes drill (this process plays its runner): remediations land in its journal
    state = tmp_path / "state"
    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(state))
    journal = JournalWriter(tmp_path / "journal.jsonl", "d-undo")
    journal.emit(EventType.journal_started, "runner", {"source": "drill", "time_scale": 60.0, "runbook": ""})
    journal.close()
    claim(ActiveDrill(drill_id="d-undo", incident="d-undo", journal=str(journal.path), out_dir=str(tmp_path),
                      target="kubernetes", target_key=target.key, scenario="connection-pool-leak", time_scale=60.0,
                      started_at=journal.start, runner_pid=os.getpid()))  # fmt: skip
    env = {"GAMEDAY_STATE_DIR": str(state)}

    dry = gameday("cluster", "scale", "backend", "--replicas", "5", "--dry-run", *kube_args(erp_stack), env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"[dry-run] {CONTEXT}/{NAMESPACE}: patch deployment/{BACKEND} (scale)")
    assert target.apps.read_namespaced_deployment(BACKEND, NAMESPACE).spec.replicas == 3

    undo = gameday("cluster", "rollout", "undo", "backend", "--actor", "alice", *kube_args(erp_stack), env=env)
    assert undo.returncode == 0, undo.stderr
    assert one_line(undo.stdout) == f"deployment/{BACKEND} rolled back to {HEALTHY.version} (journaled)"
    assert backend_image(target) == release_image(HEALTHY)
    wait_for(lambda: target.is_ready() and {r.version for r in target.replicas()} == {HEALTHY.version}, "rollback",
             timeout=90)

    actions = [e for e in read_journal(journal.path) if e.type is EventType.action]
    assert [(e.actor, e.data["kind"], e.data["target"]) for e in actions] == [
        ("alice", "rollback", f"deployment/{BACKEND}")
    ]  # the dry run made no change, so it journaled none
    history = gameday("cluster", "rollout", "history", "backend", *kube_args(erp_stack), env=env)
    assert history.stdout.strip().splitlines()[-1].split()[-1] == HEALTHY.version
    target.revert(record)


def test_wrong_deployment_name_is_one_line(erp_stack: Any) -> None:
    result = gameday("cluster", "restart", "frontend", *kube_args(erp_stack))
    assert result.returncode == 2
    assert "unknown deployment 'frontend'; expected backend or pgbouncer" in one_line(result.stderr)


# ---------------------------------------------------------------------------------------------- up / down


def test_up_on_an_existing_allowed_cluster_applies_idempotently(erp_stack: Any) -> None:
    path = f"{Path(erp_stack.bin('kubectl')).parent}:{os.environ.get('PATH', '')}"
    result = gameday("cluster", "up", *kube_args(erp_stack), "--timeout", "120", path=path, timeout=180)
    assert result.returncode == 0, result.stderr
    assert one_line(result.stdout) == f"stack ready in {NAMESPACE} on {CONTEXT}"


def _fake_tools(folder: Path, log: Path) -> str:
    """docker, kind, kubectl and go that only write down that they ran."""
    folder.mkdir()
    for tool in ("docker", "kind", "kubectl", "go"):
        script = folder / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(folder)


def test_up_dry_run_prints_the_build_create_load_apply_plan_and_runs_none(tmp_path: Path) -> None:
    log = tmp_path / "ran.log"
    bin_dir = _fake_tools(tmp_path / "bin", log)
    result = gameday("cluster", "up", "--name", "drill-test", "--dry-run", path=bin_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert all(line.startswith("[dry-run] ") for line in lines)
    expected = [
        "docker info",
        "go install sigs.k8s.io/kind@v0.33.0",
        "tools/kind/node-image.sh",
        *(f"docker build -t {release_image(r)}" for r in RELEASES.values()),  # one image per release
        "docker build -t gameday/postgres:15",
        # the images' import begins beside the creation, as soon as the node's containerd answers
        "docker exec -i drill-test-control-plane ctr --namespace=k8s.io images import",
        "create cluster --name drill-test --config",
        "configmap/coredns",
        "kubectl --context kind-drill-test apply --server-side -f -",
    ]
    position = -1
    for fragment in expected:  # each step once, in this order
        hits = [i for i, line in enumerate(lines) if fragment in line]
        assert len(hits) == 1 and hits[0] > position, (fragment, lines)
        position = hits[0]
    [load] = [line for line in lines if "images import" in line]
    assert release_image(HEALTHY) in load and "gameday/postgres:15" in load
    assert not log.exists(), log.read_text()
    pulled = gameday("cluster", "up", "--name", "drill-test", "--dry-run", "--pull", path=bin_dir)
    assert "gameday/postgres:15" not in pulled.stdout and release_image(HEALTHY) in pulled.stdout


def test_up_and_down_without_docker_are_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    up = gameday("cluster", "up", "--name", "drill-test", path=str(empty))
    assert up.returncode == 2
    assert "needs docker (install Docker" in one_line(up.stderr)
    down = gameday("cluster", "down", "--name", "drill-test", path=str(empty))
    assert down.returncode == 2 and "needs docker (install Docker" in one_line(down.stderr)
    refused = gameday("cluster", "up", "--name", "drill-test", "--allow-context", "prod-*", path=str(empty))
    assert refused.returncode == 2 and "refusing kube context 'kind-drill-test'" in one_line(refused.stderr)


def test_down_with_a_context_deletes_only_the_given_namespace(erp_stack: Any) -> None:
    scratch = f"gd-down-{os.getpid()}"
    erp_stack.kubectl("create", "namespace", scratch)
    try:
        _down_scratch(erp_stack, scratch)
    finally:
        erp_stack.kubectl("delete", "namespace", scratch, "--ignore-not-found", "--wait=false", check=False)


def _down_scratch(erp_stack: Any, scratch: str) -> None:
    args = ["cluster", "down", *kube_args(erp_stack), "--namespace", scratch]
    dry = gameday(*args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert one_line(dry.stdout).startswith(f"[dry-run] {CONTEXT}/{scratch}: delete namespace {scratch}")
    assert erp_stack.kubectl("get", "namespace", scratch, "-o", "jsonpath={.status.phase}").stdout == "Active"
    down = gameday(*args)
    assert down.returncode == 0, down.stderr
    assert one_line(down.stdout) == f"namespace {scratch} deleted on {CONTEXT} (pending faults reverted first)"
    gone = erp_stack.kubectl("get", "namespace", scratch, "-o", "jsonpath={.status.phase}", check=False)
    assert gone.returncode != 0 or gone.stdout == "Terminating"
    assert erp_stack.kubectl("get", "namespace", NAMESPACE, "-o", "jsonpath={.status.phase}").stdout == "Active"
