"""The runbook as typed data.  Sim, drills and scoring ask this model; none of them reads markdown.

All durations are minutes unless a field name says otherwise.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gameday.errors import RunbookLookupError
from gameday.runbook.classify import (
    DeclarationKind,
    NodeRole,
    declaration_kind,
    declaration_roles,
    node_role,
    user_facing_only,
)
from gameday.runbook.commands import RunbookCommand
from gameday.runbook.communication import Communication
from gameday.runbook.severities import severity_names
from gameday.runbook.world import World, derive_world


class _Closed(BaseModel):
    """Closed, immutable and finite: a number the markdown holds that is no number (``9999...9 hours`` reads as
    infinity) is refused naming the field."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Severity(_Closed):
    name: str = Field(description='"SEV-1"')
    level: int = Field(ge=1, description="1 is the most severe")
    label: str = Field(description='"Critical"')
    definition: str
    response_minutes: float | None = Field(description="respond within; None when the text has no clock")
    response_text: str
    update_interval_minutes: float | None = Field(default=None, description="status-update cadence")
    update_text: str = ""
    update_channels: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


class Role(_Closed):
    name: str = Field(description='"Incident Commander"')
    abbreviation: str = Field(description='"IC"')
    responsibility: str = ""
    duties: list[str] = Field(default_factory=list)


class WorkflowNode(_Closed):
    id: str
    label: str
    kind: str = Field(description="step | decision | terminal")

    @computed_field(description="what the node does (gameday.runbook.classify.NodeRole)")
    @property
    def role(self) -> NodeRole:
        return node_role(self.label, self.kind)


class WorkflowEdge(_Closed):
    source: str
    target: str
    label: str | None = None


class Workflow(_Closed):
    direction: str = "TD"
    nodes: list[WorkflowNode]
    edges: list[WorkflowEdge]

    def node(self, node_id: str) -> WorkflowNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise RunbookLookupError(None, "workflow node", node_id, [n.id for n in self.nodes])

    def find(self, pattern: str) -> WorkflowNode:
        """The first node whose label matches the regex (the runbook's words, not its ids)."""
        regex = re.compile(pattern, re.IGNORECASE)
        for node in self.nodes:
            if regex.search(node.label):
                return node
        raise RunbookLookupError(None, "workflow node matching", pattern, [n.label for n in self.nodes])

    def with_role(self, role: NodeRole) -> list[WorkflowNode]:
        """Nodes that do ``role`` (see :mod:`gameday.runbook.classify`), in the runbook's order."""
        return [node for node in self.nodes if node.role is role]

    def out_edges(self, node_id: str) -> list[WorkflowEdge]:
        return [edge for edge in self.edges if edge.source == node_id]

    def successors(self, node_id: str) -> list[str]:
        return [edge.target for edge in self.out_edges(node_id)]

    def start(self) -> WorkflowNode:
        """The node no edge points to (``Incident Detected``)."""
        targets = {edge.target for edge in self.edges}
        for node in self.nodes:
            if node.id not in targets:
                return node
        return self.nodes[0]


class Step(_Closed):
    number: str = Field(description='"1.3"')
    title: str


class Phase(_Closed):
    number: int
    name: str
    window_text: str = ""
    start_minutes: float | None = None
    end_minutes: float | None = None
    steps: list[Step] = Field(default_factory=list)


class DeclarationStep(_Closed):
    """What 'Declare Incident' means for a severity (war room, paging, status page...)."""

    title: str
    severities: list[str]
    condition: str | None = Field(default=None, description='e.g. "if public-facing"')

    @computed_field(description="what the step asks for (gameday.runbook.classify.DeclarationKind)")
    @property
    def kind(self) -> DeclarationKind:
        return declaration_kind(self.title)

    @computed_field(description="only for incidents users can see (the condition says public-facing)")
    @property
    def user_facing_only(self) -> bool:
        return user_facing_only(self.condition)

    def applies(self, severity: str, user_facing: bool = True) -> bool:
        """Does this step apply to an incident of ``severity`` (that users can / cannot see)?"""
        return severity in self.severities and (user_facing or not self.user_facing_only)


class MetricTarget(_Closed):
    abbreviation: str
    name: str
    target_text: str
    target_minutes: float | None = None
    severity: str | None = None


class Targets(_Closed):
    mttd_minutes: float
    mtta_minutes: float
    mttr_minutes: dict[str, float] = Field(description="by severity name")
    repeat_incidents: int | None = None
    metrics: list[MetricTarget] = Field(default_factory=list)


class EscalationLevel(_Closed):
    level: int
    role: str
    after_minutes: float = Field(
        description="minutes from acknowledgement, the service not yet restored (the runbook's 'if unresolved "
                    "after'), before this level is engaged")
    or_severities: list[str] = Field(
        default_factory=list, description="severities that engage this level without waiting"
    )
    condition_text: str = ""


class BusinessNotification(_Closed):
    who: str
    after_minutes: float = Field(description="0 = immediately")
    condition_text: str = ""
    outage_over: bool = Field(default=False, description="only if the outage lasts longer than after_minutes")


class Escalation(_Closed):
    technical: list[EscalationLevel]
    business: list[BusinessNotification] = Field(default_factory=list)
    business_severities: list[str] = Field(default_factory=list)

    def level_after(self, minutes_not_restored: float, severity: str | None = None) -> EscalationLevel:
        """The highest technical level engaged after the given minutes from acknowledgement without the service
        restored (the runbook's "if unresolved after X": escalation is for getting the problem fixed)."""
        reached = self.technical[0]
        for level in self.technical:
            if minutes_not_restored >= level.after_minutes or (severity and severity in level.or_severities):
                reached = level
        return reached


class VerificationCriteria(_Closed):
    error_rate_below: float = Field(description="fraction, e.g. 0.01")
    error_rate_query: str | None = Field(default=None, description="the PromQL the runbook checks it with")
    p95_below_seconds: float
    checklist: list[str] = Field(default_factory=list)


class Runbook(_Closed):
    title: str
    source: str = Field(default="", description="path it was parsed from")
    severities: list[Severity]
    roles: list[Role]
    workflow: Workflow
    phases: list[Phase]
    declaration: list[DeclarationStep] = Field(default_factory=list)
    declaration_when: str = Field(default="", description="Step 1.3's words for when its steps are done, e.g. "
                                                          "'For SEV-1/SEV-2 incidents, immediately'")
    verification: VerificationCriteria
    closure_checklist: list[str] = Field(default_factory=list)
    required_access: list[str] = Field(default_factory=list)
    targets: Targets
    escalation: Escalation
    stability_minutes: float
    postmortem_within_hours: float
    external_notification_minutes: float | None = None
    templates: dict[str, str] = Field(default_factory=dict)
    communication: Communication = Field(
        default_factory=Communication,
        description="Phase 4 and the roles: template fields, status-page statuses, external severities, duties")
    commands: list[RunbookCommand] = Field(default_factory=list, description="every command of its shell blocks")
    world: World = Field(default_factory=lambda: derive_world([]),
                         description="the namespace, Deployment, services and hosts its commands name")

    @computed_field(description="roles a declaration must name (the declaration template's, e.g. IC, TL)")
    @property
    def declaration_roles(self) -> list[str]:
        return declaration_roles([r.abbreviation for r in self.roles], self.templates)

    def severity(self, name: str | int) -> Severity:
        """Look up ``"SEV-1"``, ``"sev1"`` or ``1``; a name the runbook lacks raises RunbookLookupError."""
        level = name if isinstance(name, int) else _severity_level(name)
        for severity in self.severities:
            if severity.level == level:
                return severity
        raise RunbookLookupError(self.source, "severity", name, [s.name for s in self.severities])

    def role(self, abbreviation: str) -> Role:
        """Look up ``"IC"`` (any case); a role the runbook lacks raises RunbookLookupError."""
        for role in self.roles:
            if role.abbreviation.upper() == str(abbreviation).upper():
                return role
        raise RunbookLookupError(self.source, "role", abbreviation, [r.abbreviation for r in self.roles])

    def declaration_for(self, severity: str, user_facing: bool = True) -> list[DeclarationStep]:
        """The declaration steps an incident of ``severity`` takes (user-facing ones only when it is)."""
        return [step for step in self.declaration if step.applies(severity, user_facing)]

    def declaration_steps(self, kind: DeclarationKind) -> list[DeclarationStep]:
        """Declaration steps of one kind (whatever severities they apply to)."""
        return [step for step in self.declaration if step.kind is kind]

    def declared_severities(self) -> list[str]:
        """Severities that take the 'Declare Incident' branch of the workflow (others get a ticket)."""
        declare = {node.id for node in self.workflow.with_role(NodeRole.declare)}
        if not declare:
            raise RunbookLookupError(self.source, "workflow node", "Declare Incident",
                                     [n.label for n in self.workflow.nodes])
        out: list[str] = []
        for edge in self.workflow.edges:
            if edge.target in declare and edge.label:
                out.extend(name for name in severity_names(edge.label) if name not in out)
        return out


def _severity_level(text: str) -> int | None:
    match = re.search(r"(\d+)", str(text))
    return int(match.group(1)) if match else None
