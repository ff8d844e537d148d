"""flanneld and its CNI configuration writer, built here and made into one tiny image: pod networking for a kind
cluster with worker nodes (``gameday cluster up --workers N``).

Why flannel, and why this way: kindnetd cannot be built here and the node image's bridge CNI has one subnet, so
pods on two nodes would share addresses.  flanneld (``--kube-subnet-mgr``, host-gw backend) reads each node's
``podCIDR`` and routes every other node's subnet through that node; nothing is encapsulated.  Its Go module is
served by the proxy, but two of its backends are not buildable here: ``tencentvpc`` needs a Tencent SDK module the
proxy refuses (403) and ``udp`` needs cgo.  So the module's source is copied out of the module cache and built
without those two blank imports (host-gw needs neither).  flannel's CNI plugin (github.com/flannel-io/cni-plugin)
is not served at all: ``tools/kind/flannel-conf`` (standard library only) writes the node's ``bridge`` +
``host-local`` configuration from flanneld's ``/run/flannel/subnet.env`` instead.

Cached under ``$GAMEDAY_CACHE/flannel/<version>-<key>`` (the key covers the writer's source); the image carries the
key label like every image built here and is loaded into every node with the app images.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

from drills.k8s.build import docker
from drills.k8s.build.gobuild import GO_ENV, built, go_bin, logs
from drills.k8s.build.metrics_server import GROUP, PASSWD
from drills.k8s.build.progress import Progress, run_logged
from drills.k8s.build.versions import FLANNEL_MODULE, FLANNEL_VERSION, KEY_LABEL, TOOLS, cache_root, digest
from gameday.errors import TargetError

IMAGE_REPO = "gameday/flannel"
FLANNELD = "flanneld"
CONF_WRITER = "flannel-conf"
WRITER_SOURCE = TOOLS / "flannel-conf"
#: main.go's blank imports of the backends that cannot be built here (see the module docstring).
DROPPED_BACKENDS = ("tencentvpc", "udp")
CHANGES = ("ENV PATH=/usr/local/bin:/usr/bin:/bin", f'ENTRYPOINT ["/{FLANNELD}"]')


def key() -> str:
    return digest(FLANNEL_VERSION, *DROPPED_BACKENDS, WRITER_SOURCE / "go.mod", WRITER_SOURCE / "main.go")


def bin_dir() -> Path:
    return cache_root() / "flannel" / f"{FLANNEL_VERSION}-{key()}"


def image_tag() -> str:
    """``gameday/flannel:<version>``: the tag the DaemonSet runs (drills/k8s/flannel.py)."""
    return f"{IMAGE_REPO}:{FLANNEL_VERSION}"


def _module_source() -> Path:
    """flannel's module source, fetched through the Go module proxy into the module cache (``go mod download``)."""
    argv = [go_bin(), "mod", "download", "-json", f"{FLANNEL_MODULE}@{FLANNEL_VERSION}"]
    result = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **GO_ENV}, cwd=cache_root(),
                            timeout=600)  # fmt: skip
    try:
        return Path(json.loads(result.stdout)["Dir"])
    except (ValueError, KeyError):
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise TargetError(f"cannot download {FLANNEL_MODULE}@{FLANNEL_VERSION}: {tail[0]}") from None


def binaries(progress: Progress) -> Path:
    """The directory holding ``flanneld`` and ``flannel-conf``, built unless cached."""
    out = bin_dir()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it right now: wait, then reuse
        log = logs() / "flannel-build.log"

        def build(into: Path) -> None:
            with progress.stage("flannel", f"flannel {FLANNEL_VERSION} (go build, host-gw) and its CNI writer"):
                work = out.parent / "work"
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(_module_source(), work)
                for path in [work, *work.rglob("*")]:
                    path.chmod(path.stat().st_mode | 0o200)  # the module cache is read-only
                main = work / "main.go"
                lines = main.read_text(encoding="utf-8").splitlines(keepends=True)
                dropped = tuple(f'/pkg/backend/{name}"' for name in DROPPED_BACKENDS)
                main.write_text("".join(line for line in lines if not line.rstrip().endswith(dropped)),
                                encoding="utf-8")
                for name in DROPPED_BACKENDS:
                    shutil.rmtree(work / "pkg" / "backend" / name, ignore_errors=True)
                ldflags = f"-s -w -X {FLANNEL_MODULE}/pkg/version.Version={FLANNEL_VERSION}"
                run_logged([go_bin(), "build", "-ldflags", ldflags, "-o", into / FLANNELD, "."], log,
                           "building flanneld", progress, env=GO_ENV, cwd=work)
                run_logged([go_bin(), "build", "-ldflags", "-s -w", "-o", into / CONF_WRITER, "."], log,
                           "building flannel-conf", progress, env=GO_ENV, cwd=WRITER_SOURCE)
                shutil.rmtree(work, ignore_errors=True)

        return built(progress, "flannel", out, (FLANNELD, CONF_WRITER), build)


def flannel_image(progress: Progress) -> tuple[str, str]:
    """``(tag, key)`` of the image: both binaries in a tiny root, ``docker import``ed unless this key exists."""
    directory = binaries(progress)
    tag = image_tag()
    image_key = digest(key(), directory / FLANNELD, directory / CONF_WRITER, PASSWD, GROUP, *CHANGES)
    if docker.image_key(tag) == image_key:
        progress.cached("flannel image", tag)
        return tag, image_key
    with progress.stage("flannel image", f"flannel image {tag}"):
        root = cache_root() / "kind" / "work" / "flannel-root"
        shutil.rmtree(root, ignore_errors=True)
        (root / "etc").mkdir(parents=True)
        (root / "tmp").mkdir()
        (root / "tmp").chmod(0o1777)
        (root / "etc" / "passwd").write_text(PASSWD, encoding="utf-8")
        (root / "etc" / "group").write_text(GROUP, encoding="utf-8")
        for name in (FLANNELD, CONF_WRITER):
            shutil.copy2(directory / name, root / name)
        docker.import_rootfs(root, tag, [*CHANGES, f"LABEL {KEY_LABEL}={image_key}"], logs() / "flannel-image.log",
                             progress, "importing the flannel image")
        shutil.rmtree(root, ignore_errors=True)
    return tag, image_key
