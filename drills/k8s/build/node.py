"""kind itself and the kind node image, built here: nothing is pulled.

The node image holds a debootstrapped Debian root (systemd, containerd, runc, CNI plugins), kind's base
files from the kind module, kubelet/kubeadm/kube-proxy built from the Kubernetes module, CoreDNS and pause
built here, and the control-plane images made from the binaries the test control plane already builds
(``tools/k8s-testenv``), preloaded into the node's containerd.
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
from drills.k8s.build.progress import Progress, run_logged
from drills.k8s.build.versions import (
    DEBIAN_SUITE,
    KIND_MODULE,
    KIND_VERSION,
    NODE_PACKAGES,
    NODE_REPO,
    PROXY_PACKAGES,
    TESTENV,
    TOOLS,
    crictl_version,
    digest,
    k8s_version,
    kind_cache,
)
from gameday.errors import TargetError

#: What ``kubernetes_node_bins`` builds into the node image.
NODE_BINARIES = ("kubelet", "kubeadm", "kube-proxy", "crictl", "coredns")


def kind_binary(progress: Progress) -> Path:
    """kind ``KIND_VERSION`` from its Go module (``go install``), cached by version."""
    path = kind_cache() / "bin" / f"kind-{KIND_VERSION}"
    if path.exists():
        progress.cached("kind", str(path))
        return path
    with progress.stage("kind", f"kind {KIND_VERSION} (go install)"):
        gobin = path.parent / ".gobin"
        shutil.rmtree(gobin, ignore_errors=True)
        run_logged([go_bin(), "install", f"{KIND_MODULE}@{KIND_VERSION}"], logs() / "kind.log", "building kind",
                   progress, env={**GO_ENV, "GOBIN": str(gobin)}, cwd=kind_cache())
        (gobin / "kind").replace(path)
        shutil.rmtree(gobin, ignore_errors=True)
    return path


def kind_base_files(progress: Progress) -> Path:
    """kind's ``images/base/files`` (entrypoint, systemd units, kubelet drop-ins) from the module cache."""
    result = subprocess.run([go_bin(), "mod", "download", "-json", f"{KIND_MODULE}@{KIND_VERSION}"],
                            capture_output=True, text=True, env={**os.environ, **GO_ENV}, cwd=kind_cache(),
                            timeout=600)
    if result.returncode != 0:
        raise TargetError(f"go mod download {KIND_MODULE}@{KIND_VERSION} failed: {result.stderr.strip()[-300:]}")
    files = Path(json.loads(result.stdout)["Dir"]) / "images" / "base" / "files"
    if not files.is_dir():
        raise TargetError(f"{files} is missing from the kind module")
    return files


def control_plane_bins(progress: Progress) -> Path:
    """kube-apiserver, controller-manager, scheduler, kubectl, etcd: ``tools/k8s-testenv/build.sh`` (cached)."""
    script = TESTENV / "build.sh"
    if not script.exists():
        raise TargetError(f"{script} is missing: building the node image needs the gameday source tree "
                          "(or pass --node-image)")
    with progress.stage("control-plane binaries", "control-plane binaries (tools/k8s-testenv)"):
        log = logs() / "control-plane.log"
        run_logged(["bash", script], log, "building the control plane", progress, env={"GO": go_bin()})
    return Path(log.read_text(encoding="utf-8").strip().splitlines()[-1])




def kubernetes_node_bins(progress: Progress) -> Path:
    """kubelet, kubeadm, kube-proxy, crictl and CoreDNS, in one ``go build`` of the test control plane's
    module (``tools/k8s-testenv``): the Kubernetes libraries its compile put in the Go build cache are reused,
    so after it only what these binaries alone import compiles."""
    version = k8s_version()
    sources = (TESTENV / "go.mod", TESTENV / "go.sum", TESTENV / "coredns")
    out = kind_cache() / "node-bin" / f"{version}-{digest(version, *sources)}"
    major, minor = version.lstrip("v").split(".")[:2]
    ldflags = f"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={crictl_version()}"
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        ldflags += (f" -X {pkg}.gitVersion={version} -X {pkg}.gitMajor={major} -X {pkg}.gitMinor={minor}"
                    f" -X {pkg}.gitTreeState=clean")

    def build(into: Path) -> None:
        with progress.stage("node binaries", f"kubelet, kubeadm, kube-proxy {version}, crictl, CoreDNS (go build)"):
            module = kind_cache() / "gomod" / version  # a copy: -mod=mod may touch go.mod, never the repo's
            shutil.rmtree(module, ignore_errors=True)
            module.mkdir(parents=True)
            for source in sources:
                copy = shutil.copytree if source.is_dir() else shutil.copy2
                copy(source, module / source.name)
            commands = [f"k8s.io/kubernetes/cmd/{name}" for name in ("kubelet", "kubeadm", "kube-proxy")]
            run_logged([go_bin(), "build", "-p", "2", "-ldflags", ldflags, "-o", f"{into}/", *commands,
                        "sigs.k8s.io/cri-tools/cmd/crictl", "./coredns"],
                       logs() / "node-bin.log", "building the node binaries", progress, env=GO_ENV, cwd=module)

    return built(progress, "node binaries", out, NODE_BINARIES, build)


def pause_bin(progress: Progress) -> Path:
    """pause: ``gcc -static`` of the Kubernetes module's pause.c.  Needs no Go build, so it runs while the
    control plane compiles."""
    version = k8s_version()
    out = kind_cache() / "pause-bin" / version

    def build(into: Path) -> None:
        with progress.stage("pause"):
            found = subprocess.run([go_bin(), "mod", "download", "-json", f"k8s.io/kubernetes@{version}"],
                                   capture_output=True, text=True, env={**os.environ, **GO_ENV}, cwd=kind_cache(),
                                   timeout=1800)
            if found.returncode != 0:
                raise TargetError(f"go mod download k8s.io/kubernetes@{version} failed: {found.stderr[-300:]}")
            pause_c = Path(json.loads(found.stdout)["Dir"]) / "build" / "pause" / "linux" / "pause.c"
            run_logged(["gcc", "-Os", "-Wall", "-Werror", "-static", "-DVERSION=gameday", "-o", into / "pause",
                        pause_c], logs() / "pause.log", "compiling pause", progress)

    return built(progress, "pause", out, ("pause",), build)


def prepare(progress: Progress) -> None:
    """Everything of the clusters' images that needs no Kubernetes build (roots, kind, pause, metrics-server, and
    flannel for a cluster with workers), so it overlaps the control plane's compile rather than follow it: on a
    cold machine the node image waits for that compile, and every minute after it is on the kind suite's path."""
    from drills.k8s.build.flannel import flannel_image
    from drills.k8s.build.metrics_server import metrics_server_image

    node_roots(progress)
    kind_binary(progress)
    pause_bin(progress)
    metrics_server_image(progress)
    flannel_image(progress)


def rootfs(progress: Progress, name: str, packages: str, requirements: Path | None = None) -> tuple[Path, str]:
    """A debootstrapped root (``tools/kind/rootfs.sh``), cached by its packages, requirements and script."""
    parts: list[str | Path] = [DEBIAN_SUITE, packages, TOOLS / "rootfs.sh"]
    if requirements is not None:
        parts.append(requirements)
    key = digest(*parts)
    dest = kind_cache() / "rootfs" / f"{name}-{DEBIAN_SUITE}-{key}"
    if dest.is_dir():
        progress.cached(f"{name} root", str(dest))
        return dest, key
    for old in dest.parent.glob(f"{name}-{DEBIAN_SUITE}-*"):
        shutil.rmtree(old, ignore_errors=True)  # an older key's root: never used again
    with progress.stage(f"{name} root", f"{name} root (debootstrap {DEBIAN_SUITE})"):
        argv: list[str | Path] = ["bash", TOOLS / "rootfs.sh", dest, packages]
        if requirements is not None:
            argv.append(requirements)
        run_logged(argv, logs() / f"rootfs-{name}.log", f"building the {name} root", progress)
    return dest, key


def node_roots(progress: Progress) -> tuple[tuple[Path, str], tuple[Path, str]]:
    """The node's and kube-proxy's debootstrapped roots (path, key)."""
    return rootfs(progress, "node", NODE_PACKAGES), rootfs(progress, "kube-proxy", PROXY_PACKAGES)


def node_image(progress: Progress) -> str:
    """The node image tag, built when no image with this key exists."""
    version = k8s_version()
    (node_root, node_key), (proxy_root, proxy_key) = node_roots(progress)
    cp_bin = control_plane_bins(progress)
    n_bin = kubernetes_node_bins(progress)
    pause = pause_bin(progress)
    files = kind_base_files(progress)
    # metrics-server (kubectl top): preloaded with the control-plane images, so `up` needs no `kind load` of it
    from drills.k8s.build.metrics_server import metrics_server_image

    metrics_tag, metrics_key = metrics_server_image(progress)
    key = digest(version, KIND_VERSION, node_key, proxy_key, n_bin.name, str(cp_bin),
                 TOOLS / "node-image.sh", TOOLS / "node", metrics_key)
    tag = f"{NODE_REPO}:{version}-{key}"
    if docker.has_image(tag):
        progress.cached("node image", tag)
        return tag
    lock = kind_cache() / "work" / "node-image.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as held:  # node-image.sh works in one folder: a second build waits, then finds the image
        fcntl.flock(held, fcntl.LOCK_EX)
        if docker.has_image(tag):
            progress.cached("node image", tag)
            return tag
        return _assemble(progress, tag, version, cp_bin, n_bin, pause, files, node_root, proxy_root, metrics_tag)


def _assemble(progress: Progress, tag: str, version: str, cp_bin: Path, n_bin: Path, pause: Path, files: Path,
              node_root: Path, proxy_root: Path, metrics_tag: str) -> str:
    with progress.stage("node image", f"node image {tag}"):
        env = {"NODE_IMAGE": tag, "K8S_VERSION": version, "CP_BIN": str(cp_bin), "NODE_BIN": str(n_bin),
               "PAUSE_BIN": str(pause), "KIND_FILES": str(files), "ROOTFS_NODE": str(node_root),
               "ROOTFS_PROXY": str(proxy_root), "WORK": str(kind_cache() / "work" / "node"), "HERE": str(TOOLS),
               "PRELOAD_IMAGES": metrics_tag}
        run_logged(["bash", TOOLS / "node-image.sh"], logs() / "node-image.log", "assembling the node image",
                   progress, env=env)
    docker.prune(NODE_REPO, tag)
    return tag
