"""``drill run --war-room``: serve the war room of the drill this process runs, once it has a journal.

It watches for this process's active-drill marker instead of hooking into the runner, so the runner needs
no war-room code: the page comes up as soon as the runner announces its journal (before the fault).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from drills.warroom.server import WarRoomServer, start_war_room

#: How often to look for the marker (wall seconds).
POLL_S = 0.2


class AttachedWarRoom:
    def __init__(self, host: str, port: int, echo: Callable[[str], object]) -> None:
        self.host, self.port, self.echo = host, port, echo
        self.server: WarRoomServer | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._attach, name="war-room-attach", daemon=True)

    def start(self) -> AttachedWarRoom:
        self._thread.start()
        return self

    def _attach(self) -> None:
        from drills.warroom.cli import print_urls
        from drills.warroom.drill_link import drill_of_this_process
        from gameday.errors import GamedayError

        while not self._stop.wait(POLL_S):
            active = drill_of_this_process()
            if active is None:
                continue
            try:
                self.server = start_war_room(Path(active.journal), host=self.host, port=self.port)
            except GamedayError as exc:
                self.error = exc
                self.echo(f"war room not started: {exc}")
                return
            print_urls(self.server, self.echo)
            return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        if self.server is not None:
            self.server.stop()
