"""Alertmanager webhook receiver: turns notifications into ``alert_firing`` / ``alert_resolved`` events.

Alertmanager re-sends a group on every change and on ``repeat_interval``; each alert is journaled once
per transition (keyed by fingerprint and ``startsAt``), the moment its notification arrives.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gameday.errors import JournalError, TargetError
from gameday.journal import Event, EventType, JournalWriter


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    alertname: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str | None

    @classmethod
    def from_payload(cls, raw: dict[str, Any]) -> Alert:
        labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
        fingerprint = str(raw.get("fingerprint") or json.dumps(labels, sort_keys=True))
        return cls(
            fingerprint=fingerprint,
            alertname=labels.get("alertname", "unknown"),
            status=str(raw.get("status", "firing")),
            labels=labels,
            annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
            starts_at=str(raw.get("startsAt", "")),
            ends_at=raw.get("endsAt") if raw.get("status") == "resolved" else None,
        )


class AlertReceiver:
    """Serves ``POST /`` (any path) on a loopback port for Alertmanager's ``webhook_configs``."""

    def __init__(self, journal: JournalWriter, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise TargetError(f"the alert webhook only listens on loopback, not {host}")
        self.journal = journal
        self._lock = threading.Lock()
        self._state: dict[str, tuple[str, str]] = {}  # fingerprint -> (status, startsAt)
        self._firing: dict[str, Alert] = {}
        self.events: list[Event] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received = datetime.now(UTC)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    payload = json.loads(self.rfile.read(length) or b"{}")
                    alerts = [Alert.from_payload(a) for a in payload.get("alerts", [])]
                except (ValueError, AttributeError, TypeError):
                    self.send_response(400)
                    self.end_headers()
                    return
                try:
                    receiver.receive(alerts, payload.get("receiver"), received)
                except JournalError:  # disk full: Alertmanager retries; the runner ends the drill on it
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # keep the drill console clean
                return

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise TargetError(f"cannot listen for Alertmanager on {host}:{port}: {exc.strerror}") from None
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="alert-webhook", daemon=True)

    def start(self) -> AlertReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(
        self, alerts: list[Alert], receiver: str | None = None, received: datetime | None = None
    ) -> list[Event]:
        """Journal each alert whose state changed; return the events written."""
        received_at = (received or datetime.now(UTC)).isoformat()
        written: list[Event] = []
        with self._lock:
            for alert in alerts:
                key = (alert.status, alert.starts_at)
                if self._state.get(alert.fingerprint) == key:
                    continue  # a repeat of what we already journaled
                self._state[alert.fingerprint] = key
                data = {
                    "alertname": alert.alertname,
                    "severity": alert.labels.get("severity"),
                    "labels": alert.labels,
                    "annotations": alert.annotations,  # summary with the value (war room)
                    "starts_at": alert.starts_at,
                    "fingerprint": alert.fingerprint,
                    "receiver": receiver,
                    "received_at": received_at,  # webhook receipt, for the alert-to-journal latency
                }
                if alert.status == "firing":
                    self._firing[alert.fingerprint] = alert
                    kind = EventType.alert_firing
                else:
                    self._firing.pop(alert.fingerprint, None)
                    data["ends_at"] = alert.ends_at
                    kind = EventType.alert_resolved
                written.append(self.journal.emit(kind, "alertmanager", data))
            self.events.extend(written)
        return written

    def firing(self) -> list[Alert]:
        with self._lock:
            return list(self._firing.values())


def parse_time(text: str | None) -> datetime | None:
    """Alertmanager's RFC 3339 timestamps; its zero time ("0001-01-01...") means "not set"."""
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
