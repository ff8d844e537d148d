"""The remediation catalogue: every fix a responder may take, beside the fault catalogue (:mod:`gameday.faults`).

One entry per remediation: its name (what a scenario's ``safe_remediations`` lists, what the war room's
buttons and the CLIs send), the label people see, its typed parameters, what it is journaled as, which
faults it fixes, and whether it is the runbook decision tree's rollback ("Can we roll back safely? YES ->
roll back the deployment; NO -> ship a hotfix or a workaround").  Both drill targets implement every entry
through a registry keyed by :class:`Remediation` (``drills/targets/local.py``, ``drills/k8s/target.py``);
the autopilot, the war room and the CLIs read this table, so a name exists here or nowhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from gameday.errors import InputError, from_validation_error
from gameday.faults import FaultType, ReleaseVersion
from gameday.releases import FIXED


class Remediation(StrEnum):
    """A remediation's one name.  ``restart_pgbouncer`` is read as ``restart-pgbouncer`` (targets took both
    spellings), and ``rollout-undo`` (kubectl's words) as ``rollback``; nothing else is guessed."""

    rollback = "rollback"
    restart = "restart"
    scale = "scale"
    restart_pgbouncer = "restart-pgbouncer"
    kill_slow_queries = "kill-slow-queries"
    failover_upstream = "failover-upstream"
    revert_config = "revert-config"
    restart_database = "restart-database"
    roll_forward = "roll-forward"
    maintenance_on = "maintenance-on"
    repair_data = "repair-data"
    maintenance_off = "maintenance-off"
    failover_network = "failover-network"
    restore_node = "restore-node"

    @classmethod
    def _missing_(cls, value: object) -> Remediation | None:
        if not isinstance(value, str):
            return None
        key = value.strip().lower().replace("_", "-")
        key = _ALIASES.get(key, key)
        return next((member for member in cls if member.value == key), None)


_ALIASES = {"rollout-undo": "rollback"}


class RemediationParams(BaseModel):
    """Closed and immutable, as fault parameters are: an unknown key is an error naming it; numbers are finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NoParams(RemediationParams):
    pass


class DeploymentParams(RemediationParams):
    deployment: str | None = Field(default=None, min_length=1,
                                   description="the deployment acted on (default: the backend)")  # fmt: skip


class RollbackParams(DeploymentParams):
    to_revision: int | None = Field(default=None, ge=1, description="default: the previous revision")


class RollForwardParams(DeploymentParams):
    version: ReleaseVersion = Field(default=FIXED.version, description="the fixed release to roll out")


class ScaleParams(DeploymentParams):
    replicas: int = Field(ge=0, le=100, description="the desired replica count")


@dataclass(frozen=True)
class RemediationSpec:
    name: Remediation
    #: What the war room's button and the CLI show.
    label: str
    summary: str
    params: type[RemediationParams]
    #: The journal's ``action`` kind (``rollback`` is what the decision-tree check looks for).
    kind: str
    #: What it acts on, journaled beside the kind.
    acts_on: str
    #: Faults it ends; empty: it helps (or not) without ending any catalogued fault.
    fixes: tuple[FaultType, ...]
    #: The decision tree's rollback (only safe when the scenario's ``rollback_safe`` says so).
    rollback: bool = False

    @property
    def required(self) -> list[str]:
        """Parameters without a default: whoever takes this remediation must give them."""
        return [name for name, field in self.params.model_fields.items() if field.is_required()]


CATALOGUE: dict[Remediation, RemediationSpec] = {
    spec.name: spec
    for spec in (
        RemediationSpec(Remediation.rollback, "Roll back backend",
                        "roll the deployment back to its previous revision (kubectl rollout undo)",
                        RollbackParams, "rollback", "backend",
                        (FaultType.connection_pool_leak, FaultType.crashloop, FaultType.data_corruption,
                         FaultType.memory_leak), rollback=True),
        RemediationSpec(Remediation.restart, "Restart backend",
                        "replace every pod of the deployment (kubectl rollout restart)",
                        DeploymentParams, "restart", "backend", ()),
        RemediationSpec(Remediation.scale, "Scale backend", "change the deployment's replica count (kubectl scale)",
                        ScaleParams, "scale", "backend", ()),
        RemediationSpec(Remediation.restart_pgbouncer, "Restart PgBouncer",
                        "bring PgBouncer back: start it if stopped, else restart it",
                        NoParams, "restart", "pgbouncer", (FaultType.pgbouncer_down,)),
        RemediationSpec(Remediation.kill_slow_queries, "Kill slow queries",
                        "cancel the runaway job behind the slow queries", NoParams, "kill-slow-queries", "database",
                        (FaultType.slow_queries,)),
        RemediationSpec(Remediation.failover_upstream, "Fail over upstream",
                        "switch to a healthy eligibility instance", NoParams, "failover-upstream", "eligibility",
                        (FaultType.error_burst,)),
        RemediationSpec(Remediation.revert_config, "Revert config change",
                        "put the configuration back as it was before the last push (no new image)", NoParams,
                        "rollback", "configuration", (FaultType.config_change,), rollback=True),
        RemediationSpec(Remediation.restart_database, "Restart database",
                        "bring PostgreSQL back: start it if stopped, else restart it", NoParams, "restart",
                        "database", (FaultType.database_down,)),
        RemediationSpec(Remediation.roll_forward, "Roll forward backend",
                        "roll out the fixed release (a hotfix) instead of rolling back onto a schema the old "
                        "release cannot read", RollForwardParams, "roll-forward", "backend",
                        (FaultType.forward_migration,)),
        RemediationSpec(Remediation.maintenance_on, "Take offline (maintenance)",
                        "maintenance mode: the backend refuses every write while the data is repaired", NoParams,
                        "maintenance-on", "backend", ()),
        RemediationSpec(Remediation.repair_data, "Repair data",
                        "remove the appointments booked more than once (keep the first of each)", NoParams,
                        "repair-data", "database", (FaultType.data_corruption,)),
        RemediationSpec(Remediation.maintenance_off, "Bring back online",
                        "end maintenance mode: writes are accepted again", NoParams, "maintenance-off", "backend",
                        ()),
        RemediationSpec(Remediation.failover_network, "Fail over network path",
                        "move the backend's traffic to a healthy network path (Step 2.2: network connectivity)",
                        NoParams, "failover-network", "network", (FaultType.network,)),
        RemediationSpec(Remediation.restore_node, "Restore node",
                        "bring a lost worker node back: start its machine again, or uncordon it after a drain",
                        NoParams, "restore-node", "node", (FaultType.node_loss,)),
    )
}  # fmt: skip


def known() -> str:
    return ", ".join(r.value for r in Remediation)


def _unknown(name: object) -> str:
    text = str(name)
    close = difflib.get_close_matches(text[:40].lower().replace("_", "-"), [r.value for r in Remediation], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    shown = text if len(text) <= 40 else text[:40] + "..."  # one short line, whatever was sent
    return f"unknown remediation {shown!r}{hint}; expected one of {known()}"


def remediation(name: Remediation | str) -> Remediation:
    """The catalogue's member for ``name`` (either spelling), or an :class:`InputError` listing them all."""
    try:
        return Remediation(name)
    except ValueError:
        raise InputError(None, "action", _unknown(name)) from None


def spec_for(name: Remediation | str) -> RemediationSpec:
    return CATALOGUE[remediation(name)]


def fixes_for(fault: FaultType | str) -> list[Remediation]:
    """The remediations that end ``fault``, in catalogue order."""
    return [spec.name for spec in CATALOGUE.values() if FaultType(fault) in spec.fixes]


def checked(name: Remediation | str, params: Mapping[str, Any] | None = None) -> tuple[Remediation,
                                                                                         RemediationParams]:
    """Name and parameters validated against the catalogue (``None`` values mean "not given"); an
    :class:`InputError` naming the field otherwise, before any target is touched."""
    member = remediation(name)
    given = {key: value for key, value in (params or {}).items() if value is not None}
    try:
        return member, CATALOGUE[member].params.model_validate(given)
    except ValidationError as exc:
        raise from_validation_error(None, exc) from None


def _named(value: Any) -> Any:
    """A scenario's or a request's remediation: one line naming the bad value and the catalogue's names."""
    if isinstance(value, str):
        try:
            return Remediation(value)
        except ValueError:
            raise ValueError(_unknown(value)) from None
    raise ValueError(_unknown(value))  # a number, a list, null: no remediation is spelt so


#: A remediation as a pydantic field: either spelling, and a one-line error listing the catalogue.
RemediationName = Annotated[Remediation, BeforeValidator(_named)]
