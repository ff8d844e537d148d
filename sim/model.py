"""Compile a Policy + Runbook into the arrays and tables the kernel needs.

The workflow comes from ``runbook.workflow``: each node's *role* is the runbook model's classification
(``WorkflowNode.role``, from its label, so renaming ids does not matter) and each decision routes along its
labelled edges.
Nothing about the graph's shape is hard-coded; a node the policy has no duration for takes 0 minutes
and is listed in ``unmodelled``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from gameday.errors import InputError
from gameday.runbook import Runbook
from gameday.runbook.severities import severity_names
from sim.dists import _Dist
from sim.policy import LadderLevel, Policy, per_severity

#: the activity stream each role draws from (see sim.streams.ACTIVITIES)
ROLE_ACTIVITY: dict[str, str] = {
    "investigate": "diagnosis",
    "escalate": "diagnosis",
    "root_cause": "diagnosis",
    "fix": "fix",
    "fix_worked": "fix",
    "verify": "fix",
    "monitor": "recurrence",
    "stable": "recurrence",
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass
class Rung:
    """One technical ladder level as the kernel uses it (level 1, the on-call itself, is not a rung)."""

    level: int
    role: str
    after_minutes: float
    immediate: np.ndarray  # bool by severity index: engaged at once (runbook "or SEV-1")
    policy: LadderLevel
    root_cause_probability: np.ndarray | None  # by severity index


@dataclass
class CompiledModel:
    policy: Policy
    runbook: Runbook
    severities: list[str]
    rates_per_minute: np.ndarray
    node_ids: list[str]
    labels: list[str]
    roles: list[str]
    kinds: list[str]
    next_node: list[int]  # single successor (-1 = terminal) for step nodes
    yes_no: list[tuple[int, int] | None]  # decision routing
    severity_route: np.ndarray | None  # node index by severity index for the severity decision
    first_node: int
    start_label: str
    verify_node: int
    stability_minutes: float
    ladder: list[Rung]
    climbs: np.ndarray  # bool by severity index: climbs the ladder
    declared: np.ndarray  # bool by severity index
    unmodelled: list[str] = field(default_factory=list)

    def sev_array(self, value: float | dict[str, float], default: float | None = None) -> np.ndarray:
        return np.array([per_severity(value, s, default) for s in self.severities], dtype=float)

    def duration(self, role: str) -> _Dist | None:
        steps = self.policy.steps
        if role == "severity":
            return steps.assess
        if role in type(steps).model_fields:
            return getattr(steps, role)
        return None

    @property
    def oncall(self) -> int | None:
        return self.policy.responders.oncall


#: Policy fields that may be given per severity (``{SEV-n: value, default: value}``); the kernel reads each
#: for every severity that has arrivals.
PER_SEVERITY_FIELDS = ("detection.alert_probability", "decisions.root_cause_probability",
                       "decisions.rollback_probability", "decisions.recurrence_probability")


def _check_per_severity(policy: Policy, severities: list[str]) -> None:
    """A per-severity mapping must cover every severity that has arrivals (or have a ``default``)."""
    for path in PER_SEVERITY_FIELDS:
        value: object = policy
        for part in path.split("."):
            value = getattr(value, part)
        if isinstance(value, dict) and "default" not in value:
            missing = [s for s in severities if s not in value]
            if missing:
                raise InputError(None, path, f"no value for {', '.join(missing)} (give them or a 'default')")


def compile_model(policy: Policy, runbook: Runbook) -> CompiledModel:
    """Check the policy against the runbook and turn both into kernel tables."""
    known = [s.name for s in runbook.severities]
    for sev in policy.arrivals_per_day:
        if sev not in known:
            raise InputError(None, f"arrivals_per_day.{sev}", f"the runbook has no {sev} (it has {', '.join(known)})")
    severities = [s for s in known if policy.arrivals_per_day.get(s, 0.0) > 0]
    _check_per_severity(policy, severities)
    rates = np.array([policy.arrivals_per_day[s] / 1440.0 for s in severities])
    for abbr in policy.responders.roles:
        try:
            runbook.role(abbr)
        except KeyError:
            raise InputError(None, f"responders.roles.{abbr}", "the runbook names no such role") from None

    wf = runbook.workflow
    ids = [n.id for n in wf.nodes]
    index = {node_id: i for i, node_id in enumerate(ids)}
    labels = [n.label for n in wf.nodes]
    kinds = [n.kind for n in wf.nodes]
    start = wf.start()
    # what each node does comes from the runbook model (gameday.runbook.classify), decided once for every consumer
    roles = ["detect" if n.id == start.id else n.role.value for n in wf.nodes]
    next_node: list[int] = []
    yes_no: list[tuple[int, int] | None] = []
    severity_route = None
    unmodelled = []
    for i, node in enumerate(wf.nodes):
        edges = wf.out_edges(node.id)
        nxt, yn = -1, None
        if roles[i] == "severity":
            route = np.full(len(severities), -1)
            for edge in edges:
                for sev in severity_names(edge.label or ""):
                    if sev in severities:
                        route[severities.index(sev)] = index[edge.target]
            missing = [s for s, r in zip(severities, route, strict=True) if r < 0]
            if missing:
                raise InputError(runbook.source, f"workflow: {node.label}", f"no edge for {', '.join(missing)}")
            severity_route = route
        elif len(edges) == 1:
            nxt = index[edges[0].target]
        elif len(edges) >= 2:
            yes = [e for e in edges if e.label and re.match(r"\s*yes", e.label, re.IGNORECASE)]
            no = [e for e in edges if e.label and re.match(r"\s*no", e.label, re.IGNORECASE)]
            if not yes or not no:
                raise InputError(runbook.source, f"workflow: {node.label}", "a decision needs Yes and No edges")
            yn = (index[yes[0].target], index[no[0].target])
        next_node.append(nxt)
        yes_no.append(yn)
        if roles[i] in ("other", "decision"):
            unmodelled.append(node.label)

    if severity_route is None:
        raise InputError(runbook.source, "workflow", "no 'Assess Severity' decision routing by severity")
    starts = wf.successors(start.id)
    if len(starts) != 1:
        raise InputError(runbook.source, f"workflow: {start.label}", "the start node needs exactly one successor")
    verify = [i for i, r in enumerate(roles) if r == "verify"]

    climbing = policy.escalation.severities
    if climbing is None:
        climbing = runbook.declared_severities()
    declared = runbook.declared_severities()
    ladder = []
    for rung in runbook.escalation.technical:
        if rung.level <= 1:
            continue
        lp = policy.escalation.level(rung.level)
        rc = lp.root_cause_probability
        ladder.append(
            Rung(
                level=rung.level,
                role=rung.role,
                after_minutes=float(lp.after_minutes if lp.after_minutes is not None else rung.after_minutes),
                immediate=np.array([s in rung.or_severities for s in severities]),
                policy=lp,
                root_cause_probability=None if rc is None else np.array(
                    [per_severity(rc, s, per_severity(policy.decisions.root_cause_probability, s)) for s in severities]
                ),
            )
        )
    return CompiledModel(
        policy=policy,
        runbook=runbook,
        severities=severities,
        rates_per_minute=rates,
        node_ids=ids,
        labels=labels,
        roles=roles,
        kinds=kinds,
        next_node=next_node,
        yes_no=yes_no,
        severity_route=severity_route,
        first_node=index[starts[0]],
        start_label=start.label,
        verify_node=verify[0] if verify else -1,
        stability_minutes=float(
            policy.stability_minutes if policy.stability_minutes is not None else runbook.stability_minutes
        ),
        ladder=ladder,
        climbs=np.array([s in climbing for s in severities]),
        declared=np.array([s in declared for s in severities]),
        unmodelled=unmodelled,
    )


def compile_named(policy, runbook, path):  # type: ignore[no-untyped-def]
    """``compile_model`` with the policy file named in its errors (the model does not know its file)."""
    from gameday.errors import InputError

    try:
        policy.check_against(runbook)  # every name it gives is the runbook's (gameday.references)
        return compile_model(policy, runbook)
    except InputError as exc:
        if exc.path is None:
            raise InputError(path, exc.field, exc.problem) from None
        raise
