"""Bring up the Hospital-ERP stack on a local kind cluster: create, build, load, apply, wait.

Why here and not in a shell script: the same steps run from ``gameday`` commands and from the kind
end-to-end test, and every failure must be one clear :class:`TargetError` line (docker or kind
missing, a build that failed) instead of a traceback.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drills.k8s.target import BACKEND, IMAGE_REPO, LEAKY_VERSION, MANIFESTS, KubernetesTarget
from gameday.errors import TargetError

REPO = Path(__file__).resolve().parents[2]
KIND_CONFIG = Path(__file__).resolve().parent / "kind-config.yaml"
DOCKERFILE = Path(__file__).resolve().parent / "Dockerfile"
HEALTHY_VERSION = "v1.2.2"


def require_tools(*names: str) -> dict[str, str]:
    """Paths of the tools, or one error naming every missing one and where it comes from."""
    found = {name: shutil.which(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        hints = {
            "docker": "install Docker (and start its daemon)",
            "kind": "install kind (https://kind.sigs.k8s.io)",
            "kubectl": "install kubectl",
        }
        raise TargetError("the kind target needs " + ", ".join(f"{m} ({hints.get(m, 'not on PATH')})" for m in missing))
    return {name: str(path) for name, path in found.items()}


def _run(cmd: Sequence[str], what: str, *, timeout: float = 1800.0, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except FileNotFoundError:
        raise TargetError(f"{what}: {cmd[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise TargetError(f"{what}: timed out after {timeout:.0f}s") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise TargetError(f"{what} failed: " + " | ".join(tail))
    return result.stdout


@dataclass
class KindCluster:
    """A kind cluster named ``name``; its kube context is ``kind-<name>`` (allowed by default)."""

    name: str = "gameday"
    versions: Sequence[str] = field(default_factory=lambda: (HEALTHY_VERSION, LEAKY_VERSION))
    kind_config: Path = KIND_CONFIG

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    def exists(self) -> bool:
        tools = require_tools("kind")
        return self.name in _run([tools["kind"], "get", "clusters"], "kind get clusters").split()

    def create(self) -> None:
        """``kind create cluster`` unless it already exists (idempotent)."""
        tools = require_tools("docker", "kind")
        if self.exists():
            return
        _run(
            [tools["kind"], "create", "cluster", "--name", self.name, "--config", str(self.kind_config),
             "--wait", "120s"],
            "kind create cluster",
        )  # fmt: skip

    def build_images(self) -> list[str]:
        """``docker build`` the backend once per release tag (the tag selects the release's behaviour)."""
        tools = require_tools("docker")
        tags = []
        for version in self.versions:
            tag = f"{IMAGE_REPO}:{version}"
            _run(
                [tools["docker"], "build", "-f", str(DOCKERFILE), "--build-arg", f"APP_VERSION={version}",
                 "-t", tag, str(REPO)],
                f"docker build {tag}",
            )  # fmt: skip
            tags.append(tag)
        return tags

    def load_images(self, tags: Sequence[str]) -> None:
        tools = require_tools("kind")
        for tag in tags:
            _run([tools["kind"], "load", "docker-image", tag, "--name", self.name], f"kind load {tag}")

    def delete(self) -> None:
        tools = require_tools("kind")
        _run([tools["kind"], "delete", "cluster", "--name", self.name], "kind delete cluster")

    def target(self, **kwargs: object) -> KubernetesTarget:
        """The drill target for this cluster (kubeconfig from ``$KUBECONFIG`` or ``~/.kube/config``)."""
        kwargs.setdefault("kubectl", require_tools("kubectl")["kubectl"])
        return KubernetesTarget(self.context, **kwargs)  # type: ignore[arg-type]

    def up(self, timeout: float = 600.0) -> KubernetesTarget:
        """Everything a drill needs: cluster, images, manifests applied, all workloads ready."""
        require_tools("docker", "kind", "kubectl")
        self.create()
        self.load_images(self.build_images())
        target = self.target(manifests=MANIFESTS)
        target.up(timeout=timeout)
        return target


def describe() -> str:
    """One line for ``gameday`` help output."""
    return f"kind cluster 'gameday' running deployment/{BACKEND} from {MANIFESTS.relative_to(REPO)}"
