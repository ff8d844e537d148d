"""Helpers for the war-room tests (a module with a unique name, so pytest imports it unambiguously)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class LiveRoom:
    journal: Path
    server: object  # drills.warroom.server.WarRoomServer
    drill_id: str
    active: object = None  # the active-drill marker standing in for a runner

    def client(self, gm: bool = False) -> httpx.Client:
        """A participant who opened the join link: has the cookie; ``csrf`` is read from the page."""
        url = self.server.game_master_url if gm else self.server.responder_url  # type: ignore[attr-defined]
        client = httpx.Client(base_url=self.server.base_url, timeout=30)  # type: ignore[attr-defined]
        assert client.get(url).status_code == 303
        page = client.get("/").text
        client.headers["X-CSRF-Token"] = page.split('name="csrf-token" content="')[1].split('"')[0]
        return client

    def lines(self) -> bytes:
        return self.journal.read_bytes()
