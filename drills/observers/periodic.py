"""A daemon thread that calls ``tick()`` every ``interval`` seconds until stopped."""

from __future__ import annotations

import logging
import threading
import time

from gameday.errors import JournalError

log = logging.getLogger(__name__)


class Periodic(threading.Thread):
    """Runs ``tick`` on a fixed cadence (drift-free), so samples land ~1 s apart even when a query is slow.

    A failing tick is logged and retried on the next beat: an observer must not die mid-drill because
    Prometheus answered one query with an error.
    """

    def __init__(self, name: str, interval: float) -> None:
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def tick(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def run(self) -> None:
        next_beat = time.monotonic()
        while not self.stopped.is_set():
            try:
                self.tick()
            except JournalError:  # the journal cannot be written (disk full): the runner ends the drill on it
                log.debug("%s: journal write refused", self.name)
            except Exception:  # an observer outlives a bad sample; the cause is logged
                log.exception("%s: tick failed", self.name)
            next_beat += self.interval
            delay = next_beat - time.monotonic()
            if delay < 0:  # fell behind (slow query): skip the missed beats rather than burst
                next_beat = time.monotonic()
                delay = 0
            self.stopped.wait(delay)

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
