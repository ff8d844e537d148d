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
    # the alert is the runbook's expression over its minute at time scale 60 (held at four 0.5 s scrapes),
    # with the 5 % threshold; `for` is the baseline policy's 2 minutes
    assert alerts["HighErrorRate"]["expr"] == (
        'sum(rate(http_requests_total{status=~"5.."}[2s])) / sum(rate(http_requests_total[2s])) > 0.05')
    assert all(a["for"] == "2s" for a in alerts.values())


def test_alertmanager_posts_to_the_drill_webhook_after_the_scaled_group_wait(rendered: Layout) -> None:
    am = yaml.safe_load((rendered.alertmanager / "alertmanager.yml").read_text())
    assert am["route"]["group_wait"] == "500ms" and am["route"]["group_interval"] == "1s"
    hook = am["receivers"][0]["webhook_configs"][0]
    assert hook == {"url": "http://127.0.0.1:19095/alerts", "send_resolved": True}


@pytest.mark.parametrize(("scale", "scrape", "window", "alert_for", "group_wait"), [
    (10, "1500ms", "6s", "12s", "3s"),
    (30, "500ms", "2s", "4s", "1s"),
    (60, "500ms", "2s", "2s", "500ms"),
])  # fmt: skip
def test_the_detection_chain_follows_the_time_scale(tmp_path: Path, scale: float, scrape: str, window: str,
                                                     alert_for: str, group_wait: str) -> None:
    """Runbook durations (15 s scrape and evaluation, the runbook's 1 m window, `for: 2m`, 30 s group wait)
    divided by the scale; half a second is the floor of an interval, four scrapes of a window."""
    cfg = SandboxConfig(state_dir=tmp_path, time_scale=scale)
    layout = Layout(cfg.home)
    configs.write_all(cfg, layout, replicas=3)
    prom = yaml.safe_load((layout.prometheus / "prometheus.yml").read_text())["global"]
    assert (prom["scrape_interval"], prom["evaluation_interval"], prom["scrape_timeout"]) == (scrape, scrape, scrape)
    rules = [r for g in yaml.safe_load((layout.prometheus / "rules.yml").read_text())["groups"] for r in g["rules"]]
    assert all(r["for"] == alert_for for r in rules if "alert" in r)
    error_rate = next(r for r in rules if r.get("alert") == "HighErrorRate")["expr"]
    assert f"[{window}]" in error_rate and "[1m]" not in error_rate
    am = yaml.safe_load((layout.alertmanager / "alertmanager.yml").read_text())["route"]
    assert am["group_wait"] == group_wait


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


def test_a_pod_gone_in_a_rollout_is_not_backend_down(tmp_path: Path) -> None:
    """Prometheus's own rule engine (``promtool test rules``) on the shipped rules at x120 (2 s window): a pod whose
    deletion series ended (the pod is gone) while its scrape target lingers is not down, for the linger's 10 s
    (on kind it outlived its pod by 2.2 s, longer than the window), nor after it (a lost node's pods, removed when
    it came back, outlived the memory in CI): a gone pod's series are gone too; a pod that stops answering without
    being deleted is, once the rule's ``for`` has passed."""
    from drills.detection import deleted_pod_memory_s, duration

    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(configs.alert_rules("2s", "1s", duration(deleted_pod_memory_s(2.0)))),
                     encoding="utf-8")  # fmt: skip
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "500ms",
        "tests": [{
            "interval": "500ms",
            "input_series": [
                {"series": 'up{job="backend",pod="rolled"}', "values": "1 1 0 0 0 0 0 0 0 0 0 0 0 0"},
                {"series": 'kube_pod_deletion_timestamp{pod="rolled"}', "values": "_ 100 100 stale"},
                {"series": 'kube_pod_status_ready{pod="rolled",condition="true"}', "values": "1 1 0 stale"},
                {"series": 'up{job="backend",pod="hung"}', "values": "1 1 0x58"},
                {"series": 'kube_pod_status_ready{pod="hung",condition="true"}', "values": "1 1 0x58"},
                # a lost node's pod: deleted while its node was down, gone when the node came back (11.5 s), and its
                # scrape target still there past the deletion's 10 s memory
                {"series": 'up{job="backend",pod="lost"}', "values": "1 1 0x58"},
                {"series": 'kube_pod_deletion_timestamp{pod="lost"}', "values": "_ _ 100x20 stale"},
                {"series": 'kube_pod_status_ready{pod="lost",condition="true"}', "values": "1 1 0x20 stale"},
            ],
            "alert_rule_test": [{
                "eval_time": "6s",  # the rolled pod gone 4.5 s ago
                "alertname": "BackendDown",
                "exp_alerts": [{"exp_labels": {"severity": "critical", "job": "backend", "pod": "hung"},
                                "exp_annotations": {"summary": "Backend hung cannot be scraped",
                                                    "runbook": "runbooks/incident-response.md"}}],
            }, {
                "eval_time": "25s",  # the lost pod gone 13.5 s ago: its deletion forgotten, its target still scraped
                "alertname": "BackendDown",
                "exp_alerts": [{"exp_labels": {"severity": "critical", "job": "backend", "pod": "hung"},
                                "exp_annotations": {"summary": "Backend hung cannot be scraped",
                                                    "runbook": "runbooks/incident-response.md"}}],
            }],
        }],
    }  # fmt: skip
    spec = tmp_path / "test.yml"
    spec.write_text(yaml.safe_dump(test), encoding="utf-8")
    result = subprocess.run([_tool("promtool"), "test", "rules", str(spec)], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
