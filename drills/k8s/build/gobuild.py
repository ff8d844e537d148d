"""What every build here shares: the Go toolchain and its environment, the log folder, and cached outputs that
are built whole or not at all (a leaf: the node image, kind and metrics-server builds all use it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from drills.k8s.build.progress import Progress
from drills.k8s.build.versions import kind_cache
from gameday.errors import TargetError

GO_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-trimpath -mod=mod -buildvcs=false", "GOTOOLCHAIN": "local"}


def go_bin() -> str:
    path = os.environ.get("GO") or shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(path).exists():
        raise TargetError("building kind and the node image needs Go (set GO or put go on PATH), or pass "
                          "--node-image IMAGE and a kind binary on PATH")
    return path


def logs() -> Path:
    return kind_cache() / "logs"


def built(progress: Progress, what: str, out: Path, names: tuple[str, ...],
          build: Callable[[Path], None]) -> Path:
    """``out`` holding ``names``, built by ``build(partial_dir)`` unless cached; a half build never counts."""
    if all((out / n).exists() for n in names):
        progress.cached(what, str(out))
        return out
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    build(partial)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out
