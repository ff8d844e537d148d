"""Names a file may use, and where each must exist: validation that checks meaning, not only shape.

Every name a user's file gives is one of a closed set, and an unknown one is an :class:`InputError` naming
the file and the field in one line, with the closest known name as a hint:

=====================  ======================================================================================
name                   must exist in
=====================  ======================================================================================
severity               the runbook's severity table (``SEV-1`` ...)
role                   the runbook's roles, by abbreviation (``IC``, ``TL``, ``CL``, ``SME``)
escalation level       the runbook's technical ladder (``L2`` ...)
workflow decision      the runbook's workflow, by the slug of a decision node's label
fault                  the fault catalogue (:mod:`gameday.faults`)
remediation            the remediation catalogue (:mod:`gameday.remediations`)
release                the release catalogue (:mod:`gameday.releases`)
alert                  the alerts the drills' rules define (:data:`gameday.faults.ALERTS`)
metric                 :mod:`gameday.metrics` (and the sweep's table columns, :mod:`sim.sweep.metrics`)
=====================  ======================================================================================

Which file may name what (``gameday validate`` checks all of it; the commands that read a file check the
same): a *scenario* names a severity, a fault (and its stages'), remediations, alerts and releases; a *policy*
names severities (rates and per-severity values), roles, ladder levels and workflow decisions; a *sweep*
names policy paths and metrics; a *scoring* file names checks; a *runbook* names its own severities in its
workflow, declaration, escalation and targets; a *journal* (and a timeline imported as one) names
severities, roles and faults; a *war-room request* names a severity (by level), a role, a ladder level and a
remediation.

File kinds whose checks need the runbook implement ``check_against(runbook)`` (raising an
:class:`InputError` without a path; the caller adds its file); kinds holding PromQL list it from
``promql_fields()`` as ``(field, expression)`` pairs for :mod:`gameday.promql`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.errors import InputError
from gameday.names import shown, unknown

if TYPE_CHECKING:
    from gameday.journal import Event
    from gameday.runbook.model import Runbook

def severities(runbook: Runbook) -> list[str]:
    return [s.name for s in runbook.severities]


def roles(runbook: Runbook) -> list[str]:
    return [r.abbreviation for r in runbook.roles]


def ladder_levels(runbook: Runbook) -> list[int]:
    return [level.level for level in runbook.escalation.technical]


def slug(text: str) -> str:
    """A workflow node's label as a policy names it: ``Root Cause Found?`` -> ``root-cause-found``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def decision_slugs(runbook: Runbook) -> list[str]:
    return [slug(node.label) for node in runbook.workflow.nodes if node.kind == "decision"]


def check_severity(runbook: Runbook, name: object, field: str, *, default: bool = False) -> None:
    """``name`` is a severity of the runbook (or ``default``, where a per-severity mapping allows it)."""
    known = severities(runbook)
    if name in known or (default and name == "default"):
        return
    raise InputError(None, field, unknown("severity", name, known + (["default"] if default else [])))


def check_role(runbook: Runbook, name: object, field: str, *, exact: bool = False) -> None:
    """``name`` is a role's abbreviation (any case, unless ``exact``: a policy's keys are used as written)."""
    known = roles(runbook)
    if isinstance(name, str) and (name in known if exact else name.upper() in {k.upper() for k in known}):
        return
    raise InputError(None, field, unknown("role", name, known))


# -- the runbook's own names -------------------------------------------------------------------------------


def check_runbook(runbook: Runbook) -> None:
    """Every severity the runbook names outside its severity table (workflow edges, declaration steps,
    escalation, targets) is one of the table's; a :class:`~gameday.errors.RunbookError` naming the runbook
    and the section otherwise."""
    from gameday.errors import RunbookError
    from gameday.runbook.severities import severity_names

    known = severities(runbook)
    named: list[tuple[str, str]] = []
    for edge in runbook.workflow.edges:
        named += [(f"workflow: {edge.source} -> {edge.target}", name) for name in severity_names(edge.label or "")]
    for step in runbook.declaration:
        named += [(f"declaration: {step.title}", name) for name in step.severities]
    for level in runbook.escalation.technical:
        named += [(f"escalation: L{level.level}", name) for name in level.or_severities]
    named += [("escalation: business", name) for name in runbook.escalation.business_severities]
    named += [("targets: MTTR", name) for name in runbook.targets.mttr_minutes]
    named += [(f"targets: {m.abbreviation}", m.severity) for m in runbook.targets.metrics if m.severity]
    for field, name in named:
        if name not in known:
            raise RunbookError(runbook.source or "runbook", field,
                               unknown("severity", name, known, "the severity table"))


# -- journals ----------------------------------------------------------------------------------------------


def check_journal(events: Iterable[Event], runbook: Runbook, path: str | Path | None = None) -> None:
    """The names a journal (or an imported timeline) gives: declared severities and their levels, the
    simulator's incident severities, assigned roles and injected faults; and its metric samples are numbers.
    A :class:`~gameday.errors.JournalError` naming the journal, the line's ``seq`` and the field otherwise."""
    from gameday.errors import JournalError
    from gameday.faults import FaultType
    from gameday.journal import EventType as E

    by_level = {s.level: s.name for s in runbook.severities}
    faults = [f.value for f in FaultType]
    for event in events:
        data = event.data
        where = f"seq {event.seq}: data"
        try:
            if event.type in (E.severity_declared, E.incident_started) and data.get("severity") is not None:
                check_severity(runbook, _upper(data["severity"]), f"{where}.severity")
            if event.type is E.severity_declared and data.get("level") is not None:
                level = data["level"]
                if not _integer(level) or level not in by_level:
                    raise InputError(None, f"{where}.level", unknown("severity level", level,
                                                                   [str(k) for k in by_level]))
            if event.type is E.role_assigned and data.get("role") is not None:
                check_role(runbook, data["role"], f"{where}.role")
            if event.type is E.fault_injected and data.get("fault") is not None and data["fault"] not in faults:
                raise InputError(None, f"{where}.fault", unknown("fault", data["fault"], faults, "the catalogue"))
            if event.type is E.metric_sample:
                _check_sample(data, where)
        except InputError as exc:
            raise JournalError(path, exc.field, exc.problem) from None


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_sample(data: dict[str, Any], where: str) -> None:
    """A sample's readings are numbers or null (no reading).  NaN is never written (Prometheus' NaN is
    journaled as null); +Inf is, when a quantile falls in the histogram's last bucket."""
    for key, value in data.items():
        if key == "windows_s" or isinstance(value, dict | list):
            continue
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value == float("-inf"):
            raise InputError(None, f"{where}.{key}", f"a metric reading must be a number or null, not {shown(value)}")
