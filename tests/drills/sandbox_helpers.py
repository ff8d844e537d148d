"""Helpers for the sandbox tests (a module with a unique name, so pytest imports it unambiguously)."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

GAMEDAY = str(Path(sys.executable).with_name("gameday"))
SHARED_OFFSET = int(os.environ.get("GAMEDAY_TEST_SANDBOX_OFFSET", "5000"))


@dataclass
class SharedSandbox:
    target: object  # drills.targets.local.LocalTarget (imported lazily: the module needs the sandbox deps)
    env: dict[str, str]

    @property
    def prometheus(self) -> str:
        return self.target.sandbox.prometheus_url  # type: ignore[attr-defined]

    @property
    def alertmanager(self) -> str:
        return self.target.sandbox.alertmanager_url  # type: ignore[attr-defined]

    @property
    def app(self) -> str:
        return self.target.sandbox.app_url  # type: ignore[attr-defined]

    def query(self, promql: str) -> float | None:
        """One instant value from the real Prometheus, or None when the result is empty."""
        answer = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": promql}, timeout=5).json()
        assert answer["status"] == "success", answer
        result = answer["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def firing(self) -> set[str]:
        """Alert names Alertmanager holds as active (what it sends to the drill webhook)."""
        alerts = httpx.get(f"{self.alertmanager}/api/v2/alerts", params={"active": "true"}, timeout=5).json()
        return {a["labels"]["alertname"] for a in alerts if a["status"]["state"] == "active"}


def sandbox_tools_missing() -> list[str]:
    tools = ["pgbouncer", "prometheus", "prometheus-alertmanager", "unshare"]
    missing = [t for t in tools if shutil.which(t) is None]
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        missing.append("postgresql")
    return missing


