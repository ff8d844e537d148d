"""The backend "Deployment": desired replicas and the rollout history (what ``kubectl rollout history``
shows).  Kubelets read the current revision whenever they start a container."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from drills.sandbox.paths import read_json, write_json_atomic


class Revision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int
    version: str
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    cause: str = ""


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replicas: int
    history: list[Revision]

    @property
    def current(self) -> Revision:
        return self.history[-1]

    @property
    def version(self) -> str:
        return self.current.version

    def rolled_to(self, version: str, cause: str) -> Deployment:
        """A new revision on top (an undo is also a new revision, as in Kubernetes)."""
        nxt = Revision(revision=self.current.revision + 1, version=version, cause=cause)
        return self.model_copy(update={"history": [*self.history, nxt]})

    def previous_version(self) -> str | None:
        """The version before the current one that differs from it (``rollout undo`` target)."""
        for rev in reversed(self.history[:-1]):
            if rev.version != self.version:
                return rev.version
        return None


class DeploymentStore:
    """deployment.json, updated under an flock so the CLI and a drill runner never lose an update."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> Deployment | None:
        data = read_json(self.path)
        return Deployment.model_validate(data) if data else None

    def ensure(self, replicas: int, version: str) -> Deployment:
        with self.locked() as current:
            if current is not None:
                return current
            dep = Deployment(replicas=replicas, history=[Revision(revision=1, version=version, cause="initial")])
            self._write(dep)
            return dep

    @contextmanager
    def locked(self) -> Iterator[Deployment | None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self.read()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def update(self, dep: Deployment) -> Deployment:
        with self.locked():
            self._write(dep)
        return dep

    def _write(self, dep: Deployment) -> None:
        write_json_atomic(self.path, dep.model_dump(mode="json"), durable=True)
