"""Alertmanager-in-the-cluster to the runner's webhook: poll the API, post webhook notifications.

Why: in the sandbox Alertmanager pushes to the runner's receiver on 127.0.0.1. An Alertmanager inside
kind cannot reach the host's loopback, but the host can reach it (kind maps it to 127.0.0.1:19093).
So the runner side polls ``GET /api/v2/alerts`` and turns every change of the firing set into the
same webhook payload Alertmanager would have sent, posted to the same receiver. Nothing in the
scoring or journal needs to know which way the alert came.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

from gameday.errors import SafetyError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _loopback_only(url: str) -> str:
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK and not host.startswith("127."):
        raise SafetyError(f"the alert bridge only talks to loopback addresses, not {url}")
    return url.rstrip("/")


def _webhook_alert(raw: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": raw.get("labels") or {},
        "annotations": raw.get("annotations") or {},
        "startsAt": raw.get("startsAt", ""),
        "endsAt": raw.get("endsAt", "0001-01-01T00:00:00Z") if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": raw.get("fingerprint", ""),
    }


class AlertBridge:
    """Polls Alertmanager every ``interval`` seconds on a daemon thread; ``start()`` / ``stop()``.

    The API lists an alert as soon as Prometheus sends it, before Alertmanager's own ``group_wait``; so that a
    drill detects as on the sandbox (where Alertmanager itself notifies), a new group (by ``alertname``, as the
    route groups) is posted once it has waited ``group_wait`` seconds.
    """

    def __init__(self, alertmanager_url: str, webhook_url: str, interval: float = 1.0,
                 group_wait: float = 0.0) -> None:
        self.alertmanager_url = _loopback_only(alertmanager_url)
        self.webhook_url = _loopback_only(webhook_url)
        self.interval = interval
        self.group_wait = group_wait
        self._groups: dict[str, float] = {}  # alertname -> when the group was first seen (monotonic)
        self._firing: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0
        self.errors = 0

    def start(self) -> AlertBridge:
        self._thread = threading.Thread(target=self._loop, name="alert-bridge", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (OSError, ValueError, urllib.error.URLError):
                self.errors += 1  # Alertmanager restarting or not up yet: try again next beat
            self._stop.wait(self.interval)

    def poll_once(self) -> list[dict[str, Any]]:
        """One poll: post the alerts that started or resolved since the last one; returns them."""
        url = f"{self.alertmanager_url}/api/v2/alerts?active=true&silenced=false&inhibited=false"
        with urllib.request.urlopen(url, timeout=5) as resp:
            listed = {a["fingerprint"]: a for a in json.loads(resp.read()) if a.get("fingerprint")}
        self.polls += 1
        now = time.monotonic()
        names = {str((a.get("labels") or {}).get("alertname", "")) for a in listed.values()}
        self._groups = {name: self._groups.get(name, now) for name in names}  # a group ends with its last alert
        current = {fp: a for fp, a in listed.items()
                   if now - self._groups[str((a.get("labels") or {}).get("alertname", ""))] >= self.group_wait}
        changes = [_webhook_alert(a, "firing") for fp, a in current.items() if fp not in self._firing]
        changes += [_webhook_alert(a, "resolved") for fp, a in self._firing.items() if fp not in current]
        if changes:
            payload = {
                "version": "4",
                "receiver": "k8s-alert-bridge",
                "status": "firing" if any(c["status"] == "firing" for c in changes) else "resolved",
                "alerts": changes,
            }
            request = urllib.request.Request(
                self.webhook_url + "/",
                data=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=5):
                pass
        self._firing = current
        return changes
