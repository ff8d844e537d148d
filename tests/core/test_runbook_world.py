"""The runbook's world: the names its commands act on, derived from them, with contradictions refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gameday.errors import RunbookError
from gameday.runbook import DEFAULT_RUNBOOK, load_runbook, parse_runbook
from gameday.runbook.world import World, derive_world

SHIPPED = DEFAULT_RUNBOOK.read_text(encoding="utf-8")

TEAM_WORLD = {
    "namespace": "hospital-erp-system",
    "backend_deployment": "backend",
    "backend_labels": {"app": "backend"},
    "monitoring_namespace": "monitoring",
    "prometheus_service": "prometheus-operated",
    "prometheus_port": 9090,
    "alertmanager_service": "alertmanager-operated",
    "alertmanager_port": 9093,
    "prometheus_host": "prometheus.hospital-erp.example.com",
    "grafana_host": "grafana.hospital-erp.example.com",
    "api_host": "api.hospital-erp.example.com",
    "alerts_path": "/alerts",
    "dashboard_path": "/d/system-overview",
    "health_path": "/health",
    "defaults": ["alertmanager_service", "alertmanager_port"],  # the runbook never names Alertmanager
}


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday.cli", *args], capture_output=True, text=True, timeout=120)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1]


def test_team_and_shipped_runbooks_name_the_same_world(seed_runbook_path: Path) -> None:
    """The team's runbook (../shared; without it the shipped one damaged alike: tests/conftest.py) and gameday's
    own act on the same names with the same commands."""
    shipped = load_runbook(DEFAULT_RUNBOOK)
    assert shipped.world.model_dump() == TEAM_WORLD
    team = load_runbook(seed_runbook_path)
    assert team.world == shipped.world
    assert [c.text for c in team.commands] == [c.text for c in shipped.commands]
    assert [(c.step, c.section, c.tool) for c in team.commands] == [
        (c.step, c.section, c.tool) for c in shipped.commands]


def test_a_runbook_for_another_service_gets_its_own_world() -> None:
    text = (SHIPPED.replace("deployment/backend", "deployment/api").replace("hospital-erp-system", "payments")
            .replace("app=backend", "app=api"))
    world = parse_runbook(text, "payments.md").world
    assert (world.namespace, world.backend_deployment, world.backend_labels) == ("payments", "api", {"app": "api"})
    assert world.selector == "app=api"
    assert world.defaults == ["alertmanager_service", "alertmanager_port"]
    # without a selector the label follows the Deployment's name (the team's convention), as a default
    no_selector = text.replace(" -l app=api", "")
    world = parse_runbook(no_selector, "payments.md").world
    assert world.backend_labels == {"app": "api"}
    assert "backend_labels" in world.defaults


def test_monitoring_names_and_ports_come_from_the_port_forward() -> None:
    text = SHIPPED.replace("-n monitoring svc/prometheus-operated 9090:9090",
                           "-n observability svc/prometheus-k8s 19090:80")
    text = text.replace("kubectl top nodes\n",
                        "kubectl top nodes\nkubectl port-forward -n observability svc/alertmanager-main 9093\n", 1)
    world = parse_runbook(text, "obs.md").world
    assert (world.monitoring_namespace, world.prometheus_service) == ("observability", "prometheus-k8s")
    assert world.prometheus_port == 80  # LOCAL:REMOTE, the service's port is REMOTE
    assert (world.alertmanager_service, world.alertmanager_port) == ("alertmanager-main", 9093)
    assert world.defaults == []


def test_two_deployment_names_are_one_error_naming_both_lines() -> None:
    first = line_of(SHIPPED, "deployment/backend", 1)
    second = line_of(SHIPPED, "deployment/backend", 2)
    lines = SHIPPED.splitlines(keepends=True)
    lines[second - 1] = lines[second - 1].replace("deployment/backend", "deployment/api")
    with pytest.raises(RunbookError) as caught:
        parse_runbook("".join(lines), "two.md")
    message = str(caught.value)
    assert message == (f"two.md: world.backend_deployment: line {first} says deployment/backend, "
                       f"line {second} says deployment/api")
    assert "\n" not in message


def test_contradictions_through_the_cli(tmp_path: Path) -> None:
    second = line_of(SHIPPED, "deployment/backend", 2)
    lines = SHIPPED.splitlines(keepends=True)
    lines[second - 1] = lines[second - 1].replace("deployment/backend", "deployment/api")
    path = tmp_path / "two.md"
    path.write_text("".join(lines), encoding="utf-8")
    result = gameday("runbook", "show", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    err = " ".join(result.stderr.split())  # rich may wrap the one line at the terminal width
    assert f"line {line_of(SHIPPED, 'deployment/backend', 1)} says deployment/backend" in err
    assert f"line {second} says deployment/api" in err


@pytest.mark.parametrize(("old", "new", "field"), [
    ("kubectl get pods -n hospital-erp-system -w", "kubectl get pods -n payments -w", "namespace"),
    ("kubectl get pods -n hospital-erp-system -l app=backend", "kubectl get pods -n hospital-erp-system -l app=api",
     "backend_labels"),
    ("kubectl port-forward -n monitoring svc/prometheus-operated 9090:9090",
     "kubectl port-forward -n monitoring svc/prometheus-k8s 9090:9090", "prometheus_service"),
])
def test_other_contradictions(old: str, new: str, field: str) -> None:
    assert old in SHIPPED
    with pytest.raises(RunbookError, match=rf"^x\.md: world\.{field}: line \d+ says .+, line \d+ says .+$"):
        parse_runbook(SHIPPED.replace(old, new, 1), "x.md")


def test_placeholders_and_the_monitoring_namespace_are_not_the_app_namespace() -> None:
    world = parse_runbook(SHIPPED.replace("kubectl top nodes\n", "kubectl top nodes\nkubectl get pods -n monitoring\n"
                                          "kubectl logs <POD> -n <NAMESPACE>\n", 1), "x.md").world
    assert world.namespace == "hospital-erp-system"


@pytest.mark.parametrize(("old", "new", "field", "problem"), [
    ("deployment/backend", "deployment/Backend_API", "backend_deployment", "not a valid Kubernetes"),
    ("svc/prometheus-operated 9090:9090", "svc/prometheus-operated 9090:99999", "prometheus_port", "65535"),
    ("-n hospital-erp-system", "-n hospital.erp", "namespace", "DNS-1123"),
])
def test_names_and_ports_are_validated(old: str, new: str, field: str, problem: str) -> None:
    with pytest.raises(RunbookError, match=rf"^bad\.md: world\.{field}: .*{problem}.*\(line \d+: .+\)$"):
        parse_runbook(SHIPPED.replace(old, new), "bad.md")


def test_a_runbook_without_commands_falls_back_to_the_defaults_and_says_so() -> None:
    text = SHIPPED.replace("```bash\n", "```text\n")
    runbook = parse_runbook(text, "bare.md")
    assert runbook.commands == []
    world = runbook.world
    assert world.defaults == [f for f in World.model_fields if f != "defaults"]
    assert world.model_dump(exclude={"defaults"}) == {k: v for k, v in TEAM_WORLD.items() if k != "defaults"}
    assert derive_world([]) == world
    result = gameday("runbook", "show", str(DEFAULT_RUNBOOK))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "hospital-erp-system" in out and "deployment/backend (-l app=backend)" in out
    assert "https://grafana.hospital-erp.example.com/d/system-overview" in out
    assert "alertmanager_service, alertmanager_port" in out
