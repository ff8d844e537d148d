"""Faults that are runtime knobs (``drills/service/knobs.py``): the same knob values on every target.

The knobs carry the catalogue's parameter names, so a fault's parameters *are* its knob settings: the
local sandbox writes them to its knob file, Kubernetes to the ``erp-knobs`` ConfigMap the pods mount.
"""

from __future__ import annotations

from drills.service.knobs import Knobs
from gameday.faults import CATALOGUE, FaultParams, FaultType

KNOB_FAULTS = frozenset({FaultType.slow_queries, FaultType.error_burst})

# Every knob fault's parameter is a knob of the same name: checked once, at import.
_missing = {t.value: sorted(set(CATALOGUE[t].params.model_fields) - set(Knobs.model_fields)) for t in KNOB_FAULTS}
if any(_missing.values()):
    raise TypeError(f"fault parameters without a knob of the same name: {_missing}")


def knob_names(fault_type: FaultType) -> tuple[str, ...]:
    return tuple(CATALOGUE[fault_type].params.model_fields)


def knob_values(params: FaultParams) -> dict[str, float]:
    """The knob settings these parameters stand for."""
    return {name: float(value) for name, value in params.model_dump().items()}
