"""The memory-leaking release's bug (the release catalogue's ``leaks_memory``): a cache of search results that
is never evicted, so the process keeps more memory every second until its container is OOM-killed.

Paced, not driven by traffic: it grows at the ``memory_leak_mib_per_s`` knob's rate (wall seconds; the fault sets
it from MiB per runbook minute at the drill's time scale), so the kill comes after the same runbook minutes
whatever the request rate, on both targets.  Each container starts empty (a restart frees it all), as a leak does.
"""

from __future__ import annotations

import asyncio
import time

from drills.service.knobs import KnobReader

MIB = 1 << 20
#: How often the cache grows (wall seconds): fine enough that a limit is crossed by at most a tick's growth.
TICK_S = 0.05


class MemoryLeak:
    """Memory really kept: every MiB is written (``bytes * n`` fills it), so it is resident, not just reserved."""

    def __init__(self, knobs: KnobReader) -> None:
        self.knobs = knobs
        self.kept: list[bytes] = []
        self._owed = 0.0

    @property
    def kept_bytes(self) -> int:
        return len(self.kept) * MIB

    def grow(self, seconds: float) -> None:
        """Keep what ``seconds`` at the knob's rate add (fractions carried to the next tick)."""
        self._owed += self.knobs.get().memory_leak_mib_per_s * seconds
        while self._owed >= 1.0:
            self.kept.append(b"\xa5" * MIB)
            self._owed -= 1.0

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            self.grow(now - last)
            last = now
