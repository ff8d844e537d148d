"""The sandbox folder's layout in one place, so the controller, the kubelets, the Service and the exporter
agree on every file without passing paths around."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Layout:
    home: Path

    @property
    def config(self) -> Path:
        return self.home / "config.json"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def programs(self) -> Path:
        return self.home / "programs"

    @property
    def supervisor_conf(self) -> Path:
        return self.home / "supervisord.conf"

    @property
    def supervisor_sock(self) -> Path:
        return self.home / "supervisor.sock"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def pgbouncer(self) -> Path:
        return self.home / "pgbouncer"

    @property
    def prometheus(self) -> Path:
        return self.home / "prometheus"

    @property
    def alertmanager(self) -> Path:
        return self.home / "alertmanager"

    @property
    def toxiproxy_config(self) -> Path:
        return self.home / "toxiproxy.json"

    @property
    def pods(self) -> Path:
        return self.home / "pods"

    @property
    def deployment(self) -> Path:
        return self.home / "deployment.json"

    @property
    def knobs(self) -> Path:
        return self.home / "knobs.json"

    @property
    def injections(self) -> Path:
        return self.home / "injections"

    def pod_status(self, name: str) -> Path:
        return self.pods / f"{name}.json"


def write_json_atomic(path: Path, data: Any, *, durable: bool = False) -> None:
    """Readers never see a torn file; ``durable`` also survives a power cut (injection records)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=2, default=str))
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
    if durable:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except ValueError:
        return default
