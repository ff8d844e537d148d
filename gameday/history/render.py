"""The monthly review as HTML and Markdown (the drill report's templates folder and style), the weekly list as
Markdown for the team meeting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gameday.report.build import TEMPLATES, _relative


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["minutes"] = lambda v: "—" if v is None else f"{v:.1f}"
    env.filters["bound"] = lambda v: "…" if v is None else f"{v:.1f}"
    env.filters["score"] = lambda v: "n/a" if v is None else f"{v:.0f}"
    env.filters["cell"] = lambda v: str(v).replace("|", "/").replace("\n", " ")
    return env


def write_monthly(review: dict[str, Any], out: Path, store: Path) -> list[Path]:
    """``review.html`` and ``review.md`` in ``out``; both are rendered before either is written."""
    env = _environment()
    context = {"title": f"Monthly incident review: {review['month']}", "r": review,
               "runbook": _relative(review["runbook"], out), "store": store.name}
    pages = {name: env.get_template(f"{name}.j2").render(**context) for name in ("review.html", "review.md")}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pages.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def weekly_markdown(review: dict[str, Any]) -> str:
    """The open action items as a Markdown table, overdue first."""
    cell = _environment().filters["cell"]
    items = review["action_items"]
    lines = [f"# Open action items ({review['today']}): {len(items)} open, {review['overdue']} overdue", ""]
    if not items:
        return "\n".join([*lines, "No open action items."]) + "\n"
    lines += ["| ID | Action | Owner | Due | Overdue | Priority | Incident |",
              "| -- | ------ | ----- | --- | ------- | -------- | -------- |"]
    for a in items:
        overdue = f"{a['overdue_days']} d" if a["overdue_days"] else "—"
        lines.append(f"| {a['id']} | {cell(a['action'])} | {cell(a['owner'])} | {a['due'] or '—'} | {overdue} | "
                     f"{cell(a['priority'])} | {a['incident']} |")
    lines += ["", "Close one: gameday history action done ID"]
    return "\n".join(lines) + "\n"
