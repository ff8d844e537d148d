"""The cold build's record (make bench prints it) keeps the build's stages only: a cluster deleted before the
build (bench_kind's warm runs) once wrote its ``delete`` among the build stages."""

from __future__ import annotations

import json
import time
from pathlib import Path

from drills.k8s.build.progress import Progress


def test_only_stages_that_ran_during_the_build_are_recorded(tmp_path: Path) -> None:
    record = tmp_path / "build-times.json"
    progress = Progress(echo=lambda _line: None)
    progress.times["delete"] = 6.0  # before the build, as KindCluster.delete() leaves it
    before = dict(progress.times)
    with progress.stage("app images"):
        time.sleep(0.01)
    progress.times["app images"] = 3.5  # as a real build would take (stage() measured a few ms)
    progress.cached("node image", "gameday/kind-node:x")
    progress.record(record, since=before)
    kept = json.loads(record.read_text(encoding="utf-8"))
    assert set(kept) == {"app images"} and kept["app images"]["seconds"] == 3.5

    progress.record(record)  # without a snapshot every stage that ran counts, as before
    assert set(json.loads(record.read_text(encoding="utf-8"))) == {"app images", "delete"}
