"""Faults that are runtime knobs (``drills/service/knobs.py``): the same knob values on every target.

The knobs carry the catalogue's parameter names, so a fault's parameters *are* its knob settings: the
local sandbox writes them to its knob file, Kubernetes to the ``erp-knobs`` ConfigMap the pods mount.
"""

from __future__ import annotations

from drills.service.knobs import Knobs
from gameday.faults import CATALOGUE, FaultParams, FaultType

KNOB_FAULTS = frozenset({FaultType.slow_queries, FaultType.error_burst, FaultType.config_change})

# Every knob fault's parameter is a knob of the same name: checked once, at import.
_missing = {t.value: sorted(set(CATALOGUE[t].params.model_fields) - set(Knobs.model_fields)) for t in KNOB_FAULTS}
if any(_missing.values()):
    raise TypeError(f"fault parameters without a knob of the same name: {_missing}")


#: The pool leak's progression in runbook time, the same at every time scale and on every target: the leaking
#: release is serving everywhere this long after the deploy starts (a rolling update; the schedule, not how
#: long a replica takes to start, decides), then each replica leaks one pooled connection this often (every
#: search that hits a slow plan leaks; during the fault one does on this schedule and random slow plans are
#: off, so the pools run dry in the same runbook minutes whatever the request rate).
LEAK_AFTER_RUNBOOK_S = 180.0
LEAK_EVERY_RUNBOOK_S = 15.0
#: The knobs that pace it (restored when the fault is reverted).
LEAK_KNOBS = ("slow_plan_fraction", "slow_plan_every_s", "slow_plan_from")


def leak_pacing(time_scale: float, now: float) -> dict[str, float]:
    """The knob values of the pool leak's schedule at ``time_scale``, starting at Unix time ``now``."""
    return {"slow_plan_fraction": 0.0, "slow_plan_every_s": LEAK_EVERY_RUNBOOK_S / time_scale,
            "slow_plan_from": now + LEAK_AFTER_RUNBOOK_S / time_scale}


#: The memory leak's pace (restored when the fault is reverted): the leaking release keeps this many MiB per wall
#: second, so it reaches the container's limit after the same runbook minutes at every time scale.
MEMORY_KNOBS = ("memory_leak_mib_per_s",)


def memory_pacing(mib_per_minute: float, time_scale: float) -> dict[str, float]:
    """MiB per runbook minute as the knob's MiB per wall second at ``time_scale``."""
    return {"memory_leak_mib_per_s": mib_per_minute * time_scale / 60.0}


#: The configuration knobs a bad change touches, and their good values (what ``revert-config`` puts back).
CONFIG_KNOBS = ("upstream_timeout_s",)


def knob_names(fault_type: FaultType) -> tuple[str, ...]:
    return tuple(CATALOGUE[fault_type].params.model_fields)


def knob_values(params: FaultParams) -> dict[str, float]:
    """The knob settings these parameters stand for."""
    return {name: float(value) for name, value in params.model_dump().items()}
