"""metrics-server for ``kubectl top``, built from its Go module and made into a one-binary image: nothing pulled.

Why its own module (``tools/metrics-server``): the control plane's go.mod keys a 15-minute compile, so
metrics-server stays out of it; instead its go.mod requires every module both graphs share at the control
plane's versions, so the Kubernetes packages that compile cached are hits and a warm build compiles only
metrics-server's own packages and the few Prometheus ones it parses kubelet metrics with.

The image is a tiny root (the static binary, passwd/group) ``docker import``ed with the key label every
locally built image carries; the node image preloads it into containerd (no ``kind load`` at ``up`` time).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from drills.k8s.build import docker
from drills.k8s.build.gobuild import GO_ENV, built, go_bin, logs
from drills.k8s.build.progress import Progress, run_logged
from drills.k8s.build.versions import KEY_LABEL, REPO, TESTENV, digest, go_mod_version, kind_cache
from gameday.errors import TargetError

MODULE_DIR = REPO / "tools" / "metrics-server"
MODULE = "sigs.k8s.io/metrics-server"
#: The module's files: its graph and main.go (v0.8.0's command, its OpenAPI names adapted to kube-openapi 2026).
SOURCES = ("go.mod", "go.sum", "main.go")
IMAGE_REPO = "gameday/metrics-server"
#: The image's root besides the binary: users for a non-root container (the pod runs as uid 1000).
PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"
#: ``docker import`` changes (the label is added per key).
CHANGES = ("ENV PATH=/usr/local/bin:/usr/bin:/bin", 'ENTRYPOINT ["/metrics-server"]')


def version() -> str:
    """The metrics-server version ``tools/metrics-server/go.mod`` pins (the one source of it)."""
    return go_mod_version(MODULE_DIR / "go.mod", MODULE)


def image_tag() -> str:
    """``gameday/metrics-server:<version>``: the tag the manifest's Deployment runs."""
    return f"{IMAGE_REPO}:{version()}"


def _requires(gomod: Path) -> dict[str, str]:
    """Module -> selected version of a go.mod's require lines, replacements applied (k8s.io staging repos)."""
    required: dict[str, str] = {}
    replaced: dict[str, str] = {}
    block = ""
    for raw in gomod.read_text(encoding="utf-8").splitlines():
        line = raw.split("//", 1)[0].strip()
        if line.endswith("("):
            block = line.split()[0]
            continue
        if line == ")":
            block = ""
            continue
        parts = line.split()
        if parts and parts[0] in ("require", "replace"):
            block, parts = parts[0], parts[1:]
        if block == "require" and len(parts) >= 2:
            required[parts[0]] = parts[1]
        elif block == "replace" and "=>" in parts and len(parts) == parts.index("=>") + 3:
            replaced[parts[0]] = parts[-1]
        if raw.strip().startswith(("require ", "replace ")):
            block = ""  # a one-line form ends here
    return {m: replaced.get(m, v) for m, v in required.items()}


def shared_drift() -> dict[str, tuple[str, str]]:
    """Modules both go.mods require at different versions: ``module -> (ours, control plane's)``.

    Empty means every shared package is a build-cache hit after the control plane's compile; after a bump
    of ``tools/k8s-testenv/go.mod``, ``go get module@version`` each one named here.
    """
    ours, theirs = _requires(MODULE_DIR / "go.mod"), _requires(TESTENV / "go.mod")
    return {m: (v, theirs[m]) for m, v in sorted(ours.items()) if m in theirs and theirs[m] != v}


def metrics_server_bin(progress: Progress, jobs: int = 2) -> Path:
    """The directory holding a static ``metrics-server``, cached under ``$GAMEDAY_CACHE/kind/metrics-server-bin``
    by version and the module's files (``go.mod``/``go.sum``: the whole graph; ``main.go``)."""
    ver = version()
    sources = tuple(MODULE_DIR / name for name in SOURCES)
    for source in sources:
        if not source.exists():
            raise TargetError(f"{source} is missing: building metrics-server needs the gameday source tree")
    out = kind_cache() / "metrics-server-bin" / f"{ver}-{digest(ver, *sources)}"
    pkg = "k8s.io/client-go/pkg/version"  # what metrics-server's --version and /version report (its Makefile's)
    ldflags = f"-s -w -X {pkg}.gitVersion={ver} -X {pkg}.gitTreeState=clean"

    def build(into: Path) -> None:
        with progress.stage("metrics-server", f"metrics-server {ver} (go build)"):
            module = kind_cache() / "gomod" / f"metrics-server-{ver}"  # a copy: -mod=mod may touch go.mod
            shutil.rmtree(module, ignore_errors=True)
            module.mkdir(parents=True)
            for source in sources:
                shutil.copy2(source, module / source.name)
            run_logged([go_bin(), "build", "-p", str(jobs), "-ldflags", ldflags, "-o", into / "metrics-server",
                        "."], logs() / "metrics-server.log", "building metrics-server", progress, env=GO_ENV,
                       cwd=module)

    return built(progress, "metrics-server", out, ("metrics-server",), build)


def metrics_server_image(progress: Progress, jobs: int = 2) -> tuple[str, str]:
    """``(tag, key)`` of the metrics-server image, imported from a tiny root unless an image with this key exists.

    The key covers the binary's key and everything else the root holds, so the node image that preloads
    this image (its key includes this one) is rebuilt exactly when metrics-server changes.
    """
    binary = metrics_server_bin(progress, jobs) / "metrics-server"
    tag = image_tag()
    key = digest(binary.parent.name, PASSWD, GROUP, *CHANGES)
    if docker.image_key(tag) == key:
        progress.cached("metrics-server image", tag)
        return tag, key
    with progress.stage("metrics-server image", f"metrics-server image {tag}"):
        import_tiny_root("metrics-server", binary, "metrics-server", tag, key, CHANGES, progress)
    return tag, key


def import_tiny_root(what: str, binary: Path, name: str, tag: str, key: str, changes: Sequence[str],
                     progress: Progress) -> None:
    """A static ``binary`` (as ``/<name>``) with passwd, group and ``/tmp``, ``docker import``ed as ``tag``
    labelled with ``key``: no base image to pull or build for a Go binary."""
    root = kind_cache() / "work" / f"{what}-root"
    shutil.rmtree(root, ignore_errors=True)
    (root / "etc").mkdir(parents=True)
    (root / "tmp").mkdir(mode=0o1777)
    (root / "tmp").chmod(0o1777)  # mkdir's mode is masked by the umask
    (root / "etc" / "passwd").write_text(PASSWD, encoding="utf-8")
    (root / "etc" / "group").write_text(GROUP, encoding="utf-8")
    shutil.copy2(binary, root / name)
    docker.import_rootfs(root, tag, [*changes, f"LABEL {KEY_LABEL}={key}"], logs() / f"{what}-image.log",
                         progress, f"importing the {what} image")
    shutil.rmtree(root, ignore_errors=True)
