"""Markdown runbook -> :class:`Runbook`.

Every required fact is looked up under the heading the runbook keeps it in; when a heading or value is
missing we raise a :class:`RunbookError` naming the section and field instead of guessing a number.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from gameday.errors import RunbookError, from_validation_error
from gameday.references import check_runbook
from gameday.runbook import durations
from gameday.runbook.commands import extract_commands
from gameday.runbook.communication import Communication, read_communication
from gameday.runbook.markdown import Section, Table, parse_sections, repair
from gameday.runbook.mermaid import MermaidError, parse_flowchart
from gameday.runbook.model import (
    BusinessNotification,
    DeclarationStep,
    Escalation,
    EscalationLevel,
    MetricTarget,
    Phase,
    Role,
    Runbook,
    Severity,
    Step,
    Targets,
    VerificationCriteria,
    Workflow,
)
from gameday.runbook.severities import severity_names
from gameday.runbook.world import derive_world

DEFAULT_RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "incident-response.md"


class _Reader:
    """Holds the section tree and the file name so every error can say where it looked."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.root = parse_sections(repair(text))

    def fail(self, field: str, problem: str) -> RunbookError:
        return RunbookError(self.source, field, problem)

    def section(self, pattern: str, name: str) -> Section:
        found = self.root.find(pattern)
        if found is None:
            raise self.fail(name, "section missing (expected a heading like this)")
        return found

    def table(self, section: Section, name: str, *columns: str) -> Table:
        for table in section.tables():
            if all(table.column(col) is not None for col in columns):
                return table
        raise self.fail(name, f"no table with columns {', '.join(columns)}")

    # -- sections ---------------------------------------------------------------------------------

    def title(self) -> str:
        for section in self.root.walk():
            if section.level == 1:
                return section.title
        return "Runbook"

    def severities(self) -> list[Severity]:
        name = "Incident Severity Classification"
        table = self.table(self.section(r"severity classification", name), name, "severity", "response")
        sev_col, resp_col = table.column("severity"), table.column("response")
        def_col, ex_col = table.column("definition"), table.column("example")
        updates = self._update_cadence()
        out: list[Severity] = []
        for row in table.rows:
            match = re.match(r"^\s*(SEV-?\s*(\d+))\s*(.*)$", row[sev_col], re.IGNORECASE)
            if not match:
                raise self.fail(f"{name}: Severity", f"cannot read severity {row[sev_col]!r}")
            level = int(match.group(2))
            sev_name = f"SEV-{level}"
            response_text = row[resp_col]
            interval_text, channels = updates.get(sev_name, ("", []))
            out.append(
                Severity(
                    name=sev_name,
                    level=level,
                    label=match.group(3).strip() or sev_name,
                    definition=row[def_col] if def_col is not None else "",
                    response_minutes=durations.minutes(response_text),
                    response_text=response_text,
                    update_interval_minutes=durations.minutes(interval_text) if interval_text else None,
                    update_text=interval_text,
                    update_channels=channels,
                    examples=[e.strip() for e in row[ex_col].split(",")] if ex_col is not None else [],
                )
            )
        if not out:
            raise self.fail(name, "the severity table has no rows")
        return sorted(out, key=lambda s: s.level)

    def _update_cadence(self) -> dict[str, tuple[str, list[str]]]:
        name = "Phase 4: Communication (Update frequency)"
        section = self.section(r"^phase \d+:\s*communication|^during incident$|update frequency", name)
        table = self.table(section, name, "severity", "interval")
        sev_col, int_col, ch_col = table.column("severity"), table.column("interval"), table.column("channel")
        out: dict[str, tuple[str, list[str]]] = {}
        for row in table.rows:
            for sev in severity_names(row[sev_col]):
                channels = [c.strip() for c in row[ch_col].split(",")] if ch_col is not None else []
                out[sev] = (row[int_col], channels)
        return out

    def roles(self) -> list[Role]:
        name = "Incident Response Roles"
        section = self.section(r"response roles", name)
        roles: list[Role] = []
        for child in section.children:
            match = re.match(r"^(.+?)\s*\((\w+)\)\s*$", child.title)
            if not match:
                raise self.fail(f"{name}: {child.title}", "role heading must read 'Name (ABBR)'")
            responsibility, duties = "", []
            for items in child.lists():
                for item in items:
                    key, _, value = item.text.partition(":")
                    if key.strip().lower() == "responsibility":
                        responsibility = value.strip()
                    elif key.strip().lower() == "duties":
                        duties = [c.text for c in item.children]
            roles.append(
                Role(name=match.group(1), abbreviation=match.group(2), responsibility=responsibility,
                     duties=duties)
            )
        if not roles:
            raise self.fail(name, "no roles (expected one '### Name (ABBR)' heading per role)")
        return roles

    def workflow(self) -> Workflow:
        name = "Incident Response Workflow"
        section = self.section(r"response workflow", name)
        fences = section.fences("mermaid")
        if not fences:
            raise self.fail(name, "no ```mermaid flowchart")
        try:
            return parse_flowchart(fences[0][1])
        except MermaidError as exc:
            raise self.fail(f"{name}: mermaid", str(exc)) from None

    def phases(self) -> list[Phase]:
        phases: list[Phase] = []
        for section in self.root.walk():
            match = re.match(r"^Phase\s+(\d+):\s*(.+?)(?:\s*\((.+)\))?\s*$", section.title)
            if not match or section.level < 2:
                continue
            window = match.group(3) or ""
            start, end = durations.window(window) if window else (None, None)
            steps = []
            for child in section.children:
                step = re.match(r"^Step\s+(\d+(?:\.\d+)*):\s*(.+)$", child.title)
                if step:
                    steps.append(Step(number=step.group(1), title=step.group(2)))
            phases.append(
                Phase(number=int(match.group(1)), name=match.group(2), window_text=window,
                      start_minutes=start, end_minutes=end, steps=steps)
            )
        if not phases:
            raise self.fail("Phase N: ...", "no phase headings")
        return phases

    def declaration(self) -> list[DeclarationStep]:
        name = "Step 1.3: Declare Incident"
        section = self.section(r"declare incident", name)
        base: list[str] = []
        for para in section.paragraphs():
            if para.lower().startswith("for ") and severity_names(para):
                base = severity_names(para)
                break
        steps: list[DeclarationStep] = []
        for items in section.lists():
            for item in items:
                text = item.text
                sevs = base
                condition = None
                paren = re.search(r"\(([^)]*)\)\s*$", text)
                if paren:
                    inner = paren.group(1)
                    if severity_names(inner) and "only" in inner.lower():
                        sevs = severity_names(inner)
                    else:
                        condition = inner.strip()
                    text = text[: paren.start()].strip()
                steps.append(DeclarationStep(title=text, severities=sevs, condition=condition))
        return steps

    def declaration_when(self) -> str:
        """Step 1.3's own words for when its steps are done ("For SEV-1/SEV-2 incidents, immediately"), so a
        check can quote them; "" when the section has no such line."""
        section = self.root.find(r"declare incident")
        for para in section.paragraphs() if section else []:
            if para.lower().startswith("for ") and severity_names(para):
                return re.sub(r"[*_]+", "", para).strip().rstrip(":").strip()
        return ""

    def verification(self) -> VerificationCriteria:
        name = "Step 3.2: Verify Resolution"
        section = self.section(r"verify resolution", name)
        checklist = [_unbox(item.text) for item in section.lists_after("checklist")]
        code = "\n".join(content for _, content in section.fences())
        error_rate = None
        for item in checklist:
            match = re.search(r"error rate\s*<\s*(\d+(?:\.\d+)?)\s*%", item, re.IGNORECASE)
            if match:
                error_rate = float(match.group(1)) / 100
        if error_rate is None:
            match = re.search(r"error rate.*?Expected:\s*<\s*(\d*\.\d+)", code, re.IGNORECASE | re.DOTALL)
            error_rate = float(match.group(1)) if match else None
        if error_rate is None:
            raise self.fail(f"{name}: error rate", "no 'Error rate < N%' check")
        p95 = re.search(r"P95\s*<\s*(\d+(?:\.\d+)?)\s*(ms|s)\b", code + "\n" + "\n".join(checklist), re.I)
        if not p95:
            raise self.fail(f"{name}: P95", "no 'P95 < Ns' expectation")
        seconds = float(p95.group(1)) / (1000 if p95.group(2).lower() == "ms" else 1)
        return VerificationCriteria(
            error_rate_below=error_rate,
            error_rate_query=_error_rate_query(code),
            p95_below_seconds=seconds,
            checklist=checklist,
        )

    def closure_checklist(self) -> list[str]:
        section = self.root.find(r"confirm resolution")
        return [_unbox(i.text) for i in section.lists_after("final verification")] if section else []

    def required_access(self) -> list[str]:
        section = self.root.find(r"required access")
        return [_unbox(i.text) for items in section.lists() for i in items] if section else []

    def targets(self, severities: list[Severity]) -> Targets:
        name = "Incident Metrics"
        section = self.section(r"incident metrics|track these metrics", name)
        table = self.table(section, name, "metric", "target")
        m_col, t_col = table.column("metric"), table.column("target")
        metrics: list[MetricTarget] = []
        for row in table.rows:
            cell = row[m_col]
            abbr = re.match(r"^([A-Z]{3,})\b", cell)
            inner = re.search(r"\(([^)]*)\)", cell)
            label = inner.group(1) if inner else cell
            sevs = severity_names(row[t_col])
            metrics.append(
                MetricTarget(
                    abbreviation=abbr.group(1) if abbr else cell,
                    name=label,
                    target_text=row[t_col],
                    target_minutes=durations.minutes(row[t_col]),
                    severity=sevs[0] if sevs else None,
                )
            )

        def minutes_of(*abbrs: str) -> MetricTarget:
            for metric in metrics:
                if metric.abbreviation.upper() in abbrs and metric.target_minutes is not None:
                    return metric
            raise self.fail(f"{name}: {abbrs[0]}", "no row with a target in minutes/hours")

        mttr: dict[str, float] = {}
        for metric in metrics:
            if metric.abbreviation.upper() == "MTTR" and metric.target_minutes is not None:
                for sev in [metric.severity] if metric.severity else [s.name for s in severities]:
                    mttr[sev] = metric.target_minutes
        if not mttr:
            raise self.fail(f"{name}: MTTR", "no row with a target in minutes/hours")
        repeat = None
        for metric in metrics:
            if "repeat" in metric.abbreviation.lower() and metric.target_text.strip().isdigit():
                repeat = int(metric.target_text.strip())
        return Targets(
            mttd_minutes=minutes_of("MTTD").target_minutes,
            mtta_minutes=minutes_of("MTTA", "MTTACK").target_minutes,
            mttr_minutes=mttr,
            repeat_incidents=repeat,
            metrics=metrics,
        )

    def escalation(self) -> Escalation:
        name = "Escalation Paths: Technical Escalation"
        section = self.section(r"technical escalation", name)
        fences = section.fences()
        if not fences:
            raise self.fail(name, "no code block with 'Level N: Role' lines")
        levels: list[EscalationLevel] = []
        pending: tuple[float, list[str], str] = (0.0, [], "")
        for line in fences[0][1].splitlines():
            level = re.match(r"^\s*Level\s+(\d+):\s*(.+?)\s*$", line)
            cond = re.search(r"\((?:if\s+)?(.+)\)", line)
            if level:
                after, sevs, text = pending
                levels.append(EscalationLevel(level=int(level.group(1)), role=level.group(2),
                                              after_minutes=after, or_severities=sevs, condition_text=text))
            elif cond:
                after = durations.minutes(cond.group(1))
                if after is None:
                    raise self.fail(f"{name}: level {len(levels) + 1}", f"no time in {cond.group(1)!r}")
                pending = (after, severity_names(cond.group(1)), cond.group(1))
        if not levels:
            raise self.fail(name, "no 'Level N: Role' lines")
        business, business_sevs = self._business()
        return Escalation(technical=levels, business=business, business_severities=business_sevs)

    def _business(self) -> tuple[list[BusinessNotification], list[str]]:
        section = self.root.find(r"business escalation")
        if section is None:
            return [], []
        sevs = next((severity_names(p) for p in section.paragraphs() if severity_names(p)), [])
        out: list[BusinessNotification] = []
        for items in section.lists():
            for item in items:
                match = re.match(r"^(?:Notify:\s*)?(.+?)\s*\((.+)\)\s*$", item.text)
                if not match:
                    raise self.fail(f"Business Escalation: {item.text}", "expected 'Notify: Who (when)'")
                when = match.group(2)
                after = 0.0 if "immediate" in when.lower() else durations.minutes(when)
                if after is None:
                    raise self.fail(f"Business Escalation: {match.group(1)}", f"cannot read time {when!r}")
                out.append(BusinessNotification(who=match.group(1), after_minutes=after, condition_text=when,
                                                outage_over="outage" in when.lower()))
        return out, sevs

    def stability_minutes(self, workflow: Workflow) -> float:
        section = self.root.find(r"stability period")
        if section:
            for para in section.paragraphs():
                match = re.search(r"monitor for (.+?) minimum", para, re.IGNORECASE)
                if match and durations.minutes(match.group(1)) is not None:
                    return durations.minutes(match.group(1))
        try:
            node = workflow.find(r"stable for")
        except KeyError:
            raise self.fail("Step 3.3: Monitor Stability Period", "no 'Monitor for N minutes' line") from None
        found = durations.minutes(node.label)
        if found is None:
            raise self.fail("workflow: Stable for ...", "no duration in the stability decision")
        return found

    def postmortem_hours(self, phases: list[Phase]) -> float:
        for phase in phases:
            if re.search(r"post-?incident review|post-?mortem", phase.name, re.I) and phase.end_minutes:
                return phase.end_minutes / 60
        raise self.fail("Phase N: Post-Incident Review (Within N hours)", "no deadline for the review")

    def external_notification_minutes(self) -> float | None:
        section = self.root.find(r"external communication")
        if section is None:
            return None
        for items in section.lists():
            for item in items:
                match = re.search(r"initial notification.*\(within (.+?)\)", item.text, re.IGNORECASE)
                if match:
                    return durations.minutes(match.group(1))
        return None

    def communication(self, templates: dict[str, str], roles: list[Role]) -> Communication:
        """Template fields, status-page statuses, whom external notices are for, duties by role."""
        external = self.root.find(r"external communication")
        intro = next((p for p in external.paragraphs() if severity_names(p)), "") if external else ""
        return read_communication(templates, [(r.abbreviation, r.duties) for r in roles], intro)

    def templates(self) -> dict[str, str]:
        out: dict[str, str] = {}
        section = self.root.find(r"^templates$")
        if section:
            for child in section.children:
                fences = child.fences()
                if fences:
                    out[child.title] = fences[0][1]
        for pattern, key in (
            (r"^during incident$", "Status Update"),
            (r"document timeline", "Incident Timeline"),
            (r"post-incident report", "Post-Incident Review"),
            (r"confirm resolution", "Incident Resolved"),
        ):
            found = self.root.find(pattern)
            if found and found.fences():
                out[key] = found.fences()[-1][1]
        external = self.root.find(r"external communication")
        if external:
            for key, (_, content) in zip(("Initial Notification", "Resolution Notification"),
                                         external.fences(), strict=False):
                out[key] = content
        return out


def _unbox(text: str) -> str:
    """Drop a task-list box: "[ ] Error rate < 1%" -> "Error rate < 1%"."""
    return re.sub(r"^\[[ xX]\]\s*", "", text).strip()


def parse_runbook(text: str, source: str = "<runbook>") -> Runbook:
    """Parse runbook markdown (mojibake and all) into the typed model."""
    reader = _Reader(text, source)
    try:  # every part is a closed model: a value out of range anywhere (SEV-0, ...) names the file
        severities = reader.severities()
        workflow = reader.workflow()
        phases = reader.phases()
        commands = extract_commands(reader.root)
        roles, templates = reader.roles(), reader.templates()
        runbook = Runbook(
            title=reader.title(),
            source=source,
            severities=severities,
            roles=roles,
            workflow=workflow,
            phases=phases,
            declaration=reader.declaration(),
            declaration_when=reader.declaration_when(),
            verification=reader.verification(),
            closure_checklist=reader.closure_checklist(),
            required_access=reader.required_access(),
            targets=reader.targets(severities),
            escalation=reader.escalation(),
            stability_minutes=reader.stability_minutes(workflow),
            postmortem_within_hours=reader.postmortem_hours(phases),
            external_notification_minutes=reader.external_notification_minutes(),
            templates=templates,
            communication=reader.communication(templates, roles),
            commands=commands,
            world=derive_world(commands, source),
        )
    except ValidationError as exc:
        raise from_validation_error(source, exc) from None
    check_runbook(runbook)  # the severities its workflow, declaration, escalation and targets name are its own
    return runbook


def load_runbook(path: str | Path | None = None) -> Runbook:
    """Read and parse a runbook file; ``None`` means the runbook gameday ships."""
    path = Path(path) if path is not None else DEFAULT_RUNBOOK
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RunbookError(path, None, f"cannot read runbook: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace")
    return parse_runbook(text, str(path))


def _error_rate_query(code: str) -> str | None:
    """The first PromQL line after a comment naming the error rate (drills query it verbatim)."""
    after_comment = False
    for line in code.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            after_comment = after_comment or "error rate" in stripped.lower()
        elif after_comment and "rate(" in stripped:
            return stripped
    return None
