"""Bring up the Hospital-ERP stack on a local kind cluster: create, build, load, apply, wait.

Why here and not in a shell script: the same steps run from ``gameday`` commands and from the kind
end-to-end test, and every failure must be one clear :class:`TargetError` line (docker or kind
missing, a build that failed) instead of a traceback.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.k8s.target import BACKEND, IMAGE_REPO, LEAKY_VERSION, MANIFESTS, NAMESPACE, KubernetesTarget
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


@dataclass(frozen=True)
class Step:
    """One command of ``gameday cluster up``: what it is for and the exact argv (printed by ``--dry-run``)."""

    what: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.what}: {shlex.join(self.argv)}"


@dataclass
class KindCluster:
    """A kind cluster named ``name``; its kube context is ``kind-<name>`` (allowed by default).

    ``kubeconfig`` is where kind writes the context (default: ``$KUBECONFIG`` or ``~/.kube/config``);
    ``echo`` reports each step as it starts (the CLI prints them, tests stay quiet).
    """

    name: str = "gameday"
    versions: Sequence[str] = field(default_factory=lambda: (HEALTHY_VERSION, LEAKY_VERSION))
    kind_config: Path = KIND_CONFIG
    kubeconfig: Path | None = None
    echo: Callable[[str], None] = field(default=lambda _line: None)

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    def _kubeconfig_args(self) -> list[str]:
        return ["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig else []

    # ---------------------------------------------------------------- the plan (shared by up and --dry-run)
    def create_step(self, kind: str = "kind") -> Step:
        return Step("create the kind cluster (skipped when it exists)", (
            kind, "create", "cluster", "--name", self.name, "--config", str(self.kind_config), "--wait", "120s",
            *self._kubeconfig_args()))  # fmt: skip

    def build_steps(self, docker: str = "docker") -> list[Step]:
        """``docker build`` the backend once per release tag (the tag selects the release's behaviour)."""
        steps = []
        for version in self.versions:
            tag = f"{IMAGE_REPO}:{version}"
            argv = (docker, "build", "-f", str(DOCKERFILE), "--build-arg", f"APP_VERSION={version}", "-t", tag,
                    str(REPO))  # fmt: skip
            steps.append(Step(f"build {tag}", argv))
        return steps

    def load_steps(self, kind: str = "kind") -> list[Step]:
        return [
            Step(
                f"load {IMAGE_REPO}:{version} into the cluster",
                (kind, "load", "docker-image", f"{IMAGE_REPO}:{version}", "--name", self.name),
            )
            for version in self.versions
        ]

    def apply_steps(self, kubectl: str = "kubectl", namespace: str = NAMESPACE) -> list[Step]:
        """What :meth:`KubernetesTarget.up` does, as the equivalent kubectl commands."""
        base = (kubectl, "--context", self.context, *self._kubeconfig_args())
        return [
            Step(
                "render the manifests (local, checked to stay in the drill's namespace)",
                (*base, "kustomize", str(MANIFESTS)),
            ),
            Step(
                "server-side apply them",
                (*base, "apply", "--server-side", "--force-conflicts", "--field-manager=gameday", "-f", "-"),
            ),
            Step(
                f"wait until every Deployment and StatefulSet in {namespace} is ready",
                (*base, "-n", namespace, "rollout", "status", f"deployment/{BACKEND}"),
            ),
        ]

    def plan(self) -> list[Step]:
        """Every command :meth:`up` runs, in order (with the tools' paths when they are installed)."""
        tool = {name: shutil.which(name) or name for name in ("docker", "kind", "kubectl")}
        return [
            Step("check the Docker daemon answers", (tool["docker"], "info", "--format", "{{.ServerVersion}}")),
            self.create_step(tool["kind"]),
            *self.build_steps(tool["docker"]),
            *self.load_steps(tool["kind"]),
            *self.apply_steps(tool["kubectl"]),
        ]

    # ---------------------------------------------------------------- doing it
    def exists(self) -> bool:
        tools = require_tools("kind")
        return self.name in _run([tools["kind"], "get", "clusters"], "kind get clusters").split()

    def create(self) -> None:
        """``kind create cluster`` unless it already exists (idempotent)."""
        tools = require_tools("docker", "kind")
        if self.exists():
            self.echo(f"kind cluster {self.name!r} exists")
            return
        step = self.create_step(tools["kind"])
        self.echo(str(step))
        _run(step.argv, "kind create cluster")

    def check_docker(self) -> None:
        """A docker CLI without a daemon fails late and obscurely in ``kind create``: ask first."""
        docker = require_tools("docker")["docker"]
        _run([docker, "info", "--format", "{{.ServerVersion}}"], "docker info (is the Docker daemon running?)",
             timeout=60)  # fmt: skip

    def build_images(self) -> None:
        """``docker build`` the backend once per release tag."""
        tools = require_tools("docker")
        for step in self.build_steps(tools["docker"]):
            self.echo(str(step))
            _run(step.argv, f"docker {step.what}")

    def load_images(self) -> None:
        """``kind load docker-image`` every release tag (kind nodes cannot pull from this machine)."""
        tools = require_tools("kind")
        for step in self.load_steps(tools["kind"]):
            self.echo(str(step))
            _run(step.argv, f"kind {step.what}")

    def delete(self) -> None:
        tools = require_tools("kind")
        argv = [tools["kind"], "delete", "cluster", "--name", self.name, *self._kubeconfig_args()]
        self.echo(shlex.join(argv))
        _run(argv, "kind delete cluster")

    def target(self, **kwargs: Any) -> KubernetesTarget:
        """The drill target for this cluster (kubeconfig as kind wrote it)."""
        kwargs.setdefault("kubectl", require_tools("kubectl")["kubectl"])
        kwargs.setdefault("kubeconfig", self.kubeconfig)
        return KubernetesTarget(self.context, **kwargs)

    def up(self, timeout: float = 600.0, **target_kwargs: Any) -> KubernetesTarget:
        """Everything a drill needs: cluster, images, manifests applied, all workloads ready.

        ``target_kwargs`` go to :class:`KubernetesTarget` (e.g. ``allowed_contexts``).
        """
        require_tools("docker", "kind", "kubectl")
        self.check_docker()
        self.create()
        self.build_images()
        self.load_images()
        target = self.target(manifests=MANIFESTS, **target_kwargs)
        self.echo(f"apply {MANIFESTS.relative_to(REPO)} to {self.context} and wait until ready")
        target.up(timeout=timeout)
        return target


def describe() -> str:
    """One line for ``gameday`` help output."""
    return f"kind cluster 'gameday' running deployment/{BACKEND} from {MANIFESTS.relative_to(REPO)}"
