"""One real kind cluster for the test session: built here from Debian packages, PyPI and Go modules (nothing
pulled), created once, deleted at the end (``GAMEDAY_KEEP_CLUSTER=1`` keeps it for a post-mortem).
A developer iterating can reuse a running cluster: ``GAMEDAY_TEST_KIND_NAME=NAME
GAMEDAY_TEST_KIND_KUBECONFIG=FILE`` (then it is neither recreated nor deleted).

A machine without a Docker daemon skips these tests locally; with ``CI=true`` that is a failure (CI starts
its own daemon first: ``make docker-up``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drills.k8s.cluster import KindCluster
from drills.k8s.target import KubernetesTarget

REPO = Path(__file__).resolve().parents[2]
GAMEDAY = str(Path(sys.executable).parent / "gameday")
CLUSTER = os.environ.get("GAMEDAY_TEST_KIND_NAME", "gameday-e2e")
#: Wall seconds for a cold cluster (images built) to be ready.
UP_TIMEOUT_S = float(os.environ.get("GAMEDAY_TEST_KIND_UP_TIMEOUT", "900"))


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

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.target.kubectl_argv(), *args], capture_output=True, text=True,
                                timeout=timeout, env=self.env())
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result


@pytest.fixture(scope="session")
def kind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kind]:
    problem = docker_problem()
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"kind tests need a Docker daemon: {problem}")
        pytest.skip(f"kind tests need a Docker daemon: {problem}")
    home = tmp_path_factory.mktemp("kind")
    reuse = os.environ.get("GAMEDAY_TEST_KIND_KUBECONFIG")
    kubeconfig = Path(reuse) if reuse else home / "kubeconfig"
    cluster = KindCluster(name=CLUSTER, kubeconfig=kubeconfig, echo=lambda line: print(line, file=sys.stderr))
    if not reuse and cluster.exists():  # a cluster an earlier, killed session left behind
        cluster.delete()
    target = cluster.up(timeout=UP_TIMEOUT_S)
    cluster.publish(hosts=True, trust=True)  # the runbook's URLs answer as written (plain curl, system trust)
    state = home / "state"
    state.mkdir()
    try:
        yield Kind(cluster, target, kubeconfig, state)
    finally:
        target.close()
        if not reuse and os.environ.get("GAMEDAY_KEEP_CLUSTER") != "1":
            cluster.delete()
