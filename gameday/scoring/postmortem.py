"""Read a post-incident review and compare it with the runbook's "Post-Incident Review" template.

The template decides what is required: its section headings, how many "why" items its 5-whys list has,
and the columns of its action-item table.  A review passes when every template section is present, the
timeline has entries, the whys are all there, and every action item has an owner and a real due date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from gameday.runbook.markdown import Section, parse_sections, repair

TEMPLATE_NAME = "Post-Incident Review"
_PLACEHOLDER = re.compile(r"^\[.*\]$")


@dataclass
class TemplateShape:
    sections: list[str]
    whys: int
    action_columns: list[str]


@dataclass
class ReviewFindings:
    path: Path
    missing_sections: list[str] = field(default_factory=list)
    timeline_entries: int = 0
    whys: int = 0
    whys_required: int = 5
    actions: int = 0
    actions_unowned: int = 0
    actions_undated: int = 0

    @property
    def problems(self) -> list[str]:
        out = []
        if self.missing_sections:
            out.append("missing sections: " + ", ".join(self.missing_sections))
        if self.timeline_entries == 0:
            out.append("timeline is empty")
        if self.whys < self.whys_required:
            out.append(f"{self.whys} of {self.whys_required} whys")
        if self.actions == 0:
            out.append("no action items")
        if self.actions_unowned:
            out.append(f"{self.actions_unowned} action item(s) without an owner")
        if self.actions_undated:
            out.append(f"{self.actions_undated} action item(s) without a due date")
        return out

    def summary(self) -> str:
        return (
            f"{'sections missing' if self.missing_sections else 'all sections'}, "
            f"{self.timeline_entries} timeline entries, {self.whys} whys, {self.actions} action items"
        )


def template_shape(template: str) -> TemplateShape:
    root = parse_sections(repair(template))
    sections = [s.title for s in root.walk() if s.level == 2]
    whys_section = _section(root, r"why")
    whys = len(whys_section.lists()[0]) if whys_section and whys_section.lists() else 5
    action_section = _section(root, r"action")
    columns = action_section.tables()[0].header if action_section and action_section.tables() else []
    return TemplateShape(sections, whys, columns)


def _section(root: Section, pattern: str) -> Section | None:
    for section in root.walk():
        if section.level >= 2 and re.search(pattern, section.title, re.IGNORECASE):
            return section
    return None


def _norm(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def read_review(path: Path, template: str) -> ReviewFindings:
    shape = template_shape(template)
    root = parse_sections(repair(path.read_text(encoding="utf-8")))
    have = {_norm(s.title) for s in root.walk() if s.level >= 2}
    findings = ReviewFindings(path=path, whys_required=shape.whys)
    findings.missing_sections = [s for s in shape.sections if _norm(s) not in have]

    timeline = _section(root, r"timeline")
    if timeline is not None:
        rows = sum(len(t.rows) for t in timeline.tables())
        items = sum(len(lst) for lst in timeline.lists())
        findings.timeline_entries = rows or items

    whys = _section(root, r"why")
    if whys is not None:
        findings.whys = sum(
            1 for lst in whys.lists() for item in lst if item.text and not _PLACEHOLDER.match(item.text)
        )

    for item in action_items(root):
        findings.actions += 1
        if not item.owned:
            findings.actions_unowned += 1
        if item.due_date is None:
            findings.actions_undated += 1
    return findings


@dataclass
class ActionItem:
    """One row of a review's action-item table, as the runbook's template lays it out (the history store keeps
    them until they are done: the runbook reviews them "in the weekly team meeting until complete")."""

    number: int
    action: str
    owner: str
    due: str
    priority: str = ""
    status: str = ""

    @property
    def owned(self) -> bool:
        return bool(self.owner) and not _PLACEHOLDER.match(self.owner) and self.owner.upper() not in {"TBD", "?", "-"}

    @property
    def due_date(self) -> date | None:
        return date.fromisoformat(self.due) if _is_date(self.due) else None

    @property
    def done(self) -> bool:
        """A later review marks an item done in a Status column (``done``, ``closed``, ``complete``, ``✅``)."""
        return bool(re.match(r"^(done|closed|complete[d]?|fixed|✅|\[x\])", self.status.strip(), re.IGNORECASE))


def action_items(root: Section) -> list[ActionItem]:
    """The rows of the first table under the review's action-item heading (empty rows skipped)."""
    section = _section(root, r"action")
    if section is None or not section.tables():
        return []
    table = section.tables()[0]
    columns = {"action": table.column("action", "item", "task"), "owner": table.column("owner"),
               "due": table.column("due", "date"), "priority": table.column("priority"),
               "status": table.column("status", "state", "done")}

    def cell(row: list[str], name: str) -> str:
        index = columns[name]
        return row[index].strip() if index is not None and index < len(row) else ""

    items = []
    for row in table.rows:
        if not any(c.strip() for c in row):
            continue
        items.append(ActionItem(len(items) + 1, cell(row, "action") or row[0].strip(), cell(row, "owner"),
                                cell(row, "due"), cell(row, "priority"), cell(row, "status")))
    return items


def root_cause(root: Section) -> str:
    """The review's *Root Cause* section as one line of text ("" when it has none)."""
    section = _section(root, r"root cause")
    return " ".join(section.paragraphs()).strip() if section is not None else ""


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
