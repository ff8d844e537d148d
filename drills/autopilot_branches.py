"""The autopilot along the decision tree's less travelled branches (issue 22), kept out of ``autopilot.py``.

- **Database connections normal** (Step 3.2's checklist): for a fault of the database itself the autopilot
  verifies, beside the error rate, p95 and replicas, that PostgreSQL answers directly and no request waits for
  a pooled connection; a database that came back by itself but whose pools are still stuck is not "resolved".
- **Is data integrity at risk? YES** (Step 2.3): take the system offline (maintenance mode), repair the data,
  then restore: one fix made of those steps in that order, not remediations tried one after the other.
- **Network connectivity** (Step 2.2) for a network fault: verification also asks that the backend's paths to
  its dependencies answer (the blackbox probes through them), not only that the error rate fell.
- **Memory** (a leak that ends in OOMKilled): verification also asks that no backend pod's container last died
  OOMKilled, i.e. the pods serving now were not killed since they started (a rollback's new pods have no last state).
- **The data invariant** holds at verification: for a scenario whose data is at risk, the verification reads
  the violations the exporter counts in the real tables, not the team's claim.

:func:`attempts` and :class:`BranchView` are what ``autopilot.py`` calls; everything else is theirs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from gameday.faults import FaultType
from gameday.remediations import Remediation

if TYPE_CHECKING:
    from drills.autopilot import DrillView
    from gameday.scenario import Scenario

#: Faults of the database itself: verification also asks "Database connections normal".
DATABASE_FAULTS = frozenset({FaultType.database_down})
#: Faults of the network: verification also asks that the backend's paths to its dependencies answer.
NETWORK_FAULTS = frozenset({FaultType.network})
#: Faults of memory: verification also asks that no backend pod was OOMKilled.
MEMORY_FAULTS = frozenset({FaultType.memory_leak})
#: The data-at-risk branch's brackets: offline first, back online last.
OFFLINE, ONLINE = Remediation.maintenance_on, Remediation.maintenance_off


def attempts(scenario: Scenario) -> list[list[Remediation]]:
    """What the autopilot tries, one attempt after another (each checked before the next): every safe
    remediation on its own, except with data at risk, where the first attempt is the whole "offline, repair
    (with whatever else the scenario lists, in its order), restore" sequence."""
    names = list(scenario.safe_remediations)
    if not scenario.data_at_risk:
        return [[name] for name in names]
    inner = [name for name in names if name not in (OFFLINE, ONLINE)]
    return [[OFFLINE, *inner, ONLINE]]


class BranchView:
    """The drill view with the branch's own verification checks added to :meth:`health`."""

    def __init__(self, view: DrillView, scenario: Scenario) -> None:
        self._view = view
        self._database = scenario.fault.type in DATABASE_FAULTS
        self._data = scenario.data_at_risk
        self._network = scenario.fault.type in NETWORK_FAULTS
        self._memory = scenario.fault.type in MEMORY_FAULTS

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)

    def health(self, since: datetime | None = None) -> tuple[bool, dict[str, Any]]:
        healthy, checks = self._view.health(since)
        if not (self._database or self._data or self._network or self._memory):
            return healthy, checks
        latest = self._view.sampler.latest
        if self._database:
            up, waiting = latest.get("database_up"), latest.get("pool_waiting")
            checks["database_connections_ok"] = ok = up == 1 and waiting is not None and waiting == 0
            healthy = healthy and ok
        if self._network:
            checks["network_path_ok"] = ok = latest.get("network_ok") == 1
            healthy = healthy and ok
        if self._memory:
            checks["no_oom_killed"] = ok = latest.get("oom_killed") == 0
            healthy = healthy and ok
        if self._data:
            violations = latest.get("integrity_violations")
            checks["integrity_violations"] = violations
            checks["data_invariant_ok"] = ok = violations is not None and violations == 0
            healthy = healthy and ok
        return healthy, checks
