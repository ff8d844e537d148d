"""The protocol every drill target implements, so the runner, autopilot and observers never care whether
they talk to the local sandbox or to a Kubernetes cluster.

Safety contract: ``inject`` persists an :class:`InjectionRecord` *before* it changes anything, and
``pending_injections`` finds records that were never reverted (a runner killed with SIGKILL), so the next
start can revert them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from gameday.errors import TargetError
from gameday.faults import FaultType
from gameday.remediations import Remediation, checked
from gameday.scenario import Fault

if TYPE_CHECKING:
    from drills.detection import DetectionChain
    from gameday.errors import GamedayError
    from gameday.journal import JournalWriter


@dataclass(frozen=True)
class Endpoints:
    """Where traffic and queries go; always loopback addresses."""

    app_url: str  # the load-balanced backend ("Service"), e.g. http://127.0.0.1:18080
    prometheus_url: str
    alertmanager_url: str
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplicaState:
    """A backend pod (or sandbox replica) as ``kubectl get pods`` would show it."""

    name: str
    state: str  # Running | CrashLoopBackOff | Pending | Terminating | Failed
    ready: bool
    restarts: int
    version: str


class SetupChange(StrEnum):
    """What a drill changes on a target besides its fault, recorded and undone the way a fault is."""

    detection = "detection-settings"  # the cluster's scrape/evaluation/rule/grouping settings at the time scale


class InjectionRecord(BaseModel):
    """What was injected and everything needed to undo it; persisted before the change is made."""

    model_config = ConfigDict(extra="forbid")

    id: str
    target: str
    fault: FaultType | SetupChange
    params: dict[str, Any] = Field(default_factory=dict)
    revert_state: dict[str, Any] = Field(default_factory=dict, description="target-specific undo data")
    drill_id: str | None = None
    runner_pid: int | None = None
    injected_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    reverted_at: datetime | None = None


TargetT = TypeVar("TargetT")
#: One target's way of taking one remediation: the target, the catalogue-validated parameters -> what was done.
Remedy = Callable[[TargetT, Any], str]


class RemedyRegistry(Generic[TargetT]):
    """One target's implementation of each catalogued remediation (:mod:`gameday.remediations`), registered
    with ``@REMEDIES.register(Remediation.x)`` on a method; :meth:`take` validates the name and parameters
    against the catalogue, then calls it.  :meth:`missing` is what a test checks for every target."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._remedies: dict[Remediation, Remedy[TargetT]] = {}

    def register(self, name: Remediation) -> Callable[[Remedy[TargetT]], Remedy[TargetT]]:
        def add(remedy: Remedy[TargetT]) -> Remedy[TargetT]:
            if name in self._remedies:
                raise ValueError(f"{self.target}: two implementations of {name.value}")
            self._remedies[name] = remedy
            return remedy

        return add

    def take(self, target: TargetT, action: Remediation | str, params: dict[str, Any]) -> str:
        name, values = checked(action, params)
        remedy = self._remedies.get(name)
        if remedy is None:  # a test keeps this from happening (tests/drills/test_remediation_catalogue.py)
            raise TargetError(f"the {self.target} target cannot {name.value}")
        return remedy(target, values)

    def names(self) -> list[Remediation]:
        return list(self._remedies)

    def missing(self) -> list[Remediation]:
        return [name for name in Remediation if name not in self._remedies]


@runtime_checkable
class Target(Protocol):
    name: str
    #: How this target takes each catalogued remediation.
    remedies: ClassVar[RemedyRegistry[Any]]

    @property
    def key(self) -> str:
        """What a drill holds while it runs (one drill per key): ``local``, ``kubernetes:<context>/<ns>``."""

    def up(self) -> None:
        """Bring the stack up, or check it is up (idempotent)."""

    def down(self) -> None:
        """Stop the stack (reverting any pending fault first)."""

    def is_ready(self) -> bool:
        """All replicas ready and every service answering."""

    def calibrate(self, time_scale: float, detection: DetectionChain, drill_id: str | None = None) -> dict[str, Any]:
        """Run the detection chain (scrape, evaluation, rule window, ``for``, group wait) and the faults'
        progression at the drill's time scale; called before :meth:`up`.  Returns what was set, for the
        journal: the wall-clock values and the settings held at a floor."""

    def restore_calibration(self) -> dict[str, Any] | None:
        """Put back the settings :meth:`calibrate` changed, when they outlive the drill (Kubernetes: the
        cluster's own; the sandbox is recalibrated by every drill); says what was done, or ``None``."""

    def endpoints(self) -> Endpoints: ...

    def replicas(self) -> list[ReplicaState]: ...

    def describe(self, fault: Fault) -> str:
        """What injecting ``fault`` does on this target, in one line (journaled with ``fault_injected``)."""

    def inject(self, fault: Fault, drill_id: str | None = None) -> InjectionRecord:
        """Persist the record, then make the change."""

    def fault_clock_start(self) -> float | None:
        """Unix time the last injected fault's runbook clock started: its injection, or later by what cannot be
        scaled (kind: the leaking release took longer to serve than the runbook's rollout); ``None`` until known."""

    def revert(self, record: InjectionRecord) -> None:
        """Undo the change and mark the record reverted; safe to call twice."""

    def pending_injections(self) -> list[InjectionRecord]:
        """Records injected and never reverted (also those of dead runners)."""

    def remediate(self, action: Remediation | str, **params: Any) -> str:
        """A responder's fix from the remediation catalogue (``rollback``, ``scale`` with ``replicas=N``, ...),
        through :attr:`remedies`; returns what was done.  Unknown names and parameters: ``InputError``."""

    def rollout_history(self) -> list[str]:
        """Versions deployed, oldest first (``kubectl rollout history``)."""

    def start_observers(self, journal: JournalWriter, alert_webhook_url: str | None = None) -> None:
        """Watch what the protocol does not cover (Kubernetes: responders' kubectl actions, and a bridge
        from an in-cluster Alertmanager to the runner's webhook); nothing for the sandbox."""

    def stop_observers(self) -> None:
        """Stop what :meth:`start_observers` started; safe when nothing runs."""

    def observer_error(self) -> GamedayError | None:
        """Why an observer gave up for good (Kubernetes: the API refused the watch, 401/403), else ``None``;
        the runner ends the drill with it rather than go on blind."""

    def close(self) -> None:
        """Release clients and connections; the target object is not used afterwards."""


def repair_through_app(app_url: str, timeout: float = 30.0) -> int:
    """The repair-data remediation on any target: the backend's repair endpoint; how many rows it removed."""
    import httpx

    from gameday.errors import TargetError

    try:
        answer = httpx.post(f"{app_url}/admin/repair-appointments", timeout=timeout)
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        raise TargetError(f"repair-data: the backend's repair endpoint failed: {exc}") from None
    return int(answer.json()["removed"])
