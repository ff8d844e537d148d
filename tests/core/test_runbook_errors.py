"""Missing or broken runbook sections give one clear error naming the section — never a wrong number."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameday.errors import GamedayError, RunbookError
from gameday.runbook import parse_runbook


def _drop_section(text: str, heading: str) -> str:
    """Remove a '## heading' section up to the next heading of the same or higher level."""
    pattern = re.compile(rf"^(#+) {re.escape(heading)}.*?(?=^#{{1,2}} |\Z)", re.M | re.S)
    out, count = pattern.subn("", text, count=1)
    assert count == 1, heading
    return out


@pytest.mark.parametrize(
    ("heading", "named"),
    [
        ("Incident Severity Classification", "Incident Severity Classification"),
        ("Incident Response Workflow", "Incident Response Workflow"),
        ("Incident Metrics", "Incident Metrics"),
        ("Incident Response Roles", "Incident Response Roles"),
    ],
)
def test_missing_section_is_named(seed_runbook_path, heading: str, named: str) -> None:
    text = _drop_section(seed_runbook_path.read_text(encoding="utf-8"), heading)
    with pytest.raises(RunbookError) as info:
        parse_runbook(text, "broken.md")
    message = str(info.value)
    assert message.startswith("broken.md: ")
    assert named in message
    assert "\n" not in message


def test_broken_mermaid_line_is_named(seed_runbook_path) -> None:
    text = seed_runbook_path.read_text(encoding="utf-8").replace("I --> G", "I -->")
    with pytest.raises(RunbookError, match=r"mermaid: line \d+"):
        parse_runbook(text, "broken.md")


def test_escalation_without_times_is_an_error(seed_runbook_path) -> None:
    text = seed_runbook_path.read_text(encoding="utf-8").replace("(if unresolved after 1 hour)", "(if unresolved)")
    with pytest.raises(RunbookError, match="Technical Escalation: level 3"):
        parse_runbook(text, "broken.md")


_markdownish = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "# Runbook", "## Incident Severity Classification", "## Incident Response Roles",
                "### Incident Commander (IC)", "### Broken role", "## Incident Response Workflow",
                "```mermaid", "```", "graph TD", "A[x] --> B{y}", "B -->|SEV-1/2| C", "A -->",
                "| Severity | Response Time |", "| --- | --- |", "| **SEV-1 Critical** | < 15 min |",
                "| SEV-x | soon |", "| Severity | Update Interval | Channels |", "| SEV-1 | Every 1 hour |",
                "## Phase 1: Detection (0-15 minutes)", "### Step 3.2: Verify Resolution", "- [ ] Error rate < 1%",
                "# Expected: P95 < 1s", "## Incident Metrics", "| Metric | Target |", "| MTTD | < 5 min |",
                "### Technical Escalation", "Level 1: On-call", "    ↓ (if unresolved after 30 min)",
                "â†’ ðŸš¨", "- **Duties**:", "  - Declare", "", "|", "| a |", "```", "~~~",
            ]
        ),
        st.text(max_size=40),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_markdownish)
def test_random_markdown_gives_a_model_or_a_clean_error(lines: list[str]) -> None:
    try:
        parse_runbook("\n".join(lines), "random.md")
    except GamedayError as exc:
        assert str(exc).startswith("random.md")
        assert "\n" not in str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_seed_gives_a_model_or_a_clean_error(seed_runbook_path, data: st.DataObject) -> None:
    lines = seed_runbook_path.read_text(encoding="utf-8").splitlines()
    start = data.draw(st.integers(0, len(lines) - 1))
    length = data.draw(st.integers(1, 40))
    damaged = lines[:start] + lines[start + length :]
    try:
        runbook = parse_runbook("\n".join(damaged), "damaged.md")
    except GamedayError as exc:
        assert str(exc).startswith("damaged.md")
    else:
        assert runbook.severities and runbook.workflow.nodes
