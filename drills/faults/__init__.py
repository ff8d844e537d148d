"""Fault actuators for the local sandbox: each fault is inject, revert and the alerts that should fire.

Faults are data in the scenario (:class:`gameday.scenario.Fault`); this package turns them into changes
of the running sandbox.  ``inject`` returns the undo data *before* it changes anything, so the caller can
persist it first (see :class:`drills.targets.local.LocalTarget`).
"""

from drills.faults.local import LOCAL_FAULTS, LocalFault, fault_for

__all__ = ["LOCAL_FAULTS", "LocalFault", "fault_for"]
