"""The example journals (``examples/journals/``, made up by ``examples/make_journals.py``) are what the generator
writes today, and they carry Phase 4 the way a team does: blue passes every communication check, red's
deliberate gaps fail exactly the checks they are about and close as it improves."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from gameday.scoring import score_journal
from gameday.scoring.result import Status

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "journals"
COMMS = {
    "update_channels",
    "initial_notice",
    "resolution_notice",
    "declaration_message",
    "status_page",
    "business_escalation",
    "duties_by_role",
}


def test_the_committed_journals_are_the_generators(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regenerating gives the same bytes (one seeded stream per team and purpose), so no file is stale."""
    runpy.run_path(str(REPO / "examples" / "make_journals.py"))["main"](tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".jsonl", ".md"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


def _failed(name: str) -> set[str]:
    (incident,) = score_journal(EXAMPLES / f"{name}.jsonl").incidents
    return {c.id for c in incident.checks if c.status is Status.failed}


@pytest.mark.parametrize("name", ["blue-2026-02-02", "blue-2026-02-23", "blue-2026-03-16", "red-2026-03-16"])
def test_a_team_that_communicates_passes_every_check(name: str) -> None:
    assert _failed(name) == set()


def test_the_red_teams_gaps_fail_their_checks() -> None:
    """Second drill: Slack-only first update, users told late and without the root cause, no Identified on the
    status page, the VP Product forgotten; its declaration and duties are right.  First drill: all seven."""
    assert _failed("red-2026-02-23") & COMMS == COMMS - {"declaration_message", "duties_by_role"}
    assert _failed("red-2026-02-02") >= COMMS
