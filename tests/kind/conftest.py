"""One real kind cluster for the test session: built here from Debian packages, PyPI and Go modules (nothing
pulled), created once, deleted at the end (``GAMEDAY_KEEP_CLUSTER=1`` keeps it for a post-mortem).
A developer iterating can reuse a running cluster: ``GAMEDAY_TEST_KIND_NAME=NAME
GAMEDAY_TEST_KIND_KUBECONFIG=FILE`` (then it is neither recreated nor deleted).

A machine without a Docker daemon skips these tests locally; with ``CI=true`` that is a failure (CI starts
its own daemon first: ``make docker-up``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gameday_testkit import kind_test_cluster

from drills.k8s.cluster import KindCluster
from drills.k8s.target import KubernetesTarget
from gameday.journal import Event, EventType, read_journal

REPO = Path(__file__).resolve().parents[2]
GAMEDAY = str(Path(sys.executable).parent / "gameday")
CLUSTER = os.environ.get("GAMEDAY_TEST_KIND_NAME", kind_test_cluster("session"))
#: Wall seconds for a cold cluster (images built) to be ready.
UP_TIMEOUT_S = float(os.environ.get("GAMEDAY_TEST_KIND_UP_TIMEOUT", "900"))


#: Modules that bring up a kind cluster of their own (with worker nodes) and delete it when they end: they run
#: before any other kind test, so their cluster and the session's never exist at once (both map 127.0.0.1:443).
OWN_CLUSTER_MODULES = ("test_kind_node_loss",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of :data:`OWN_CLUSTER_MODULES` first, the rest in their order (a stable sort)."""
    items.sort(key=lambda item: 0 if getattr(item.module, "__name__", "") in OWN_CLUSTER_MODULES else 1)


def delete_stale_clusters(*names: str) -> None:
    """Delete the test clusters a killed session left behind: Docker's data root is cached, so they start again
    with the daemon, and the first new cluster would find 127.0.0.1:443 held (CI at 9220fe7: the session's
    ``gameday-e2e`` from an earlier run stopped the node-loss cluster from being made)."""
    for name in names:
        stale = KindCluster(name=name, echo=lambda line: print(line, file=sys.stderr))
        if stale.exists():
            stale.delete()


def docker_problem() -> str | None:
    try:
        result = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                                text=True, timeout=30)
    except FileNotFoundError:
        return "no docker CLI"
    except subprocess.TimeoutExpired:
        return "`docker info` hangs"
    return None if result.returncode == 0 else "no Docker daemon answers (make docker-up)"


@dataclass
class Kind:
    cluster: KindCluster
    target: KubernetesTarget
    kubeconfig: Path
    state_dir: Path

    @property
    def context(self) -> str:
        return self.cluster.context

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of every ``gameday`` / ``kubectl`` subprocess: this cluster only, its own state dir."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GAMEDAY_KUBE", "GAMEDAY_ALLOWED"))}
        return {**base, "KUBECONFIG": str(self.kubeconfig), "GAMEDAY_KUBE_CONTEXT": self.context,
                "GAMEDAY_STATE_DIR": str(self.state_dir), "GAMEDAY_ACTOR": "tester", **extra}

    def responder_env(self) -> dict[str, str]:
        """A responder's shell: the kubeconfig whose current context is this cluster, kubectl first on PATH, so
        the runbook's commands run as written."""
        return {**self.env(), "KUBECONFIG": str(self.kubeconfig),
                "PATH": f"{Path(self.target.kubectl_bin).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.target.kubectl_argv(), *args], capture_output=True, text=True,
                                timeout=timeout, env=self.env())
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result


def require_docker() -> None:
    """A kind test without a Docker daemon fails under CI and is skipped (with the reason) elsewhere."""
    problem = docker_problem()
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"kind tests need a Docker daemon: {problem}")
        pytest.skip(f"kind tests need a Docker daemon: {problem}")


@pytest.fixture(scope="session")
def kind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kind]:
    require_docker()
    home = tmp_path_factory.mktemp("kind")
    reuse = os.environ.get("GAMEDAY_TEST_KIND_KUBECONFIG")
    kubeconfig = Path(reuse) if reuse else home / "kubeconfig"
    cluster = KindCluster(name=CLUSTER, kubeconfig=kubeconfig, echo=lambda line: print(line, file=sys.stderr))
    if not reuse:
        delete_stale_clusters(CLUSTER)
    target = cluster.up(timeout=UP_TIMEOUT_S)
    cluster.publish(hosts=True, trust=True)  # the runbook's URLs answer as written (plain curl, system trust)
    with kind_handle(cluster, target, kubeconfig, home, owned=not reuse) as handle:
        yield handle


@contextlib.contextmanager
def kind_handle(cluster: KindCluster, target: KubernetesTarget, kubeconfig: Path, home: Path, *,
                owned: bool) -> Iterator[Kind]:
    """A cluster's handle with a gameday state dir of its own under ``home``; afterwards the target's connections
    are closed and, when the tests made the cluster (``owned``), it is deleted unless GAMEDAY_KEEP_CLUSTER=1."""
    state = home / "state"
    state.mkdir()
    try:
        yield Kind(cluster, target, kubeconfig, state)
    finally:
        target.close()
        if owned and os.environ.get("GAMEDAY_KEEP_CLUSTER") != "1":
            cluster.delete()


def drill(kind: Kind, out: Path, scenario: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [GAMEDAY, "drill", "run", str(REPO / "scenarios" / f"{scenario}.yaml"), "--target", "kubernetes",
         "--context", kind.context, "--kubeconfig", str(kind.kubeconfig), "--out", str(out), *extra],
        env=kind.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def journal_of(out: Path, proc: subprocess.Popen[str]) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(out.glob("*/journal.jsonl"))
        if found:
            return found[0]
        assert proc.poll() is None, f"the drill exited early: {proc.communicate()[0][-3000:]}"
        time.sleep(0.2)
    raise AssertionError("the drill never created its journal")


def wait_event(path: Path, proc: subprocess.Popen[str], match: Callable[[Event], bool], what: str,
               timeout: float) -> Event:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in read_journal(path):
            if match(event):
                return event
        if proc.poll() is not None:
            raise AssertionError(f"the drill ended before {what}: {proc.communicate()[0][-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g} s\n{post_mortem(path, proc)}")


def post_mortem(path: Path, proc: subprocess.Popen[str]) -> str:
    """The journal's last events and the drill's own output (it is stopped for that): what a timeout needs."""
    tail = [f"  {e.seq} {e.type.value} {e.actor} {json.dumps(e.data)[:200]}" for e in read_journal(path)[-20:]]
    proc.send_signal(signal.SIGTERM)
    try:
        output = proc.communicate(timeout=120)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        output = proc.communicate()[0]
    return "journal tail:\n" + "\n".join(tail) + f"\ndrill output (last 4000 characters):\n{output[-4000:]}"


def wait_fault_applied(out: Path, proc: subprocess.Popen[str], fault: str, timeout: float = 300) -> None:
    """Until the fault's own record is in the cluster (the runner's "fault F applied" note): ``fault_injected`` is
    journaled just before the change, and a kill between the two leaves nothing to revert (CI at b480ce8)."""
    deadline = time.monotonic() + timeout
    while not [e for p in out.glob("*/journal.jsonl") for e in read_journal(p)
               if e.type is EventType.note and e.actor == "runner" and "record" in e.data
               and e.data.get("text") == f"fault {fault} applied"]:  # fmt: skip
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline, f"the fault was not applied within {timeout:g} s"
        time.sleep(0.5)
