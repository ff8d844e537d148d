"""The Hospital-ERP images, built from two local base images and never pulled.

- ``python`` base: Debian + a venv with the wheels pyproject.toml pins (backend releases, cluster exporter);
- ``data`` base: Debian's PostgreSQL 15, PgBouncer, Prometheus and Alertmanager packages.

Each app image is a small ``docker build`` on its base (the classic builder, which takes a local base
as it is) and carries its cache key as a label, so only what changed is rebuilt.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drills.k8s.build import docker
from drills.k8s.build.gobuild import logs
from drills.k8s.build.node import rootfs
from drills.k8s.build.progress import Progress
from drills.k8s.build.versions import (
    BACKEND_RELEASES,
    BACKEND_REPO,
    BASE_EXCLUDES,
    DATA_PACKAGES,
    IMAGES,
    KEY_LABEL,
    PYTHON_IMAGE_DISTS,
    PYTHON_PACKAGES,
    REPO,
    digest,
    kind_cache,
)
from gameday.errors import TargetError

#: What of the repository goes into the backend and exporter images (nothing else: no tests, no venv).
APP_SOURCES = ("drills/__init__.py", "drills/service", "drills/exporters", "drills/k8s/__init__.py",
               "drills/k8s/exporter.py", "drills/k8s/gateway.py", "drills/k8s/informer.py", "drills/k8s/front.py",
               "drills/k8s/dashboard", "gameday/__init__.py", "gameday/releases.py")
PYTHON_PATH = "PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class AppImage:
    tag: str
    dockerfile: str
    base: str  # "python" | "data"
    app: bool = False  # copy APP_SOURCES into the context's app/
    files: tuple[str, ...] = ()  # more files from drills/k8s/images
    build_args: dict[str, str] = field(default_factory=dict)


def app_images() -> list[AppImage]:
    """Every image the manifests name (drills/k8s/manifests)."""
    backends = [AppImage(f"{BACKEND_REPO}:{v}", "backend.Dockerfile", "python", app=True, build_args={"APP_VERSION": v})
                for v in BACKEND_RELEASES]
    return [
        *backends,
        AppImage("gameday/cluster-tools:v1", "tools.Dockerfile", "python", app=True),
        AppImage("gameday/postgres:15", "postgres.Dockerfile", "data", files=("postgres-entrypoint.sh",)),
        AppImage("gameday/pgbouncer:1.18", "pgbouncer.Dockerfile", "data", files=("pgbouncer-entrypoint.sh",)),
        AppImage("gameday/prometheus:2.42", "prometheus.Dockerfile", "data"),
        AppImage("gameday/alertmanager:0.25", "alertmanager.Dockerfile", "data"),
    ]


def image_requirements() -> str:
    """``name==version`` lines for the image's wheels, at the versions pyproject.toml pins (one source)."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pinned = {re.split(r"[=<>!~ ]", d, maxsplit=1)[0].lower(): d for d in deps}
    missing = [name for name in PYTHON_IMAGE_DISTS if name.lower() not in pinned]
    if missing:
        raise TargetError(f"pyproject.toml pins no version of {', '.join(missing)} (needed by the backend image)")
    return "".join(pinned[name.lower()] + "\n" for name in PYTHON_IMAGE_DISTS)


def base_image(progress: Progress, name: str) -> str:
    """``gameday/python-base:<key>`` or ``gameday/data-base:<key>``: a debootstrapped root, imported."""
    if name == "python":
        req = kind_cache() / "requirements" / f"python-{digest(image_requirements())}.txt"
        req.parent.mkdir(parents=True, exist_ok=True)
        req.write_text(image_requirements(), encoding="utf-8")
        root, key = rootfs(progress, "python", PYTHON_PACKAGES, req)
        changes = [f"ENV {PYTHON_PATH}"]
    elif name == "data":
        root, key = rootfs(progress, "data", DATA_PACKAGES)
        changes = []
    else:
        raise ValueError(name)
    excludes = BASE_EXCLUDES[name]
    key = digest(key, *excludes)[: len(key)]
    tag = f"gameday/{name}-base:{key}"
    if docker.has_image(tag):
        progress.cached(f"{name} base image", tag)
        return tag
    with progress.stage(f"{name} base image", f"{name} base image {tag}"):
        docker.import_rootfs(root, tag, [*changes, f"LABEL {KEY_LABEL}={key}"], logs() / f"base-{name}.log",
                             progress, f"importing the {name} base", excludes=excludes)
    docker.prune(f"gameday/{name}-base", tag)
    return tag


def image_key(image: AppImage, base: str) -> str:
    parts: list[str | Path] = [base, IMAGES / image.dockerfile, *(IMAGES / f for f in image.files),
                               repr(sorted(image.build_args.items()))]
    if image.app:
        parts += [REPO / p for p in APP_SOURCES]
    return digest(*parts)


def _context(image: AppImage, work: Path) -> Path:
    ctx = work / image.tag.replace("/", "_").replace(":", "_")
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    shutil.copy2(IMAGES / image.dockerfile, ctx / image.dockerfile)
    for name in image.files:
        shutil.copy2(IMAGES / name, ctx / name)
    if image.app:
        for rel in APP_SOURCES:
            src, dst = REPO / rel, ctx / "app" / rel
            if src.is_dir():
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    return ctx


def build_app_images(progress: Progress, images: Sequence[AppImage] | None = None) -> list[str]:
    """Build what is missing or stale; returns every tag (the set ``kind load`` puts into the node)."""
    images = list(images if images is not None else app_images())
    bases = {name: base_image(progress, name) for name in sorted({i.base for i in images})}
    work = kind_cache() / "work" / "apps"
    stale = [(i, image_key(i, bases[i.base])) for i in images]
    stale = [(i, key) for i, key in stale if docker.image_key(i.tag) != key]
    if not stale:
        progress.cached("app images", ", ".join(i.tag for i in images))
        return [i.tag for i in images]
    with progress.stage("app images", f"app images ({len(stale)} of {len(images)} to build)"):
        for image, key in stale:
            ctx = _context(image, work)
            docker.build(ctx, image.tag, {"BASE": bases[image.base], "KEY": key, **image.build_args},
                         logs() / "app-images.log", progress, f"building {image.tag}", dockerfile=image.dockerfile)
            shutil.rmtree(ctx, ignore_errors=True)
    return [i.tag for i in images]
