"""The kind base images leave out of their debootstrapped root what no container uses (``BASE_EXCLUDES``,
drills/k8s/build/versions.py): every megabyte is ``kind load``ed by each ``cluster up``.  The patterns are tar
``--exclude`` wildcards, so a near-miss silently drops a neighbour (``perl`` vs ``perl-base``, ``usr/share/perl``
vs ``perl5``) or keeps what it meant to drop.  Here the real ``docker.import_rootfs`` tars a stand-in root for each
base into a stand-in ``docker import``; what it sends is what the image holds.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from drills.k8s.build import docker
from drills.k8s.build.progress import Progress
from drills.k8s.build.versions import BASE_EXCLUDES

SITE = "opt/venv/lib/python3.11/site-packages"

#: (left out, kept) per base: paths as debootstrap and pip lay them out.
LAYOUT: dict[str, tuple[list[str], list[str]]] = {
    "data": (
        ["usr/lib/x86_64-linux-gnu/libLLVM-14.so.1", "usr/lib/x86_64-linux-gnu/libLLVM-14.so",
         "usr/lib/x86_64-linux-gnu/libz3.so.4", "usr/lib/postgresql/15/lib/llvmjit.so",
         "usr/lib/postgresql/15/lib/llvmjit_types.bc", "usr/lib/postgresql/15/lib/bitcode/postgres/a.bc",
         "var/lib/postgresql/15/main/PG_VERSION", "usr/lib/x86_64-linux-gnu/perl/5.36.0/POSIX.pm",
         "usr/share/perl/5.36.0/strict.pm", "usr/lib/x86_64-linux-gnu/libperl.so.5.36.0",
         "usr/bin/perl5.36-x86_64-linux-gnu", "usr/bin/promtool", "usr/bin/amtool",
         "usr/share/javascript/moment-timezone/data/packed/latest.json", "usr/share/locale/de/LC_MESSAGES/x.mo",
         "usr/share/i18n/charmaps/UTF-8.gz"],
        ["usr/lib/postgresql/15/bin/postgres", "usr/lib/postgresql/15/bin/initdb", "usr/lib/postgresql/15/bin/psql",
         "usr/lib/postgresql/15/lib/plpgsql.so", "usr/lib/x86_64-linux-gnu/libicudata.so.72.1",
         "usr/lib/x86_64-linux-gnu/perl-base/strict.pm", "usr/share/perl5/Debconf/Db.pm", "usr/bin/perl",
         "usr/sbin/pgbouncer", "usr/bin/prometheus", "usr/bin/prometheus-alertmanager",
         "usr/share/javascript/moment-timezone/moment-timezone-with-data.min.js", "usr/lib/locale/C.utf8/LC_CTYPE",
         "var/lib/postgresql/.keep", "etc/postgresql-common/createcluster.conf"],
    ),
    "python": (
        [f"{SITE}/pip/__init__.py", f"{SITE}/pip-23.0.1.dist-info/RECORD", f"{SITE}/setuptools/__init__.py",
         f"{SITE}/setuptools-66.1.1.dist-info/RECORD", f"{SITE}/pkg_resources/__init__.py",
         f"{SITE}/_distutils_hack/__init__.py", f"{SITE}/distutils-precedence.pth", "opt/venv/bin/pip3.11",
         f"{SITE}/kubernetes/aio/client/api_client.py", f"{SITE}/aiohttp/__init__.py",
         f"{SITE}/aiohttp-3.14.5.dist-info/METADATA", f"{SITE}/yarl/__init__.py", f"{SITE}/multidict/__init__.py",
         "usr/share/python-wheels/pip-23.0.1-py3-none-any.whl", "usr/share/locale/de/LC_MESSAGES/x.mo"],
        [f"{SITE}/kubernetes/__init__.py", f"{SITE}/kubernetes/client/api_client.py",
         f"{SITE}/kubernetes/client/__pycache__/api_client.cpython-311.pyc",
         f"{SITE}/kubernetes-37.0.2.dist-info/RECORD",
         f"{SITE}/psycopg/__init__.py", f"{SITE}/psycopg_binary.libs/libpq.so", f"{SITE}/prometheus_client/__init__.py",
         f"{SITE}/pydantic/__init__.py", f"{SITE}/attrs/__init__.py", "opt/venv/bin/python3.11", "opt/venv/bin/uvicorn",
         "usr/lib/python3.11/encodings/utf_8.py", "usr/bin/python3.11", "usr/lib/locale/C.utf8/LC_CTYPE"],
    ),
}


@pytest.mark.parametrize("base", sorted(BASE_EXCLUDES))
def test_the_base_image_leaves_out_what_no_container_uses_and_keeps_the_rest(base: str, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    left_out, kept = LAYOUT[base]
    root = tmp_path / "root"
    for rel in left_out + kept:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    imported = tmp_path / "imported.tar"
    stand_in = tmp_path / "docker"
    stand_in.write_text(f'#!/bin/sh\n[ "$1" = import ] || exit 2\ncat > "{imported}"\n')
    stand_in.chmod(0o755)
    monkeypatch.setattr(docker, "docker_bin", lambda: str(stand_in))

    docker.import_rootfs(root, "gameday/test-base:key", ["LABEL a=b"], tmp_path / "import.log", Progress(echo=print),
                         "importing", excludes=BASE_EXCLUDES[base])

    with tarfile.open(imported) as tar:
        files = {os.path.normpath(m.name) for m in tar.getmembers() if m.isfile()}
    assert files == set(kept), (f"left out but needed: {sorted(set(kept) - files)}; "
                                f"shipped but meant to be left out: {sorted(files - set(kept))}")
