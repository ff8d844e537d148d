"""The runbook as typed data.  Sim, drills and scoring ask this model; none of them reads markdown.

All durations are minutes unless a field name says otherwise.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        raise KeyError(node_id)

    def find(self, pattern: str) -> WorkflowNode:
        """The first node whose label matches the regex (the runbook's words, not its ids)."""
        regex = re.compile(pattern, re.IGNORECASE)
        for node in self.nodes:
            if regex.search(node.label):
                return node
        raise KeyError(pattern)

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
    after_minutes: float = Field(description="unresolved for this long -> this level is engaged")
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

    def level_after(self, minutes_unresolved: float, severity: str | None = None) -> EscalationLevel:
        """The highest technical level engaged after the given minutes unresolved."""
        reached = self.technical[0]
        for level in self.technical:
            if minutes_unresolved >= level.after_minutes or (severity and severity in level.or_severities):
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
    verification: VerificationCriteria
    closure_checklist: list[str] = Field(default_factory=list)
    required_access: list[str] = Field(default_factory=list)
    targets: Targets
    escalation: Escalation
    stability_minutes: float
    postmortem_within_hours: float
    external_notification_minutes: float | None = None
    templates: dict[str, str] = Field(default_factory=dict)

    def severity(self, name: str | int) -> Severity:
        """Look up ``"SEV-1"``, ``"sev1"`` or ``1``."""
        level = name if isinstance(name, int) else _severity_level(name)
        for severity in self.severities:
            if severity.level == level:
                return severity
        raise KeyError(name)

    def role(self, abbreviation: str) -> Role:
        for role in self.roles:
            if role.abbreviation.upper() == abbreviation.upper():
                return role
        raise KeyError(abbreviation)

    def declaration_for(self, severity: str) -> list[DeclarationStep]:
        return [step for step in self.declaration if severity in step.severities]

    def declared_severities(self) -> list[str]:
        """Severities that take the 'Declare Incident' branch of the workflow (others get a ticket)."""
        declare = self.workflow.find(r"declare incident")
        out: list[str] = []
        for edge in self.workflow.edges:
            if edge.target == declare.id and edge.label:
                out.extend(severity_names(edge.label))
        return out


def _severity_level(text: str) -> int:
    match = re.search(r"(\d+)", text)
    if not match:
        raise KeyError(text)
    return int(match.group(1))


def severity_names(text: str) -> list[str]:
    """ "SEV-1/2" -> ["SEV-1", "SEV-2"]; "SEV-1/SEV-2" likewise; "SEV-3" -> ["SEV-3"]."""
    found: list[str] = []
    for match in re.finditer(r"SEV-?\s*(\d+(?:\s*/\s*(?:SEV-?)?\d+)*)", text, re.IGNORECASE):
        for number in re.findall(r"\d+", match.group(1)):
            name = f"SEV-{int(number)}"
            if name not in found:
                found.append(name)
    return found
