"""tools/kind/rootfs.sh: builds that run side by side share one .deb cache without reading each other's
half-written downloads (a cold `cluster build --prepare` debootstraps the node and data roots at once).

debootstrap itself is stood in for by a script that behaves as it does with ``--cache-dir``: a .deb already in
the cache is validated, a missing one is downloaded straight into the cache dir, slowly.  The real debootstrap
runs in the kind build (``make test``'s kind-prepare stage on a cold cache).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOTFS = Path(__file__).resolve().parents[2] / "tools" / "kind" / "rootfs.sh"
DEBS = {f"pkg{i}_1.0_amd64.deb": f"contents of package {i}\n" * 40 for i in range(3)}

STAND_IN = r"""#!/usr/bin/env bash
# debootstrap --variant=minbase --include=... --cache-dir=DIR SUITE TARGET MIRROR
set -euo pipefail
cache=""
for arg in "$@"; do [[ $arg == --cache-dir=* ]] && cache=${arg#--cache-dir=}; done
target=${@: -2:1}
for name in $NAMES; do
  want="$(printf 'contents of package %s\n' "${name:3:1}")"
  if [[ -e "$cache/$name" ]]; then
    # validation: a half-written file fails, as a wrong checksum does
    [[ $(wc -l < "$cache/$name") == 40 ]] || { echo "E: invalid $name" >&2; exit 1; }
  else
    echo "downloading $name" >> "$LOG"
    for _ in $(seq 40); do echo "$want" >> "$cache/$name"; sleep 0.005; done
  fi
done
mkdir -p "$target/etc"
echo built > "$target/etc/marker"
"""


def stand_in_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "debootstrap"
    script.write_text(STAND_IN)
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "NAMES": " ".join(DEBS),
            "LOG": str(tmp_path / "downloads.log"), "DEB_CACHE": str(tmp_path / "debcache"),
            "DEBIAN_MIRROR": "http://127.0.0.1:9/debian"}


def build(dest: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(["bash", str(ROOTFS), str(dest), "bash"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_builds_side_by_side_share_the_cache_without_corrupting_it(tmp_path: Path) -> None:
    env = stand_in_env(tmp_path)
    roots = [tmp_path / "rootfs" / name for name in ("node", "data", "python")]
    builds = [build(dest, env) for dest in roots]
    outputs = [proc.communicate(timeout=60)[0] for proc in builds]

    assert [proc.returncode for proc in builds] == [0, 0, 0], outputs
    assert all((dest / "etc" / "marker").read_text() == "built\n" for dest in roots)
    cache = tmp_path / "debcache"
    assert sorted(p.name for p in cache.iterdir()) == sorted(DEBS)  # no temporary names left behind
    for name, text in DEBS.items():
        assert (cache / name).read_text() == text
    assert not list((tmp_path / "rootfs").glob("*.debs")) and not list((tmp_path / "rootfs").glob("*.partial"))


def test_a_later_build_downloads_nothing_the_cache_holds(tmp_path: Path) -> None:
    env = stand_in_env(tmp_path)
    first = build(tmp_path / "first", env)
    assert first.communicate(timeout=60)[0] and first.returncode == 0
    downloads = (tmp_path / "downloads.log").read_text().splitlines()
    assert len(downloads) == len(DEBS)

    second = build(tmp_path / "second", env)
    output = second.communicate(timeout=60)[0]
    assert second.returncode == 0, output
    assert (tmp_path / "downloads.log").read_text().splitlines() == downloads
