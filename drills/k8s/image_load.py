"""The app images into a new kind node while ``kind create`` still runs.

What ``kind load docker-image`` does (one ``docker save``, ``ctr images import`` in the node), in two parts that
need not wait for the cluster: the archive is cached by the images' IDs (a warm ``cluster up`` saves nothing),
and the import starts as soon as the node's containerd answers, beside kubeadm's start of the control plane
instead of after it.  kind itself never restarts containerd for our config (no ``containerdConfigPatches``).
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from drills.k8s.build import docker
from drills.k8s.build.progress import Progress
from drills.k8s.build.versions import kind_cache
from gameday.errors import TargetError

#: How long the node's containerd gets to answer once ``kind create`` has started the node container.
CONTAINERD_WAIT_S = 180.0
IMPORT_TIMEOUT_S = 900.0


def archive_dir() -> Path:
    return kind_cache() / "archives"


def image_ids(tags: Sequence[str]) -> list[str]:
    """The images' IDs, in the order of ``tags``; one clear error for a tag that is not there."""
    result = subprocess.run([docker.docker_bin(), "image", "inspect", "-f", "{{.Id}}", *tags], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    ids = result.stdout.split()
    if result.returncode != 0 or len(ids) != len(tags):
        raise TargetError(f"cannot load the app images: {(result.stderr or 'no image').strip().splitlines()[-1]}")
    return ids


def archive(tags: Sequence[str], progress: Progress, prefix: str = "apps") -> Path:
    """One ``docker save`` of ``tags``, kept under the cache keyed by their tags and IDs; older archives of the same
    ``prefix`` go (flannel's, loaded only into clusters with workers, has its own: it never evicts the apps')."""
    pairs = sorted(f"{t}={i}" for t, i in zip(tags, image_ids(tags), strict=True))  # any order: one archive
    key = hashlib.sha256("\n".join(pairs).encode())
    directory = archive_dir()
    path = directory / f"{prefix}-{key.hexdigest()[:16]}.tar"
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    log = directory / "save.log"
    log.unlink(missing_ok=True)  # the last save's output only (run_logged appends)
    docker.save(tags, partial, log, progress)
    partial.rename(path)
    for old in directory.glob(f"{prefix}-*.tar"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


def node_container(cluster: str) -> str:
    return f"{cluster}-control-plane"


def worker_containers(cluster: str, workers: int) -> list[str]:
    """kind's names of the worker nodes (containers and Kubernetes nodes alike): ``<cluster>-worker``,
    ``<cluster>-worker2`` ..."""
    return [f"{cluster}-worker{'' if i == 1 else i}" for i in range(1, workers + 1)]


def import_argv(node: str) -> list[str]:
    """``ctr images import`` of an archive on stdin into the CRI's namespace, as ``kind load`` runs it."""
    return [docker.docker_bin(), "exec", "-i", node, "ctr", "--namespace=k8s.io", "images", "import",
            "--all-platforms", "--digests", "--snapshotter=overlayfs", "-"]


def wait_containerd(node: str, closing: threading.Event, timeout: float = CONTAINERD_WAIT_S) -> None:
    """Until ``ctr version`` answers in the node (the container may not exist yet: kind is creating it)."""
    deadline = time.monotonic() + timeout
    while not closing.is_set():
        probe = subprocess.run([docker.docker_bin(), "exec", node, "ctr", "version"], capture_output=True,
                               timeout=30)  # fmt: skip
        if probe.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise TargetError(f"the containerd of kind node {node} did not answer within {timeout:.0f} s")
        closing.wait(0.5)
    raise TargetError(f"loading images into {node} stopped: the cluster's creation failed")


def import_archive(node: str, path: Path) -> None:
    with path.open("rb") as stream:
        result = subprocess.run(import_argv(node), stdin=stream, capture_output=True, text=True,
                                timeout=IMPORT_TIMEOUT_S)  # fmt: skip
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise TargetError(f"importing the app images into {node} failed: {tail}")


class BackgroundLoad:
    """Archive, wait for the node's containerd, import: on a thread started before ``kind create``;
    :meth:`join` re-raises its error, :meth:`cancel` stops the wait when the creation failed."""

    def __init__(self, cluster: str, tags: Sequence[str], progress: Progress, workers: int = 0,
                 network_tags: Sequence[str] = (), worker_tags: Sequence[str] = ()) -> None:
        self.node = node_container(cluster)
        self.nodes = [self.node, *worker_containers(cluster, workers)]
        self.tags = list(tags)
        #: flannel's image (clusters with workers): an archive of its own, into every node
        self.network_tags = list(network_tags)
        #: what the workers run (the backend's releases: everything else stays on the control plane,
        #: drills/k8s/stack.py pin_to_control_plane): a smaller archive of its own
        self.worker_tags = list(worker_tags or tags)
        self.progress = progress
        self._closing = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="image-load", daemon=True)

    def start(self) -> BackgroundLoad:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            network = [archive(self.network_tags, self.progress, prefix="network")] if self.network_tags else []
            plan = {self.node: [archive(self.tags, self.progress), *network]}
            if len(self.nodes) > 1:
                workers = archive(self.worker_tags, self.progress, prefix="workers")
                plan.update({node: [workers, *network] for node in self.nodes[1:]})

            def load(node: str) -> None:
                wait_containerd(node, self._closing)
                for path in plan[node]:
                    import_archive(node, path)

            with ThreadPoolExecutor(max_workers=len(self.nodes), thread_name_prefix="image-load") as pool:
                for done in [pool.submit(load, node) for node in self.nodes]:  # every node at once: mostly I/O
                    done.result()
        except BaseException as exc:  # re-raised on the caller's thread by join()
            self._error = exc

    def cancel(self) -> None:
        self._closing.set()

    def join(self, timeout: float | None = None) -> None:
        timeout = timeout or (IMPORT_TIMEOUT_S + CONTAINERD_WAIT_S) * 2
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TargetError(f"loading the app images into {', '.join(self.nodes)}: no result after {timeout:.0f} s")
        if self._error is not None:
            raise self._error
