"""``gameday runbook commands``: the card of runbook commands, per drill target (the drills' plug-in)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from drills.runbook_card import Sandbox, card
from gameday.cli import _register_commands, app
from gameday.runbook import DEFAULT_RUNBOOK, load_runbook, parse_runbook
from gameday.runbook.commands import Tool

SHIPPED = DEFAULT_RUNBOOK.read_text(encoding="utf-8")
SANDBOX = Sandbox(app_url="http://127.0.0.1:18080", prometheus_url="http://127.0.0.1:19090",
                  alertmanager_url="http://127.0.0.1:19093", logs=Path("/state/sandbox/logs"))


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday.cli", *args], capture_output=True, text=True, timeout=120)


def parses(line: str) -> None:
    """``gameday ...`` as the real CLI parses it: every sub-command exists and takes these arguments."""
    _register_commands()
    command = typer.main.get_command(app)
    words = shlex.split(line)[1:]
    ctx = command.make_context("gameday", list(words))
    while hasattr(command, "get_command"):  # a group (typer's own click: no click.Group to isinstance)
        sub = command.get_command(ctx, words[0])
        assert sub is not None, f"{line}: no command {words[0]!r}"
        command, words = sub, words[1:]
    command.make_context(command.name, words)  # raises on an unknown option or a missing argument


def by_command(target: str, text: str = SHIPPED) -> dict[str, tuple[str | None, str]]:
    rows = card(parse_runbook(text, "r.md"), target, SANDBOX)
    return {row.command: (row.do, row.note) for row in rows}


def test_kubernetes_prints_every_kubectl_line_verbatim() -> None:
    result = gameday("runbook", "commands", "--target", "kubernetes")
    assert result.returncode == 0, result.stderr
    typed = [line.removeprefix("  type:    ") for line in result.stdout.splitlines() if line.startswith("  type:")]
    kubectl = [c.text for c in load_runbook(DEFAULT_RUNBOOK).commands if c.tool is Tool.kubectl]
    assert len(kubectl) == 19
    assert [t for t in typed if t.startswith("kubectl")] == kubectl
    assert "kubectl describe pod <POD> -n <NAMESPACE>" in typed  # placeholders kept
    assert "on Linux: xdg-open https://grafana.hospital-erp.example.com/d/system-overview" in result.stdout


def test_local_maps_commands_to_the_sandbox() -> None:
    local = by_command("local")
    assert local["kubectl get pods -n hospital-erp-system"][0] == "gameday sandbox status"
    assert local["kubectl rollout undo deployment/backend -n hospital-erp-system"][0] == (
        "gameday sandbox rollout undo backend")
    assert local["kubectl delete pods -n hospital-erp-system --all"][0] == "gameday sandbox restart backend"
    assert local["curl -I https://api.hospital-erp.example.com/health"][0] == "curl -I http://127.0.0.1:18080/health"
    assert local["open https://prometheus.hospital-erp.example.com/alerts"][0] == (
        "xdg-open http://127.0.0.1:19090/alerts")
    assert local["kubectl logs -n hospital-erp-system -l app=backend -f | grep -i error"][0] == (
        "tail -f /state/sandbox/logs/backend-*.log | grep -i error")
    assert local["kubectl top nodes"] == (None, "the sandbox has no metrics-server")
    assert local["kubectl top pods -A --sort-by=memory"][0] == "gameday sandbox top pods --sort-by=memory"
    forward = local["kubectl port-forward -n monitoring svc/prometheus-operated 9090:9090"]
    assert forward[0] is None and "http://127.0.0.1:19090" in forward[1]
    assert local["open https://grafana.hospital-erp.example.com/d/system-overview"][0] is None


def test_local_through_the_cli() -> None:
    result = gameday("runbook", "commands", "--target", "local")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index("  runbook: kubectl get pods -n hospital-erp-system")
    assert lines[at + 1] == "  type:    gameday sandbox status"
    assert "  type:    none on local" in lines
    rows = json.loads(gameday("runbook", "commands", "--target", "local", "--json").stdout)
    assert len(rows) == 28 and {row["target"] for row in rows} == {"local"}


@pytest.mark.parametrize("target", ["local", "kubernetes"])
def test_every_gameday_command_on_the_card_is_real(target: str) -> None:
    rows = card(load_runbook(DEFAULT_RUNBOOK), target, SANDBOX)
    typed = [row.do for row in rows if row.do and row.do.startswith("gameday ")]
    assert typed, "the card names no gameday command"
    for line in typed:
        parses(line.split(" | ")[0])
    drill = {row.tool: row.do for row in rows if row.tool in (Tool.chat, Tool.pager, Tool.tracker)}
    assert drill[Tool.pager] == "gameday drill log page 'on-call team' --level 1"
    assert drill[Tool.tracker] == "gameday drill log postmortem <REVIEW.md>"
    assert "gameday drill log war-room '#incident-2026-01-24-001'" in [row.do for row in rows]


def test_a_card_for_another_service_says_the_sandbox_is_the_backend() -> None:
    text = SHIPPED.replace("deployment/backend", "deployment/api").replace("hospital-erp-system", "payments")
    undo = "kubectl rollout undo deployment/api -n payments"
    assert by_command("kubernetes", text)[undo][0] == undo
    do, note = by_command("local", text)[undo]
    assert do == "gameday sandbox rollout undo backend" and "not api" in note


def test_bad_target_and_bad_runbook_are_one_line_exit_2(tmp_path: Path) -> None:
    result = gameday("runbook", "commands", "--target", "minikube")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--target" in result.stderr and "minikube" in result.stderr
    lines = SHIPPED.splitlines(keepends=True)
    second = [i for i, line in enumerate(lines) if "deployment/backend" in line][1]
    lines[second] = lines[second].replace("deployment/backend", "deployment/api")
    path = tmp_path / "two.md"
    path.write_text("".join(lines), encoding="utf-8")
    result = gameday("runbook", "commands", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "world.backend_deployment" in result.stderr and f"line {second + 1} says deployment/api" in " ".join(
        result.stderr.split())
