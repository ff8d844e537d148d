"""The few Docker operations the build needs: does a daemon answer, which image has which key, import a
root filesystem, build on a local base (the classic builder: it never looks a local base image up in a
registry)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from drills.k8s.build.progress import Progress, run_logged
from drills.k8s.build.versions import KEY_LABEL
from gameday.errors import TargetError


def docker_bin() -> str:
    path = shutil.which("docker")
    if path is None:
        raise TargetError("the kind target needs docker (install Docker and start its daemon)")
    return path


def daemon_version() -> str:
    """The daemon's version, or one clear error: a docker CLI alone fails late and obscurely in kind."""
    try:
        result = subprocess.run([docker_bin(), "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                                text=True, timeout=30)
    except subprocess.TimeoutExpired:
        result = None
    if result is None or result.returncode != 0 or not result.stdout.strip():
        raise TargetError("no Docker daemon answers (`docker info` fails); start one first — on a machine "
                          "without one (CI): `make docker-up` (tools/kind/dockerd.sh up)")
    return result.stdout.strip()


def image_key(tag: str) -> str | None:
    """The build key an image carries, ``""`` for an image without one, ``None`` when there is no image."""
    result = subprocess.run([docker_bin(), "image", "inspect", "-f", f'{{{{index .Config.Labels "{KEY_LABEL}"}}}}',
                             tag], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return None
    value = result.stdout.strip()
    return "" if value == "<no value>" else value


def port_holder(port: int) -> str | None:
    """The container that publishes host ``port``, if any (kind node containers are named <cluster>-control-plane)."""
    cli = shutil.which("docker")
    if cli is None:
        return None
    result = subprocess.run([cli, "ps", "-a", "--filter", f"publish={port}", "--format", "{{.Names}}"],
                            capture_output=True, text=True, timeout=60)
    names = result.stdout.split() if result.returncode == 0 else []
    return names[0] if names else None


def has_image(tag: str) -> bool:
    return image_key(tag) is not None


def import_rootfs(rootfs: Path, tag: str, changes: Sequence[str], log: Path, progress: Progress, what: str,
                  excludes: Sequence[str] = ()) -> None:
    """``tar -C rootfs . | docker import`` with Dockerfile ``changes`` (ENV, ENTRYPOINT, LABEL ...), leaving out
    ``excludes`` (paths relative to the root)."""
    skip = " ".join(f"--exclude=./{shlex.quote(path.strip('/'))}" for path in excludes)
    argv = ["bash", "-o", "pipefail", "-c",
            f'tar -C "$0" {skip} -c . | "$1" import "${{@:3}}" - "$2"', str(rootfs), docker_bin(), tag]
    for change in changes:
        argv += ["-c", change]
    run_logged(argv, log, what, progress, timeout=1800)


def build(context: Path, tag: str, build_args: Mapping[str, str], log: Path, progress: Progress, what: str,
          dockerfile: str = "Dockerfile") -> None:
    argv: list[str | Path] = [docker_bin(), "build", "-q", "-f", context / dockerfile, "-t", tag]
    for name, value in build_args.items():
        argv += ["--build-arg", f"{name}={value}"]
    argv.append(context)
    run_logged(argv, log, what, progress, env={"DOCKER_BUILDKIT": "0"}, timeout=1800)


def save(tags: Sequence[str], out: Path, log: Path, progress: Progress) -> None:
    run_logged([docker_bin(), "save", "-o", out, *tags], log, "saving images", progress)
    with tarfile.open(out):  # a truncated tar is an error here, not in the node
        pass


def prune(repository: str, keep: str) -> None:
    """Untag and remove the other tags of ``repository`` (older keys' images), so the cache does not grow
    with every change; an image a container still uses stays (docker refuses, and that is fine)."""
    listed = subprocess.run([docker_bin(), "images", repository, "--format", "{{.Repository}}:{{.Tag}}"],
                            capture_output=True, text=True, timeout=60)
    stale = [tag for tag in listed.stdout.split() if tag != keep and not tag.endswith(":<none>")]
    if stale:
        subprocess.run([docker_bin(), "rmi", *stale], capture_output=True, timeout=300)

