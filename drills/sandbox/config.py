"""Where the sandbox lives and which loopback ports it uses; one closed model so tests and users can move
every port at once (``GAMEDAY_SANDBOX_PORT_OFFSET``) when two sandboxes share a machine."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from drills.detection import DetectionChain, WallDetection
from drills.state import state_dir
from gameday.errors import InputError
from gameday.releases import HEALTHY

#: The release the sandbox starts on (the release catalogue's healthy one).
HEALTHY_VERSION = HEALTHY.version
#: Each backend container's memory limit, as the kind Deployment's ``limits.memory`` (384Mi).
BACKEND_MEMORY_LIMIT_MIB = 384


class Ports(BaseModel):
    model_config = ConfigDict(extra="forbid")

    postgres: int = 15432
    pgbouncer: int = 16432
    service: int = 18080  # the load-balanced "Service"
    backend_base: int = 18081  # replica i listens on backend_base + i (up to max_replicas)
    upstream: int = 18070  # the insurance-eligibility dependency (error-burst fault)
    exporter: int = 19100  # pgbouncer pools + pod states (kube-state-metrics names)
    prometheus: int = 19090
    alertmanager: int = 19093
    webhook: int = 19095  # the drill runner's Alertmanager receiver
    toxiproxy: int = 19474  # Toxiproxy's API (the network fault's toxics)
    pgbouncer_link: int = 16434  # Toxiproxy's listener in front of PgBouncer: the backend's path to it
    upstream_link: int = 18072  # Toxiproxy's listener in front of the eligibility upstream

    def shifted(self, offset: int) -> Ports:
        return Ports(**{name: value + offset for name, value in self.model_dump().items()})


class SandboxConfig(BaseModel):
    """Everything the sandbox needs to know; defaults suit a laptop and CI alike."""

    model_config = ConfigDict(extra="forbid")

    state_dir: Path
    ports: Ports = Field(default_factory=Ports)
    replicas: int = Field(default=3, ge=0, le=20)
    max_replicas: int = Field(default=20, ge=1, description="ports reserved for backend replicas")
    version: str = HEALTHY_VERSION
    app_pool_size: int = Field(default=4, ge=1, description="psycopg pool per replica")
    app_pool_timeout_s: float = Field(default=1.0, gt=0, description="wait for a pool connection, then 503")
    pgbouncer_pool_size: int = Field(default=8, ge=1, description="server connections; small on purpose")
    pgbouncer_query_wait_timeout_s: int = Field(default=5, ge=1)
    time_scale: float = Field(default=60.0, gt=0, description="runbook seconds per wall second of the detection "
                                                                "chain (a drill sets its own)")
    detection: DetectionChain = Field(default_factory=DetectionChain, description="the alert path, runbook time")
    backoff_base_s: float = Field(default=1.0, gt=0, description="CrashLoopBackOff: first delay, doubled")
    backoff_max_s: float = Field(default=16.0, gt=0)
    backoff_reset_s: float = Field(default=10.0, gt=0, description="running this long resets the back-off")
    rollout_wait_s: float = Field(default=15.0, gt=0, description="per replica, before moving on")
    backend_memory_limit_mib: int = Field(default=BACKEND_MEMORY_LIMIT_MIB, ge=32, le=65536,
                                          description="each replica's memory limit: over it, OOMKilled")
    seed: int = 7

    @property
    def wall(self) -> WallDetection:
        """Scrape, evaluation, rule window, ``for`` and group wait in wall seconds at :attr:`time_scale`."""
        return self.detection.at(self.time_scale)

    @property
    def home(self) -> Path:
        """The sandbox folder: data, configs, logs, pid files."""
        return self.state_dir / "sandbox"

    @classmethod
    def from_env(cls, **overrides: object) -> SandboxConfig:
        """Defaults, moved by ``GAMEDAY_STATE_DIR`` and ``GAMEDAY_SANDBOX_PORT_OFFSET``."""
        state = state_dir()
        raw_offset = os.environ.get("GAMEDAY_SANDBOX_PORT_OFFSET", "0")
        try:
            offset = int(raw_offset)
        except ValueError:
            raise InputError(None, "GAMEDAY_SANDBOX_PORT_OFFSET", f"not an integer: {raw_offset!r}") from None
        values: dict[str, object] = {"state_dir": Path(state), "ports": Ports().shifted(offset)}
        values.update(overrides)
        return cls.model_validate(values)


def sandbox_dir() -> Path:
    """``${GAMEDAY_STATE_DIR:-~/.local/state/gameday}/sandbox`` without building a whole config."""
    return state_dir() / "sandbox"
