"""What every fault actuator is, and the registry that finds one by fault type.

An actuator turns one catalogue fault (:mod:`gameday.faults`) into changes on one kind of target.  The
target persists the undo data :meth:`FaultActuator.prepare` returns *before* it calls
:meth:`FaultActuator.inject`, so a killed runner's fault can always be reverted; :meth:`revert` is safe
when the change is already undone (a responder may have rolled back first).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from gameday.errors import InputError
from gameday.faults import FaultParams, FaultSpec, FaultType, spec_for

#: What an actuator acts on: the sandbox for the local target, the target itself for Kubernetes.
ContextT = TypeVar("ContextT")
ParamsT = TypeVar("ParamsT", bound=FaultParams)


class FaultActuator(ABC, Generic[ContextT, ParamsT]):
    """One fault on one target: describe it, read the undo data, inject, revert."""

    fault: ClassVar[FaultType]

    @property
    def spec(self) -> FaultSpec:
        return spec_for(self.fault)

    def describe(self, params: ParamsT) -> str:
        """One line for people: what this fault does with these parameters on this target."""
        values = ", ".join(f"{k}={v}" for k, v in params.model_dump().items())
        return f"{self.spec.summary}" + (f" ({values})" if values else "")

    @abstractmethod
    def prepare(self, ctx: ContextT, params: ParamsT) -> dict[str, Any]:
        """The undo data, read before any change (persisted by the target first)."""

    @abstractmethod
    def inject(self, ctx: ContextT, params: ParamsT) -> None:
        """Make the change."""

    @abstractmethod
    def revert(self, ctx: ContextT, undo: dict[str, Any]) -> str:
        """Undo the change from the persisted undo data; says what it did."""


ActuatorT = TypeVar("ActuatorT", bound=FaultActuator[Any, Any])


class FaultRegistry(Generic[ActuatorT]):
    """The actuators of one target, by fault type (``@REGISTRY.register`` on each class)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._actuators: dict[FaultType, ActuatorT] = {}

    def register(self, cls: type[ActuatorT]) -> type[ActuatorT]:
        if cls.fault in self._actuators:
            raise ValueError(f"{self.target}: two actuators for {cls.fault.value}")
        self._actuators[cls.fault] = cls()
        return cls

    def __getitem__(self, fault_type: FaultType | str) -> ActuatorT:
        try:
            return self._actuators[FaultType(fault_type)]
        except (ValueError, KeyError):
            known = ", ".join(t.value for t in self._actuators)
            raise InputError(None, "fault.type", f"unknown fault {str(fault_type)!r} for the {self.target} "
                                                 f"target; expected one of {known}") from None

    def __contains__(self, fault_type: object) -> bool:
        return fault_type in self._actuators

    def types(self) -> list[FaultType]:
        return list(self._actuators)
