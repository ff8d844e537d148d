"""The control-plane binaries' cache directory is named the same way in its three readers: ``build.sh`` (which
fills it), the test control plane (``k8s_testenv.py``) and the kind build (``drills/k8s/build/versions.py``).

If they disagreed, a warm machine would compile Kubernetes again (20 minutes on 2 cores) or a test would look
for binaries where none were put.  The key covers go.mod and go.sum: a bumped library rebuilds.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from drills.k8s.build import versions

TESTENV = Path(__file__).resolve().parents[2] / "tools" / "k8s-testenv"


def test_build_sh_finds_the_binaries_where_both_python_readers_look(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, k8s_testenv_module: ModuleType) -> None:
    monkeypatch.setenv("GAMEDAY_CACHE", str(tmp_path))
    bin_dir = versions.testenv_bin_dir()
    assert k8s_testenv_module.cache_bin_dir() == bin_dir
    bin_dir.mkdir(parents=True)
    for name in k8s_testenv_module.BINARIES:
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    # no Go at all: a build.sh that looked elsewhere would try to compile and fail
    env = {**os.environ, "GAMEDAY_CACHE": str(tmp_path), "GO": str(tmp_path / "no-go")}
    done = subprocess.run(["bash", TESTENV / "build.sh"], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "cached binaries present" in done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(bin_dir)


def test_the_key_changes_with_the_module_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEDAY_CACHE", str(tmp_path))
    copy = tmp_path / "k8s-testenv"
    copy.mkdir()
    for name in ("go.mod", "go.sum"):
        (copy / name).write_bytes((TESTENV / name).read_bytes())
    monkeypatch.setattr(versions, "TESTENV", copy)
    before = versions.testenv_bin_dir()
    with (copy / "go.sum").open("a") as go_sum:
        go_sum.write("example.com/bumped v1.0.1 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    assert versions.testenv_bin_dir() != before
