"""Pinned versions and cache locations of the kind build (one place; keys and tags derive from it)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from gameday.releases import RELEASES

REPO = Path(__file__).resolve().parents[3]
TOOLS = REPO / "tools" / "kind"
TESTENV = REPO / "tools" / "k8s-testenv"
IMAGES = Path(__file__).resolve().parents[1] / "images"

KIND_VERSION = "v0.33.0"
KIND_MODULE = "sigs.k8s.io/kind"
#: The sandbox's network-fault proxy, built from its Go module (drills/k8s/build/toxiproxy.py).
TOXIPROXY_VERSION = "v2.12.0"
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"
#: Pod networking across the nodes of a multi-node kind cluster (host-gw backend; drills/k8s/build/flannel.py).
FLANNEL_VERSION = "v0.28.10"
FLANNEL_MODULE = "github.com/flannel-io/flannel"
DEBIAN_SUITE = "bookworm"

NODE_REPO = "gameday/kind-node"
BACKEND_REPO = "gameday/hospital-erp-backend"
#: The releases the drills replay, one image each (the release catalogue: healthy, pool leak, crash loop).
BACKEND_RELEASES = tuple(RELEASES)
#: Label every locally built image carries: the cache key of its inputs.
KEY_LABEL = "io.gameday.key"

#: Debian packages of the node's root (systemd, containerd, runc and CNI plugins as kind's base image has).
NODE_PACKAGES = (
    "systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,"
    "pigz,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins,e2fsprogs,socat"
)
PROXY_PACKAGES = "iptables,conntrack,nftables,kmod"
PYTHON_PACKAGES = "python3,python3-venv,ca-certificates,libpq5"
DATA_PACKAGES = "postgresql-15,pgbouncer,prometheus,prometheus-alertmanager,ca-certificates"
#: What the base images leave out of their root (every megabyte is `kind load`ed by each `cluster up`; the cached
#: root keeps all of it, only the imported image leaves it out, and the base's key covers this list).  Patterns
#: are tar ``--exclude`` wildcards relative to the root.
#:
#: Both: translations and locale sources (the images run in C.UTF-8, which is /usr/lib/locale/C.utf8).
#: Python: pip, setuptools and the wheels ensurepip keeps (the venv is made at build time, never changed in a
#: container); the kubernetes client's asyncio twin, kubernetes/aio (68 MB; ``import kubernetes`` does not import
#: it, drills/ uses the synchronous client) and aiohttp with the packages only it uses (12 MB; nothing else imports
#: them: prometheus_client.aiohttp is an optional module nobody loads).  The bytecode stays (40 MB): the images run
#: with PYTHONDONTWRITEBYTECODE, so without it every pod start compiles anew (measured: importing the backend
#: 0.55 s -> 1.1 s, the exporter 0.4 s -> 0.9 s, per pod and restart, on the kind node's 2 CPUs).
#: Data: moment-timezone's raw data (212 MB; Prometheus' UI loads the built bundles beside it); the command-line
#: tools no container runs; LLVM and Z3 with PostgreSQL's JIT provider and bitcode (160 MB: without llvmjit.so
#: PostgreSQL runs with JIT unavailable, and postgres-entrypoint.sh sets jit=off besides); the cluster
#: postgresql-common creates at install in /var/lib/postgresql/15 (the pod's PGDATA is
#: /var/lib/postgresql/data/pgdata); perl beyond perl-base (only postgresql-common's wrappers such as /usr/bin/psql
#: use it; the postgres image puts /usr/lib/postgresql/15/bin first on its PATH, and its probes, preStop hook and
#: drills/k8s/database.py's psql run those binaries).
_COMMON_EXCLUDES = ("usr/share/locale", "usr/share/i18n")
_VENV_SITE = "opt/venv/lib/python3*/site-packages"
_AIOHTTP = tuple(f"{dist}{suffix}" for dist in ("aiohttp", "aiohttp_retry", "aiohappyeyeballs", "aiosignal",
                                                "frozenlist", "multidict", "propcache", "yarl")
                 for suffix in ("", "-*.dist-info"))
BASE_EXCLUDES: dict[str, tuple[str, ...]] = {
    "python": (*_COMMON_EXCLUDES, "usr/share/python-wheels", "opt/venv/bin/pip*",
               *(f"{_VENV_SITE}/{name}" for name in ("pip", "pip-*.dist-info", "setuptools", "setuptools-*.dist-info",
                                                     "pkg_resources", "_distutils_hack", "distutils-precedence.pth",
                                                     "kubernetes/aio", *_AIOHTTP))),
    "data": (*_COMMON_EXCLUDES, "usr/share/javascript/moment-timezone/data",
             "usr/bin/promtool", "usr/bin/amtool",
             "usr/lib/x86_64-linux-gnu/libLLVM*", "usr/lib/x86_64-linux-gnu/libz3.so*",
             "usr/lib/postgresql/15/lib/llvmjit*", "usr/lib/postgresql/15/lib/bitcode",
             "var/lib/postgresql/15",
             "usr/lib/x86_64-linux-gnu/perl", "usr/share/perl", "usr/lib/x86_64-linux-gnu/libperl.so*",
             "usr/bin/perl5.*-x86_64-linux-gnu"),
}
#: The backend image's Python packages: these names, at the versions pyproject.toml pins.
PYTHON_IMAGE_DISTS = (
    "fastapi", "uvicorn", "psycopg[binary]", "psycopg-pool", "prometheus-client", "httpx", "pydantic", "pyyaml",
    "kubernetes",
)


def cache_root() -> Path:
    return Path(os.environ.get("GAMEDAY_CACHE", "/var/cache/gameday"))


def kind_cache() -> Path:
    return cache_root() / "kind"


def go_mod_version(gomod: Path, module: str) -> str:
    """The version ``gomod`` requires of ``module`` (block or one-line form)."""
    for raw in gomod.read_text(encoding="utf-8").splitlines():
        parts = raw.split()
        if len(parts) >= 3 and parts[0] == "require" and parts[1] == module:
            return parts[2]
        if len(parts) >= 2 and parts[0] == module and parts[1].startswith("v"):
            return parts[1]
    raise ValueError(f"{gomod} does not require {module}")


def k8s_version() -> str:
    """Kubernetes version of the node image: the one the test control plane is built from."""
    return go_mod_version(TESTENV / "go.mod", "k8s.io/kubernetes")


def crictl_version() -> str:
    """crictl in the node, as kind's base image has it (kind asks it which images a node already holds)."""
    return go_mod_version(TESTENV / "go.mod", "sigs.k8s.io/cri-tools")


def testenv_bin_dir() -> Path:
    """Where ``tools/k8s-testenv/build.sh`` puts the control-plane binaries (kubectl among them)."""
    kwok = go_mod_version(TESTENV / "go.mod", "sigs.k8s.io/kwok")
    graph = hashlib.sha256((TESTENV / "go.mod").read_bytes() + (TESTENV / "go.sum").read_bytes()).hexdigest()[:12]
    return cache_root() / "k8s-testenv" / f"{k8s_version()}-{kwok}-{graph}" / "bin"


def digest(*parts: str | Path) -> str:
    """A short key over strings and the contents of files (directories: every file, sorted)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
            for f in files:
                h.update(str(f.relative_to(REPO) if f.is_relative_to(REPO) else f).encode())
                h.update(f.read_bytes())
        else:
            h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]
