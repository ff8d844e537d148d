"""The sandbox's network links through Toxiproxy's HTTP API: what the network fault adds and what its revert removes.

Why a client of our own: three calls (list, add, delete a toxic) over httpx, which the sandbox already uses; the
toxics' names say they are a drill's (``gameday-...``), so a revert can find every one, its own or a killed
runner's, and a healthy link has none.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from gameday.errors import TargetError

#: The links the network fault can degrade: the fault's ``link`` -> Toxiproxy's proxy (drills/sandbox/configs.py).
LINKS = {"pgbouncer": "pgbouncer", "upstream": "upstream"}
#: What every toxic a drill adds is called (then its mode and direction).
PREFIX = "gameday-"
#: Toxics that hold a connection's bytes (a partition): removing them leaves connections waiting for ever.
HOLDING = frozenset({"timeout"})


class Toxiproxy:
    """One sandbox's Toxiproxy, at ``url`` (127.0.0.1)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        """One HTTP call: ``(status, body)``; a TargetError when nothing answers.  The kind target's client
        (drills/k8s/toxiproxy.py) sends the same calls through the API server instead."""
        try:
            answer = httpx.request(method, f"{self.url}{path}", json=body, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise TargetError(f"Toxiproxy ({self.url}) does not answer: {type(exc).__name__}") from None
        return answer.status_code, answer.content

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, content = self._request(method, path, body)
        if status == 404 and method == "DELETE":
            return None  # already gone: a revert is safe twice
        if status >= 400:
            text = content.decode("utf-8", "replace").strip()[:200]
            raise TargetError(f"Toxiproxy refused {method} {path}: {status} {text}")
        return json.loads(content) if content else None

    def toxics(self, link: str) -> list[dict[str, Any]]:
        """Every toxic on ``link``'s proxy (a drill's or anyone's)."""
        return list(self._call("GET", f"/proxies/{LINKS[link]}/toxics") or [])

    def add(
        self, link: str, name: str, kind: str, stream: str, attributes: dict[str, Any], toxicity: float = 1.0
    ) -> None:
        body = {"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        self._call("POST", f"/proxies/{LINKS[link]}/toxics", body)

    def remove(self, link: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{LINKS[link]}/toxics/{name}")

    def clear(self, link: str) -> list[str]:
        """Remove every toxic of ``link``; the names removed.  A partition's held connections are dropped too
        (:meth:`reconnect`)."""
        toxics = self.toxics(link)
        for toxic in toxics:
            self.remove(link, str(toxic["name"]))
        if any(toxic.get("type") in HOLDING for toxic in toxics):
            self.reconnect(link)
        return [str(toxic["name"]) for toxic in toxics]

    def reconnect(self, link: str) -> None:
        """Close every connection on ``link`` (the proxy off and on again).  A partition's ``timeout`` toxic eats
        the bytes it holds, so a query sent during it would wait for ever once it is gone; on a real network
        those connections time out, and so they must here: the clients see an error and open new ones."""
        for enabled in (False, True):
            self._call("POST", f"/proxies/{LINKS[link]}", {"enabled": enabled})
