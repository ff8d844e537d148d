"""Prefilled texts for the war room's forms, from the report code's drafts of the runbook's templates.

A blind drill's drafts are written without the scenario (whose title names the fault): the summary then
comes from the alert that fired, as a responder would write it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gameday.journal import read_journal
from gameday.runbook.model import Runbook

#: Form name -> the runbook template it starts from, by name (the review) or by what the runbook model says
#: the template is (``runbook.communication``: the runbook names its templates its own way).
DRAFTS = {"status-update": "update", "declaration": "declaration", "status-page": "status_page",
          "initial-notice": "initial_notice", "resolution-notice": "resolution_notice",
          "review": "Post-Incident Review"}


def template_name(name: str, runbook: Runbook) -> str | None:
    """The runbook's name for the template behind form ``name`` (KeyError: no such form)."""
    key = DRAFTS[name]
    found = getattr(runbook.communication, key, None) if key.islower() else None
    if found is not None:
        return str(found.name)
    return key if key in runbook.templates else None


def draft_text(name: str, journal: Path, runbook: Runbook, *, blind: bool = False) -> str:
    """The filled template; the bare template while the journal has no incident yet."""
    from gameday.report.clock import RunbookClock
    from gameday.report.drafts import drafts_for
    from gameday.scoring.engine import score_events
    from gameday.scoring.view import split_incidents

    template = template_name(name, runbook)  # KeyError: unknown draft
    if template is None or template not in runbook.templates:
        return ""
    events = read_journal(journal)
    views = split_incidents(events, journal.parent)
    if not views:
        return runbook.templates[template]
    view = views[0]
    if blind:
        view = replace(view, meta={k: v for k, v in view.meta.items() if k != "scenario"})
    score = score_events(events, runbook, base_dir=journal.parent).incidents[0]
    return drafts_for(view, score, runbook, RunbookClock(events))[template]
