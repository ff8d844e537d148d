"""``gameday report``: the seed incident's timeline and a drill journal render to HTML, Markdown, PNG and
drafts in the runbook's own templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from gameday.report.build import build_report
from gameday.runbook import load_runbook
from gameday.scoring.postmortem import read_review

FIXTURES = Path(__file__).resolve().parents[1] / "scoring" / "fixtures"
SIX = ("Incident Timeline", "Post-Incident Review", "Status Page Update", "Initial Notification",
       "Resolution Notification", "Slack Incident Declaration")


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


@pytest.fixture(scope="module")
def timeline_report(tmp_path_factory: pytest.TempPathFactory, mojibake_runbook_path: Path) -> Path:
    """The seed incident reported against the runbook as the team's arrived (damaged: read through the repair)."""
    out = tmp_path_factory.mktemp("timeline-report")
    build_report(timeline=FIXTURES / "incident-2026-01-24-001.md", out=out, runbook=mojibake_runbook_path)
    return out


def test_chart_is_a_real_image_of_sensible_size(timeline_report: Path) -> None:
    png = timeline_report / "timeline.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        width, height = image.size
        assert width == 1210  # 11 inches at 110 dpi
        assert height > 200  # the event lane at least (a timeline has no metric samples)
        # not a blank canvas: lines and labels were drawn
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 50


def test_html_has_score_table_and_image(timeline_report: Path) -> None:
    html = (timeline_report / "report.html").read_text(encoding="utf-8")
    assert "<title>Incident report: 2026-01-24-001 (from its timeline)</title>" in html
    assert str(FIXTURES.parent.parent.parent) not in html  # no absolute path of this machine
    assert '<table class="score-table">' in html
    assert 'src="timeline.png"' in html
    for title in ("Declared within the response time", "Stability watch before resolving"):
        assert title in html
    assert "excluded from the score" in html
    assert "Incident 2026-01-24-001" in html
    md = (timeline_report / "report.md").read_text(encoding="utf-8")
    assert "![Timeline" in md and "| Time to resolve (MTTR) | started → resolved | 60.0 |" in md
    assert "| Time to restore | started → restored | 30.0 |" in md
    # every stated target met (MTTR 60 of 60 minutes) except MTTA, which the timeline does not record
    assert "| Time to acknowledge (MTTA) | detected → acknowledged | — | < 15 min | — |" in md
    assert "*Compliant with the runbook's targets: no (" in md and "Compliant with the runbook's targets" in html


def test_drafts_use_the_runbooks_templates(timeline_report: Path, mojibake_runbook_path: Path) -> None:
    folder = timeline_report / "drafts" / "2026-01-24-001"
    for name in SIX:
        assert (folder / f"{_slug(name)}.md").is_file(), name
    slack = (folder / "slack-incident-declaration.md").read_text(encoding="utf-8")
    assert "**Severity**: SEV-1" in slack and "INCIDENT DECLARED" in slack
    timeline = (folder / "incident-timeline.md").read_text(encoding="utf-8")
    assert "| Time (KST) | Event |" in timeline and "| 14:32 | Incident declared SEV-1 |" in timeline
    restored = (folder / "resolution-notification.md").read_text(encoding="utf-8")
    assert "as of 15:00 KST" in restored and "Resolution: rollback" in restored
    # the review draft has every section of the runbook's template, so the scorer would accept its shape
    template = load_runbook(mojibake_runbook_path).templates["Post-Incident Review"]
    findings = read_review(folder / "post-incident-review.md", template)
    assert findings.missing_sections == []
    assert findings.timeline_entries >= 7


def test_drill_report_with_metrics_and_failures(tmp_path: Path) -> None:
    written = build_report(journal=FIXTURES / "verified-early.jsonl", out=tmp_path)
    assert tmp_path / "report.html" in written
    with Image.open(tmp_path / "timeline.png") as image:
        assert image.size[1] > 600  # three metric panels plus the event lane
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Verified too early" in html
    review = (tmp_path / "drafts" / "drill-2026-03-02-001" / "post-incident-review.md").read_text(encoding="utf-8")
    assert "Improve: verification true on the metrics" in review  # failed check -> action item
    assert "## What Went Poorly" in review


def test_multi_incident_report(tmp_path: Path) -> None:
    build_report(journal=FIXTURES / "sim-two.jsonl", out=tmp_path)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Incident sim-0001" in md and "## Incident sim-0002" in md
    assert "mean of 2 incidents" in md
