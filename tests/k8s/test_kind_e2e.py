"""The real kind path: create the cluster, build and load the backend images, apply, drill a fault.

Skipped (with the reason) where Docker or kind are missing, as on CI machines without a container
registry; where they exist it runs end to end and deletes its cluster afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from drills.k8s.cluster import KindCluster, require_tools
from drills.k8s.target import BACKEND
from gameday.errors import TargetError
from gameday.scenario import Fault, FaultType

pytestmark = pytest.mark.kind


def _missing() -> list[str]:
    """Tools absent, plus a Docker daemon that does not answer (a docker CLI alone is not enough)."""
    missing = [tool for tool in ("docker", "kind", "kubectl") if shutil.which(tool) is None]
    if "docker" not in missing:
        try:
            ok = subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        if not ok:
            missing.append("a running Docker daemon")
    return missing


MISSING = _missing()


def test_missing_tools_are_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(TargetError, match=r"needs docker \(install Docker.*kind \(install kind"):
        require_tools("docker", "kind")
    with pytest.raises(TargetError, match="docker"):
        KindCluster(name="gameday-e2e").up()


@pytest.mark.skipif(bool(MISSING), reason=f"kind e2e needs docker, kind and kubectl; missing: {', '.join(MISSING)}")
def test_kind_cluster_drill_end_to_end() -> None:
    cluster = KindCluster(name="gameday-e2e")
    try:
        target = cluster.up(timeout=900)
        assert target.context == "kind-gameday-e2e"
        assert len([r for r in target.replicas() if r.ready]) == 3
        record = target.inject(Fault(type=FaultType.crashloop))
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if any(r.state == "CrashLoopBackOff" for r in target.replicas()):
                break
            time.sleep(2)
        else:
            pytest.fail(f"deployment/{BACKEND} never crash-looped with a bad DATABASE_URL")
        target.revert(record)
        target.wait_ready(300)
        assert target.pending_injections() == []
    finally:
        if cluster.exists():
            cluster.delete()
