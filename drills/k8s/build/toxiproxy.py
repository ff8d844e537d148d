"""Toxiproxy for the network fault, built from its Go module and cached by version: nothing downloaded but Go
modules.  The sandbox runs the binary; kind runs it as the image :func:`toxiproxy_image` makes of it.

Why here: it is a Go build like kind and metrics-server (same toolchain, environment and whole-or-nothing
cache).  The sandbox needs it to start, so ``make setup`` builds it (``python -m drills.k8s.build.toxiproxy``)
and ``gameday sandbox up`` builds it when it is missing; a lock keeps two starts from building it at once.
The kind image is a tiny root (the static binary, passwd/group) ``docker import``ed with the key label, as the
metrics-server image is; ``gameday cluster up`` loads it with the app images.
"""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path

from drills.k8s.build import docker
from drills.k8s.build.gobuild import GO_ENV, built, go_bin
from drills.k8s.build.metrics_server import GROUP, PASSWD, import_tiny_root
from drills.k8s.build.progress import Progress, run_logged
from drills.k8s.build.versions import TOXIPROXY_MODULE, TOXIPROXY_VERSION, cache_root, digest
from gameday.errors import GamedayError

BINARY = "toxiproxy-server"
IMAGE_REPO = "gameday/toxiproxy"
#: ``docker import`` changes (the label is added per key); the manifest passes the flags.
CHANGES = ("ENV PATH=/usr/local/bin:/usr/bin:/bin", f'ENTRYPOINT ["/{BINARY}"]')


def bin_dir() -> Path:
    """``$GAMEDAY_CACHE/toxiproxy/<version>``: where the binary lives once built."""
    return cache_root() / "toxiproxy" / TOXIPROXY_VERSION


def cached() -> Path | None:
    """The binary when it was built, else ``None`` (no build)."""
    path = bin_dir() / BINARY
    return path if path.exists() else None


def toxiproxy_bin(progress: Progress) -> Path:
    """The ``toxiproxy-server`` binary, built by ``go install <module>/cmd/server@<version>`` unless cached."""
    found = cached()
    if found is not None:
        return found
    out = bin_dir()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it right now: wait, then reuse
        log = out.parent / "build.log"

        def build(into: Path) -> None:
            with progress.stage("toxiproxy", f"toxiproxy {TOXIPROXY_VERSION} (go install)"):
                ldflags = f"-s -w -X {TOXIPROXY_MODULE}.Version={TOXIPROXY_VERSION}"  # what -version prints
                module = f"{TOXIPROXY_MODULE}/cmd/server@{TOXIPROXY_VERSION}"
                run_logged(
                    [go_bin(), "install", "-ldflags", ldflags, module],
                    log,
                    "building toxiproxy",
                    progress,
                    env={**GO_ENV, "GOBIN": str(into)},
                )
                (into / "server").rename(into / BINARY)

        return built(progress, "toxiproxy", out, (BINARY,), build) / BINARY


def image_tag() -> str:
    """``gameday/toxiproxy:<version>``: the tag the kind manifest's Deployment runs (manifests/toxiproxy.yaml.j2)."""
    return f"{IMAGE_REPO}:{TOXIPROXY_VERSION}"


def toxiproxy_image(progress: Progress) -> tuple[str, str]:
    """``(tag, key)`` of the kind image, imported from a tiny root unless an image with this key exists; the key
    covers the version, the binary's bytes and the rest of the root."""
    binary = toxiproxy_bin(progress)
    tag = image_tag()
    key = digest(TOXIPROXY_VERSION, binary, PASSWD, GROUP, *CHANGES)
    if docker.image_key(tag) == key:
        progress.cached("toxiproxy image", tag)
        return tag, key
    with progress.stage("toxiproxy image", f"toxiproxy image {tag}"):
        import_tiny_root("toxiproxy", binary, BINARY, tag, key, CHANGES, progress)
    return tag, key


def main() -> int:
    """``make setup``: build it now, so a fresh machine (CI) has it before any sandbox starts."""
    try:
        print(toxiproxy_bin(Progress(prefix="setup")))
    except GamedayError as exc:
        print(f"toxiproxy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
