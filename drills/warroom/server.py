"""Run the war room with uvicorn in a background thread (inside ``drill run`` or ``gameday war-room``)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.warroom.actions import Room
from drills.warroom.security import Access
from gameday.errors import InputError, TargetError

#: How long to wait for uvicorn to bind (wall seconds).
START_TIMEOUT_S = 15.0


@dataclass
class WarRoomServer:
    host: str
    port: int
    access: Access
    _server: Any
    _thread: threading.Thread

    @property
    def base_url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.getfqdn() or socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def responder_url(self) -> str:
        return f"{self.base_url}/join?token={self.access.responder_token}"

    @property
    def game_master_url(self) -> str:
        return f"{self.base_url}/join?token={self.access.gm_token}"

    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


def start_war_room(journal: Path, *, host: str = "127.0.0.1", port: int = 0, room: Room | None = None,
                   runbook: Any = None, access: Access | None = None) -> WarRoomServer:
    """Serve the war room for ``journal``; returns once it accepts connections."""
    import uvicorn

    from drills.warroom.app import create_app
    from gameday.journal import journal_meta, read_journal
    from gameday.scoring.engine import resolve_runbook

    journal = Path(journal)
    if not journal.is_file():
        raise InputError(journal, None, "no such journal; give the journal.jsonl of a drill")
    if runbook is None:
        runbook = resolve_runbook(None, journal_meta(read_journal(journal)[:1]), journal.parent)
    access = access or Access()
    app = create_app(journal, runbook, access, room)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2, timeout_keep_alive=75)  # a shared screen idles
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="war-room", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise TargetError(f"the war room could not listen on {host}:{port} (port in use?)")
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return WarRoomServer(host=host, port=int(bound), access=access, _server=server, _thread=thread)
