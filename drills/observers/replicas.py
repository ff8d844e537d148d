"""Journals ``replica_state`` whenever a backend replica appears, changes state or restarts."""

from __future__ import annotations

import threading
from dataclasses import asdict

from drills.observers.periodic import Periodic
from drills.targets.base import ReplicaState, Target
from gameday.errors import TargetError
from gameday.journal import EventType, JournalWriter


class ReplicaWatcher(Periodic):
    """Polls ``target.replicas()`` (``kubectl get pods -w`` in spirit) and keeps the latest view."""

    def __init__(self, target: Target, journal: JournalWriter, interval: float = 1.0) -> None:
        super().__init__("replica-watcher", interval)
        self.target = target
        self.journal = journal
        self._lock = threading.Lock()
        self._seen: dict[str, ReplicaState] = {}

    def tick(self) -> None:
        try:
            replicas = self.target.replicas()
        except TargetError:
            return  # the target is mid-restart; the next beat will see it
        current = {r.name: r for r in replicas}
        with self._lock:
            previous, self._seen = self._seen, current
        for name, replica in current.items():
            if previous.get(name) != replica:
                self.journal.emit(EventType.replica_state, "target", asdict(replica))
        for name, replica in previous.items():
            if name not in current:
                self.journal.emit(
                    EventType.replica_state, "target", {**asdict(replica), "state": "Gone", "ready": False}
                )

    @property
    def replicas(self) -> list[ReplicaState]:
        with self._lock:
            return list(self._seen.values())

    def all_ready(self) -> bool:
        replicas = self.replicas
        return bool(replicas) and all(r.ready for r in replicas)
