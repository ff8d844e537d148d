"""The generated service configs are valid for the real tools and keep the runbook's expressions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from gameday_testkit import require

from drills.sandbox import configs
from drills.sandbox.config import Ports, SandboxConfig
from drills.sandbox.paths import Layout


@pytest.fixture
def rendered(tmp_path: Path) -> Layout:
    cfg = SandboxConfig(state_dir=tmp_path)
    layout = Layout(cfg.home)
    configs.write_all(cfg, layout, replicas=3)
    return layout


def _tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} not installed (make system-deps)")
    assert path is not None
    return path


@pytest.mark.sandbox
def test_promtool_accepts_config_and_rules(rendered: Layout) -> None:
    result = subprocess.run([_tool("promtool"), "check", "config", str(rendered.prometheus / "prometheus.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    rules = subprocess.run([_tool("promtool"), "check", "rules", str(rendered.prometheus / "rules.yml")],
                           capture_output=True, text=True)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS" in rules.stdout


@pytest.mark.sandbox
def test_amtool_accepts_alertmanager_config(rendered: Layout) -> None:
    result = subprocess.run([_tool("amtool"), "check-config", str(rendered.alertmanager / "alertmanager.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_keep_the_runbook_query_and_every_alert(rendered: Layout) -> None:
    rules = yaml.safe_load((rendered.prometheus / "rules.yml").read_text())
    flat = [r for group in rules["groups"] for r in group["rules"]]
    records = {r["record"]: r["expr"] for r in flat if "record" in r}
    alerts = {r["alert"]: r for r in flat if "alert" in r}
    # the runbook's PromQL verbatim, as a recording rule
    assert records["runbook:http_error_ratio:rate1m"] == (
        'sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))')
    assert set(alerts) >= {"HighErrorRate", "HighLatencyP95", "BackendCrashLooping", "PgBouncerPoolSaturated",
                           "BackendDown"}
    # the alert is the runbook's expression over the compressed window, with the 5 % threshold
    assert alerts["HighErrorRate"]["expr"] == (
        'sum(rate(http_requests_total{status=~"5.."}[15s])) / sum(rate(http_requests_total[15s])) > 0.05')
    assert all(a["for"] == "5s" for a in alerts.values())


def test_alertmanager_posts_quickly_to_the_drill_webhook(rendered: Layout) -> None:
    am = yaml.safe_load((rendered.alertmanager / "alertmanager.yml").read_text())
    assert am["route"]["group_wait"] == "1s" and am["route"]["group_interval"] == "1s"
    hook = am["receivers"][0]["webhook_configs"][0]
    assert hook == {"url": "http://127.0.0.1:19095/alerts", "send_resolved": True}


def test_port_offset_moves_every_port() -> None:
    moved = Ports().shifted(100)
    assert all(getattr(moved, name) == value + 100 for name, value in Ports().model_dump().items())
    backends = set(range(Ports().backend_base, Ports().backend_base + SandboxConfig(state_dir=Path(".")).max_replicas))
    others = {v for k, v in Ports().model_dump().items() if k != "backend_base"}
    assert not backends & others, "a fixed port falls inside the backend replica range"


def test_pgbouncer_uses_transaction_pooling_with_a_small_pool(rendered: Layout) -> None:
    ini = (rendered.pgbouncer / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in ini
    assert "default_pool_size = 8" in ini
