"""The read-only status page a drill serves for the runbook's Status Page channel (uvicorn, like the war room).

``GET /`` is a small HTML page (newest entry first, the current status on top, reloading itself every few
seconds); ``GET /api/status`` the same as JSON.  Nothing on it can be written from the network: entries come
only from the notifier, in this process.
"""

from __future__ import annotations

import html
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from drills.notify.messages import Message
from gameday.errors import TargetError

START_TIMEOUT_S = 15.0
#: The page reloads itself this often (seconds): users watch it during the drill.
REFRESH_S = 5


@dataclass
class Board:
    """What the page shows: every message delivered to it, in order."""

    title: str
    entries: list[Message] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, message: Message) -> None:
        with self._lock:
            if all(e.seq != message.seq for e in self.entries):
                self.entries.append(message)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            entries = list(self.entries)
        status = next((e.status for e in reversed(entries) if e.status), None)
        return {"title": self.title, "status": status or ("Operational" if not entries else "Investigating"),
                "entries": [asdict(e) for e in reversed(entries)]}

    def html(self) -> str:
        state = self.snapshot()
        esc = html.escape
        rows = []
        for entry in state["entries"]:
            badge = f'<span class="status">{esc(entry["status"])}</span> ' if entry["status"] else ""
            rows.append(f'<li data-seq="{entry["seq"]}" data-kind="{esc(entry["kind"])}">{badge}'
                        f'<strong>{esc(entry["subject"])}</strong> <time>{esc(entry["at"])}</time>'
                        f'<pre>{esc(entry["text"])}</pre></li>')
        listing = "\n".join(rows) or '<li class="none">No incident reported.</li>'
        return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                f'<meta http-equiv="refresh" content="{REFRESH_S}"><title>{esc(state["title"])}</title>'
                f'<style>body{{font-family:sans-serif;max-width:50rem;margin:2rem auto}}'
                f'pre{{white-space:pre-wrap;font-family:inherit}}.status{{font-weight:bold}}</style></head>'
                f'<body><h1>{esc(state["title"])}</h1><p id="current">Current status: '
                f'<strong>{esc(state["status"])}</strong></p><ol id="entries">{listing}</ol></body></html>')


class StatusPageServer:
    """uvicorn in a daemon thread; :meth:`start` returns once it accepts connections."""

    def __init__(self, host: str, port: int, title: str) -> None:
        self.host, self.port = host, port
        self.board = Board(title)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.getfqdn() or socket.gethostname()
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    def start(self) -> StatusPageServer:
        import uvicorn
        from fastapi import FastAPI
        from fastapi.responses import HTMLResponse, JSONResponse

        app = FastAPI(title="gameday status page", docs_url=None, redoc_url=None, openapi_url=None)
        board = self.board

        @app.get("/", response_class=HTMLResponse)
        def page() -> HTMLResponse:
            return HTMLResponse(board.html(), headers={"Cache-Control": "no-store"})

        @app.get("/api/status")
        def status() -> JSONResponse:
            return JSONResponse(board.snapshot(), headers={"Cache-Control": "no-store"})

        # bound here, not by uvicorn: a port in use is then one line of ours, not uvicorn's log and ours
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise TargetError(f"the status page could not listen on {self.host}:{self.port}: "
                              f"{exc.strerror or exc}") from None
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name="status-page",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise TargetError(f"the status page could not start on {self.host}:{self.port}")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
