"""The HTML report as a team reads it: opened by Debian's headless chromium (Playwright), screenshots kept.

Screenshots go to ``$GAMEDAY_TEST_ARTIFACTS/report`` (default ``out/test-artifacts/report`` in the checkout,
which git ignores), so a CI run keeps them as artefacts and a person can look at what the test saw.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from gameday_testkit import require

from gameday.report.build import build_report

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "scoring" / "fixtures"
CHROMIUM = os.environ.get("GAMEDAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("GAMEDAY_TEST_ARTIFACTS", REPO / "out" / "test-artifacts")) / "report"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright  # a pinned dev dependency: make venv installs it

    require(Path(CHROMIUM).exists(), f"chromium not installed at {CHROMIUM} (make system-deps)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.parametrize(("name", "source", "title"), [
    ("drill", "verified-early.jsonl", "Game day report: Deploy v1.2.3 leaks database connections "
                                      "(drill-2026-03-02-001)"),
    ("timeline", "incident-2026-01-24-001.md", "Incident report: 2026-01-24-001 (from its timeline)"),
])
def test_report_in_a_browser(browser, tmp_path: Path, name: str, source: str, title: str,  # type: ignore[no-untyped-def]
                             mojibake_runbook_path: Path) -> None:
    folder = tmp_path / "drill"
    folder.mkdir()
    shutil.copy(FIXTURES / source, folder / source)
    shutil.copy(mojibake_runbook_path, folder / "seed-runbook.md")  # the runbook the journal names, beside it
    out = folder / "report"
    kwargs = {"journal": folder / source} if source.endswith(".jsonl") else {
        "timeline": folder / source, "runbook": folder / "seed-runbook.md"}
    build_report(out=out, **kwargs)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto((out / "report.html").as_uri())
        assert page.title() == title
        assert page.locator("h1").inner_text() == title
        width = page.eval_on_selector("#timeline", "img => img.complete ? img.naturalWidth : 0")
        assert width == 1210  # the chart loaded, from a path relative to the page
        text = page.locator("body").inner_text()
        assert str(tmp_path) not in text and not re.search(r"(^|\s)/(work|tmp|home|root)/", text)
        assert "../" + source in text  # the journal (or timeline), relative to the report's folder
        header = page.locator("table.metrics-table th").all_inner_texts()
        assert header == ["Metric", "From → to", "Minutes", "Target", "Met"]
        spans = page.locator("table.metrics-table td:nth-child(2)").all_inner_texts()
        assert "detected → acknowledged" in spans and "started → restored" in spans
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"report-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
    finally:
        page.close()
