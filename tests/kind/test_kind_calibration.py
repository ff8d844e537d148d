"""A drill runs the cluster's detection chain at its own time scale, and a killed drill's settings come back.

The runner sets the cluster's Prometheus and Alertmanager for the drill's time scale (journaled with the wall
values and the floors hit), Prometheus really runs them during the drill, and after a ``kill -9`` of the runner
the next ``gameday`` start restores the resting settings exactly as it reverts the fault.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from conftest import GAMEDAY, REPO, Kind, wait_fault_applied

from drills.k8s import monitoring
from drills.k8s.calibration import seconds
from drills.k8s.objects import INJECTION_ANNOTATION
from gameday.journal import EventType, read_journal

pytestmark = [pytest.mark.kind, pytest.mark.slow]


def loaded_scrape_interval(kind: Kind) -> float:
    url = kind.target.endpoints().prometheus_url + "/api/v1/status/config"
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = json.loads(resp.read())["data"]["yaml"]
    line = next(line for line in text.splitlines() if line.strip().startswith("scrape_interval:"))
    return seconds(line.split(":", 1)[1].strip())


def settings(kind: Kind) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The two ConfigMaps' data, and the Prometheus one's annotations."""
    target = kind.target
    data = {name: target.core.read_namespaced_config_map(name, target.world.monitoring_namespace).data
            for name in (monitoring.PROMETHEUS_CONFIG, monitoring.ALERTMANAGER_CONFIG)}  # fmt: skip
    meta = target.core.read_namespaced_config_map(monitoring.PROMETHEUS_CONFIG, target.world.monitoring_namespace)
    return data, meta.metadata.annotations or {}


def test_a_killed_drills_detection_settings_are_restored_by_the_next_start(kind: Kind, tmp_path: Path) -> None:
    resting, annotations = settings(kind)
    assert INJECTION_ANNOTATION not in annotations
    assert loaded_scrape_interval(kind) == 15.0  # between drills: runbook time, like production
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [GAMEDAY, "drill", "run", str(REPO / "scenarios" / "slow-queries.yaml"), "--target", "kubernetes",
         "--context", kind.context, "--kubeconfig", str(kind.kubeconfig), "--out", str(out), "--responder",
         "human", "--time-scale", "60"],
        env=kind.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        wait_fault_applied(out, proc, "slow-queries")
        events = read_journal(next(out.glob("*/journal.jsonl")))
        calibration = next(e.data["calibration"] for e in events
                           if e.type is EventType.note and "calibration" in e.data)  # fmt: skip
        assert calibration["scaled"] is True and calibration["scrape_interval_s"] == 0.5
        assert "scrape_interval" in calibration["floored"]  # 15 s / 60 is under the 0.5 s floor: said so
        assert loaded_scrape_interval(kind) == 0.5  # Prometheus really runs the drill's chain
        assert INJECTION_ANNOTATION in settings(kind)[1]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no clean-up of its own: the next start must do it
        proc.wait(30)
    status = subprocess.run([GAMEDAY, "cluster", "status"], env=kind.env(), capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "reverted slow-queries" in status.stderr and "reverted detection-settings" in status.stderr, status.stderr
    data, annotations = settings(kind)
    assert data == resting and INJECTION_ANNOTATION not in annotations
    assert loaded_scrape_interval(kind) == 15.0
    assert kind.target.pending_injections() == []
    notes = [e for e in read_journal(next(out.glob("*/journal.jsonl"))) if e.actor == "recovery"]
    assert {e.type for e in notes} == {EventType.fault_reverted, EventType.note}, notes
