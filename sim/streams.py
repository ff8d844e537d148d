"""Common random numbers: one independent stream per stochastic activity, spawned from the seed.

Replication ``r`` of seed ``s`` owns ``SeedSequence(s, spawn_key=(r, activity))`` for each activity in
:data:`ACTIVITIES`; inside an activity every purpose (a workflow node, a paging round...) gets its own
child keyed by a stable hash of its name, and its k-th *visit* reads column k.  Two policies run with
the same seed therefore see the same arrivals, the same detection luck and the same k-th diagnosis
attempt for the same incident, whatever else they change.
"""

from __future__ import annotations

import zlib

import numpy as np

ACTIVITIES: tuple[str, ...] = ("arrivals", "detection", "ack", "diagnosis", "fix", "recurrence", "process")


class Uniforms:
    """Uniform(0,1) columns for one purpose, one value per incident per visit, generated lazily in order."""

    __slots__ = ("_columns", "_gen", "n")

    def __init__(self, seq: np.random.SeedSequence, n: int) -> None:
        self._gen = np.random.Generator(np.random.PCG64(seq))
        self._columns: list[np.ndarray] = []
        self.n = n

    def col(self, k: int = 0) -> np.ndarray:
        while len(self._columns) <= k:
            self._columns.append(self._gen.random(self.n))
        return self._columns[k]

    def at(self, index: np.ndarray, visit: np.ndarray | int) -> np.ndarray:
        """Uniforms for incidents ``index`` at their visit numbers ``visit``."""
        if np.isscalar(visit):
            return self.col(int(visit))[index]
        visit = np.asarray(visit)
        if visit.size == 0:
            return np.empty(0)
        top = int(visit.max())
        if top == int(visit.min()):
            return self.col(top)[index]
        out = np.empty(index.size)
        for k in np.unique(visit):
            mask = visit == k
            out[mask] = self.col(int(k))[index[mask]]
        return out


#: marks a chunk number in a spawn key (chunk 0 adds nothing, so a one-chunk run is the plain replication)
CHUNK_MARK = zlib.crc32(b"chunk")


class Streams:
    """All random inputs of one replication.  ``salt`` != 0 breaks CRN (independent streams).

    ``chunk`` k > 0 gives a replication's k-th chunk its own streams: a sweep cuts a long replication into
    independent runs of at most ``chunk_incidents`` incidents; chunk 0 reads the replication's own streams."""

    def __init__(self, seed: int, replication: int, n: int, salt: int = 0, chunk: int = 0) -> None:
        self.seed = int(seed)
        self.replication = int(replication)
        self.n = int(n)
        self.salt = int(salt)
        self.chunk = int(chunk)
        self._cache: dict[tuple[str, str], Uniforms] = {}

    def generator(self, activity: str) -> np.random.Generator:
        """A whole-activity generator (used for arrivals, which are drawn as one block)."""
        return np.random.Generator(np.random.PCG64(self._seq(activity, None)))

    def u(self, activity: str, purpose: str) -> Uniforms:
        key = (activity, purpose)
        if key not in self._cache:
            self._cache[key] = Uniforms(self._seq(activity, purpose), self.n)
        return self._cache[key]

    def _seq(self, activity: str, purpose: str | None) -> np.random.SeedSequence:
        spawn_key: tuple[int, ...] = (self.replication, ACTIVITIES.index(activity))
        if purpose is not None:
            spawn_key += (zlib.crc32(purpose.encode()),)
        if self.salt:
            spawn_key += (self.salt,)
        if self.chunk:
            spawn_key += (CHUNK_MARK, self.chunk)
        return np.random.SeedSequence(self.seed, spawn_key=spawn_key)
