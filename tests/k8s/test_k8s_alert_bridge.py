"""The alert bridge turns a real Alertmanager's API state into webhook notifications for the runner."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drills.k8s.alerts import AlertBridge
from drills.observers.webhook import AlertReceiver
from gameday.errors import SafetyError
from gameday.journal import EventType, JournalWriter, read_journal


def post_alert(url: str, ends_at: datetime | None = None) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": "HighErrorRate", "severity": "critical"},
        "annotations": {"summary": "More than 5% of requests fail"},
        "startsAt": (now - timedelta(seconds=30)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    request = urllib.request.Request(
        f"{url}/api/v2/alerts", data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=5).close()


def test_firing_and_resolved_alerts_reach_the_journal(alertmanager: str, tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path / "drill.jsonl", "d-alerts")
    receiver = AlertReceiver(journal).start()
    bridge = AlertBridge(alertmanager, receiver.url, interval=0.2).start()
    try:
        post_alert(alertmanager)
        deadline = time.monotonic() + 15
        while not [e for e in read_journal(journal.path) if e.type is EventType.alert_firing]:
            assert time.monotonic() < deadline, "alert_firing never journaled"
            time.sleep(0.2)
        post_alert(alertmanager, ends_at=datetime.now(UTC) - timedelta(seconds=1))
        while not [e for e in read_journal(journal.path) if e.type is EventType.alert_resolved]:
            assert time.monotonic() < deadline + 15, "alert_resolved never journaled"
            time.sleep(0.2)
    finally:
        bridge.stop()
        receiver.stop()
        journal.close()
    events = read_journal(journal.path)
    firing = [e for e in events if e.type is EventType.alert_firing]
    assert len(firing) == 1
    assert firing[0].data["alertname"] == "HighErrorRate" and firing[0].data["severity"] == "critical"
    assert firing[0].data["receiver"] == "k8s-alert-bridge"


def test_bridge_refuses_non_loopback_addresses() -> None:
    with pytest.raises(SafetyError):
        AlertBridge("http://alertmanager.example:9093", "http://127.0.0.1:1/")
    with pytest.raises(SafetyError):
        AlertBridge("http://127.0.0.1:9093", "http://10.0.0.5:19095/")
