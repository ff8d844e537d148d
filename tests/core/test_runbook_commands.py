"""The runbook's commands: every shell line, where it sits, which tool runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gameday_testkit import TEAM_RUNBOOK

from gameday.runbook import DEFAULT_RUNBOOK, load_runbook, parse_runbook
from gameday.runbook.commands import RunbookCommand, Tool, classify, command

#: Every command of the team's runbook, in order (28: 23 kubectl/curl/open, 2 chat, 1 pager, 1 tracker, 1 promql).
TEAM_COMMANDS = [
    "open https://prometheus.hospital-erp.example.com/alerts",
    "open https://grafana.hospital-erp.example.com/d/system-overview",
    "kubectl get pods -n hospital-erp-system",
    "kubectl get events -n hospital-erp-system --sort-by='.lastTimestamp' | tail -20",
    "/create #incident-2026-01-24-001",
    "/invite @john.doe @jane.smith @db-team",
    'pd-alert --severity critical --service hospital-erp --message "SEV-1: Complete backend outage"',
    "kubectl get pods -n hospital-erp-system -w",
    "kubectl get events -n hospital-erp-system --sort-by='.lastTimestamp' | tail -50",
    "kubectl logs -n hospital-erp-system -l app=backend --tail=100 -f",
    "kubectl port-forward -n monitoring svc/prometheus-operated 9090:9090",
    "kubectl rollout undo deployment/backend -n hospital-erp-system",
    "kubectl rollout status deployment/backend -n hospital-erp-system",
    "kubectl get pods -n hospital-erp-system -l app=backend",
    "kubectl get pods -n hospital-erp-system",
    "curl -I https://api.hospital-erp.example.com/health",
    'sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))',
    "kubectl get pods -n hospital-erp-system -w",
    "open https://grafana.hospital-erp.example.com/d/system-overview",
    "kubectl logs -n hospital-erp-system -l app=backend -f | grep -i error",
    'gh issue create --repo kcenon/hospital_erp_system --title "[Post-Incident] Add integration test for connection '
    'pool" --label "type:task" --label "priority:high" --body "From incident 2026-01-24-001: Add test to verify '
    'connections are released on timeout"',
    "kubectl get pods -A | grep -v Running",
    "kubectl get events --all-namespaces --sort-by='.lastTimestamp' | tail -50",
    "kubectl top nodes",
    "kubectl top pods -A --sort-by=memory",
    "kubectl describe pod <POD> -n <NAMESPACE>",
    "kubectl port-forward -n monitoring svc/prometheus-operated 9090:9090",
    "kubectl delete pods -n hospital-erp-system --all",
]
TEAM_STEPS = ["1.1"] * 4 + ["1.3"] * 3 + ["2.1"] * 4 + ["3.1"] * 3 + ["3.2"] * 3 + ["3.3"] * 3 + ["6.3"] + [None] * 7


@pytest.fixture(scope="module", params=["team", "shipped"])
def commands(request: pytest.FixtureRequest, seed_runbook_path: Path) -> list[RunbookCommand]:
    """``team``: the team's runbook when ../shared is beside the repo, else the shipped one damaged alike
    (tests/conftest.py), never a skip; ``shipped``: gameday's own."""
    return load_runbook(seed_runbook_path if request.param == "team" else DEFAULT_RUNBOOK).commands


def test_every_command_in_order(commands: list[RunbookCommand]) -> None:
    assert [c.text for c in commands] == TEAM_COMMANDS
    assert [c.step for c in commands] == TEAM_STEPS
    tools = [c.tool for c in commands]
    assert sum(t in (Tool.kubectl, Tool.curl, Tool.open) for t in tools) == 23
    assert [c.text.split()[0] for c in commands if c.tool is Tool.chat] == ["/create", "/invite"]
    assert [c.tool for c in commands if c.tool not in (Tool.kubectl, Tool.curl, Tool.open)] == [
        Tool.chat, Tool.chat, Tool.pager, Tool.promql, Tool.tracker]
    assert tools.count(Tool.open) == 3 and tools.count(Tool.curl) == 1 and tools.count(Tool.kubectl) == 19


def test_sections_placeholders_long_running_and_urls(commands: list[RunbookCommand]) -> None:
    by_text = {c.text: c for c in commands}
    undo = by_text["kubectl rollout undo deployment/backend -n hospital-erp-system"]
    assert undo.section == "Step 3.1: Implement Fix"
    describe = by_text["kubectl describe pod <POD> -n <NAMESPACE>"]
    assert (describe.section, describe.step) == ("Useful Commands", None)
    assert describe.placeholders == ["<POD>", "<NAMESPACE>"]
    assert [c.text for c in commands if c.long_running] == [
        "kubectl get pods -n hospital-erp-system -w",
        "kubectl logs -n hospital-erp-system -l app=backend --tail=100 -f",
        "kubectl port-forward -n monitoring svc/prometheus-operated 9090:9090",
        "kubectl get pods -n hospital-erp-system -w",
        "kubectl logs -n hospital-erp-system -l app=backend -f | grep -i error",
        "kubectl port-forward -n monitoring svc/prometheus-operated 9090:9090",
    ]
    assert by_text["curl -I https://api.hospital-erp.example.com/health"].urls == [
        "https://api.hospital-erp.example.com/health"]
    assert all(not c.placeholders for c in commands if c is not describe)


def test_line_numbers_point_at_the_command(seed_runbook_path: Path) -> None:
    for path in (seed_runbook_path, DEFAULT_RUNBOOK):
        lines = path.read_text(encoding="utf-8").splitlines()
        runbook = load_runbook(path)
        for cmd in runbook.commands:
            assert lines[cmd.line - 1].strip().startswith(cmd.text.split()[0]), (path, cmd.line, cmd.text)
    team = load_runbook(seed_runbook_path).commands
    if TEAM_RUNBOOK.exists():
        assert [c.line for c in team][:4] == [106, 109, 112, 113]
        assert {c.text: c.line for c in team}["kubectl rollout undo deployment/backend -n hospital-erp-system"] == 281
    else:  # the damaged copy keeps the shipped runbook's lines: mojibake changes characters, not line breaks
        assert [c.line for c in team] == [c.line for c in load_runbook(DEFAULT_RUNBOOK).commands]


def test_templates_and_unlabelled_fences_are_not_commands() -> None:
    text = DEFAULT_RUNBOOK.read_text(encoding="utf-8")
    runbook = parse_runbook(text, "shipped")
    assert not any("INCIDENT DECLARED" in c.text or c.text.startswith(("Status:", "Level ")) for c in runbook.commands)
    extra = text.replace("### Useful Commands\n", "### Useful Commands\n\n```\nkubectl get nodes\n```\n\n"
                         "```\nStatus: kubectl is fine\n```\n\n```text\nkubectl get svc\n```\n", 1)
    added = [c.text for c in parse_runbook(extra, "edited").commands if c.text not in TEAM_COMMANDS]
    assert added == ["kubectl get nodes"]


def test_continuations_comments_and_classification() -> None:
    text = DEFAULT_RUNBOOK.read_text(encoding="utf-8").replace(
        "kubectl top nodes\n",
        "kubectl top nodes\nkubectl scale deployment/backend \\\n    --replicas=5 -n hospital-erp-system\n"
        "  # indented comment\nkubectl apply -f fix.yaml\n", 1)
    cmds = parse_runbook(text, "edited").commands
    texts = [c.text for c in cmds]
    joined = texts.index("kubectl scale deployment/backend --replicas=5 -n hospital-erp-system")
    assert texts[joined + 1] == "kubectl apply -f fix.yaml"
    assert not cmds[joined + 1].long_running  # -f is a file there, not --follow
    assert cmds[joined].line == cmds[joined - 1].line + 1
    assert classify("gh pr list") is Tool.other
    assert classify("xdg-open https://x.example.com") is Tool.open
    assert classify("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))") is Tool.promql
    assert classify("up{job=\"backend\"}") is Tool.promql
    assert classify("sumo upload") is Tool.other
    assert command("kubectl logs deploy/backend --follow", 1).long_running
    assert not command("kubectl rollout status deployment/backend", 1).long_running
