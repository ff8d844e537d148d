"""``gameday report``: score, chart, drafts, then one HTML and one Markdown page over them."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gameday.journal import read_journal
from gameday.report.chart import render_chart
from gameday.report.clock import RunbookClock
from gameday.report.drafts import drafts_for
from gameday.scoring.engine import resolve_runbook, score_events
from gameday.scoring.result import IncidentScore, JournalScore
from gameday.scoring.view import split_incidents
from gameday.scoring.weights import DEFAULT_WEIGHTS, load_weights

TEMPLATES = Path(__file__).with_name("templates")
CHECKOUT = Path(__file__).resolve().parents[2]
#: A file at most this many folders above the report is shown relative to it (a drill's journal: one).
MAX_UP_LEVELS = 2
MAX_DRAFTED_INCIDENTS = 5


@dataclass
class IncidentSection:
    score: IncidentScore
    drafts: dict[str, str]  # template name -> text
    draft_files: dict[str, str]  # template name -> relative path


def report_title(meta: dict, result: JournalScore, source: Path) -> str:
    """What a team calls it: the scenario's title and the drill id (a timeline: its incident; a simulation:
    its policy), never a file name."""
    scenario = meta.get("scenario") if isinstance(meta.get("scenario"), dict) else {}
    incidents = [i.incident for i in result.incidents]
    if meta.get("source") == "sim":
        return f"Simulation report: policy {meta.get('policy') or '?'}, {len(incidents)} incidents"
    ident = meta.get("drill_id") or (incidents[0] if len(incidents) == 1 else source.stem)
    if scenario.get("title"):
        return f"Game day report: {scenario['title']} ({ident})"
    if meta.get("source") == "timeline":
        return f"Incident report: {ident} (from its timeline)"
    return f"Game day report: {ident}"


def _relative(path: str | Path, out: Path) -> str:
    """How the page names a file: relative to the report's folder when it sits near it (``../journal.jsonl``),
    files gameday ships relative to its checkout (``runbooks/incident-response.md``), anything else by name,
    so a report shows no machine's absolute paths."""
    if not str(path):
        return ""
    absolute = Path(path).resolve()
    relative = os.path.relpath(absolute, out.resolve())
    if relative.split(os.sep).count("..") <= MAX_UP_LEVELS:
        return relative
    if absolute.is_relative_to(CHECKOUT):
        return str(absolute.relative_to(CHECKOUT))
    return absolute.name


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def build_report(
    *,
    journal: Path | None = None,
    timeline: Path | None = None,
    out: Path,
    runbook: Path | None = None,
    weights: Path | None = None,
    date: str | None = None,
) -> list[Path]:
    """Write report.html, report.md, timeline.png and drafts/*.md into ``out``; return what was written.

    Everything is written into a hidden staging folder (on the same file system) and moved into ``out``
    only once the whole report exists, so a journal that fails half-way leaves no partial report behind.
    """
    out = Path(out)
    existing = next(p for p in (out.parent, *out.parent.parents) if p.is_dir())
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=existing))
    try:
        staged = _build_report(journal=journal, timeline=timeline, out=out, into=staging, runbook=runbook,
                               weights=weights, date=date)
        written = []
        for path in staged:
            target = out / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _build_report(
    *,
    journal: Path | None = None,
    timeline: Path | None = None,
    out: Path,
    into: Path,
    runbook: Path | None = None,
    weights: Path | None = None,
    date: str | None = None,
) -> list[Path]:
    """The report for ``out`` (the page names files relative to it), written into ``into``."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from gameday.journal import journal_meta
    from gameday.scoring.timeline import timeline_events

    source = journal or timeline
    assert source is not None
    events = read_journal(source) if journal is not None else timeline_events(source, date=date)
    meta = journal_meta(events)
    rb = resolve_runbook(runbook, meta if journal is not None else {}, source.parent)
    result = score_events(events, rb, load_weights(weights), journal=str(source), base_dir=source.parent,
                          weights_source=str(weights or DEFAULT_WEIGHTS))
    written: list[Path] = []

    title = report_title(meta, result, source)
    chart = render_chart(events, rb, into / "timeline.png", f"{title} — runbook clock")
    written.append(chart)

    clock = RunbookClock(events)
    views = {v.incident: v for v in split_incidents(events, source.parent)}
    sections = []
    for index, incident in enumerate(result.incidents):
        drafts: dict[str, str] = {}
        files: dict[str, str] = {}
        if index < MAX_DRAFTED_INCIDENTS:
            drafts = drafts_for(views[incident.incident], incident, rb, clock)
            for name, text in drafts.items():
                rel = f"drafts/{_slug(incident.incident)}/{_slug(name)}.md"
                path = into / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                written.append(path)
                files[name] = rel
        sections.append(IncidentSection(incident, drafts, files))

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["minutes"] = lambda v: "—" if v is None else f"{v:.1f}"
    env.filters["score"] = lambda v: "n/a" if v is None else f"{v:.0f}"
    env.filters["cell"] = lambda v: str(v).replace("|", "/").replace("\n", " ")
    context = {
        "title": title,
        "paths": {"journal": _relative(source, out), "runbook": _relative(rb.source, out),
                  "weights": _relative(result.weights, out)},
        "result": result,
        "sections": sections,
        "runbook": rb,
        "meta": meta,
        "chart": chart.name,
        "skipped_drafts": max(0, len(result.incidents) - MAX_DRAFTED_INCIDENTS),
    }
    for name in ("report.html", "report.md"):
        path = into / name
        path.write_text(env.get_template(f"{name}.j2").render(**context), encoding="utf-8")
        written.append(path)
    return written
