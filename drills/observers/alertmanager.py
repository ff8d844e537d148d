"""Alertmanager's own view of what is firing (the steady-state check: no alert may fire before a fault)."""

from __future__ import annotations

import httpx

from gameday.errors import TargetError


def active_alerts(url: str, timeout: float = 3.0) -> list[str]:
    """Names of alerts Alertmanager holds as active (not silenced, not inhibited)."""
    try:
        response = httpx.get(
            f"{url.rstrip('/')}/api/v2/alerts",
            params={"active": "true", "silenced": "false", "inhibited": "false"},
            timeout=timeout,
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise TargetError(f"Alertmanager at {url} did not answer: {exc}") from None
    return sorted({str(alert.get("labels", {}).get("alertname", "?")) for alert in response.json()})


def ready(url: str, timeout: float = 2.0) -> bool:
    """Whether Alertmanager answers its readiness check (the drill notes when it stops and starts again)."""
    try:
        return httpx.get(f"{url.rstrip('/')}/-/ready", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
