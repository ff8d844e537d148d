"""The cluster's Prometheus and Alertmanager settings come from the same detection chain and rules as the
sandbox's, at the drill's time scale (one calibration for both targets), and the stack carries the runbook's
names wherever they appear."""

from __future__ import annotations

import json
import re

import yaml

from drills.detection import DetectionChain
from drills.k8s import monitoring
from drills.k8s.calibration import seconds
from drills.k8s.stack import render
from drills.sandbox.config import SandboxConfig
from drills.sandbox.configs import POD_EXISTS, alertmanager_yml, prometheus_yml, sandbox_alert_rules
from drills.sandbox.paths import Layout
from gameday.runbook import load_runbook


def _cluster(scale: float) -> dict[str, dict]:
    data = monitoring.config_data(DetectionChain().at(scale), "hospital-erp-system", "alertmanager-operated:9093")
    return {"prometheus": yaml.safe_load(data[monitoring.PROMETHEUS_CONFIG][monitoring.PROMETHEUS_FILE]),
            "rules": yaml.safe_load(data[monitoring.PROMETHEUS_CONFIG][monitoring.RULES_FILE]),
            "alertmanager": yaml.safe_load(data[monitoring.ALERTMANAGER_CONFIG][monitoring.ALERTMANAGER_FILE])}


def test_cluster_and_sandbox_detect_on_the_same_wall_clock_at_every_scale(tmp_path) -> None:
    for scale in (1.0, 10.0, 30.0, 60.0, 120.0):
        cfg = SandboxConfig(state_dir=tmp_path, time_scale=scale)
        sandbox_prom = prometheus_yml(cfg, Layout(cfg.home))
        cluster = _cluster(scale)
        assert cluster["prometheus"]["global"] == sandbox_prom["global"], scale
        # same rules, same window and `for`; only the cluster remembers a deleted pod and asks that a pod down
        # still exists (its target outlives it)
        remembered = re.compile(r"last_over_time\(kube_pod_deletion_timestamp\[(\w+)\]\)")
        text = json.dumps(cluster["rules"])
        assert text.count(POD_EXISTS) == 1, scale
        rules = json.loads(remembered.sub("kube_pod_deletion_timestamp", text.replace(POD_EXISTS, "")))
        assert rules == sandbox_alert_rules(cfg), scale
        [memory] = remembered.findall(json.dumps(cluster["rules"]))
        assert seconds(memory) == max(10.0, 60.0 / scale), scale
        sandbox_route = alertmanager_yml(cfg)["route"]
        cluster_route = cluster["alertmanager"]["route"]
        for key in ("group_by", "group_wait", "group_interval", "repeat_interval"):
            assert cluster_route[key] == sandbox_route[key], (scale, key)


def test_a_drill_at_scale_60_waits_two_wall_seconds_where_the_runbook_waits_two_minutes() -> None:
    fast, resting = _cluster(60.0), _cluster(monitoring.RESTING_SCALE)
    alert_for = {r["alert"]: seconds(r["for"]) for g in fast["rules"]["groups"] for r in g["rules"] if "alert" in r}
    assert set(alert_for.values()) == {2.0}  # `for: 2m` in runbook time
    assert seconds(fast["prometheus"]["global"]["scrape_interval"]) == 0.5  # 15 s / 60 = 0.25 s: the floor
    resting_for = {seconds(r["for"]) for g in resting["rules"]["groups"] for r in g["rules"] if "alert" in r}
    assert resting_for == {120.0} and resting["prometheus"]["global"]["scrape_interval"] == "15s"
    # between drills the runbook's own [1m] window is the alert window, as in production
    error_rule = next(r for g in resting["rules"]["groups"] for r in g["rules"] if r.get("alert") == "HighErrorRate")
    windows = {seconds(w) for w in re.findall(r"\[(\w+)\]", error_rule["expr"])}
    assert windows == {60.0}, error_rule["expr"]


def test_durations_read_as_prometheus_writes_them() -> None:
    assert [seconds(x) for x in ("500ms", "2s", "1m30s", "2m", "1h")] == [0.5, 2.0, 90.0, 120.0, 3600.0]
    for bad in ("", "2", "1x", "2s junk"):
        try:
            seconds(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was read as a duration")


def test_the_stack_carries_the_runbooks_names_and_none_of_its_own() -> None:
    world = load_runbook().world.model_copy(update={"namespace": "payments", "backend_deployment": "api",
                                             "backend_labels": {"app": "api"}, "monitoring_namespace": "observability",
                                             "prometheus_service": "prom", "prometheus_port": 9091})  # fmt: skip
    docs = render(world)
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    api = by_kind[("Deployment", "api")]
    assert api["metadata"]["namespace"] == "payments"
    assert api["spec"]["selector"]["matchLabels"] == {"app": "api"}
    assert api["spec"]["template"]["metadata"]["labels"]["app"] == "api"
    assert by_kind[("Service", "api")]["spec"]["selector"] == {"app": "api"}
    prom = by_kind[("Service", "prom")]
    assert prom["metadata"]["namespace"] == "observability" and prom["spec"]["ports"][0]["port"] == 9091
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"payments", "observability"}
    gateway = by_kind[("Deployment", "gateway")]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "BACKEND_SERVICE", "value": "api"} in gateway
    exporter = by_kind[("Deployment", "cluster-exporter")]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "BACKEND_SELECTOR", "value": "app=api"} in exporter
    scrape = yaml.safe_load(by_kind[("ConfigMap", monitoring.PROMETHEUS_CONFIG)]["data"][monitoring.PROMETHEUS_FILE])
    assert scrape["scrape_configs"][0]["http_sd_configs"][0]["url"].startswith("http://cluster-exporter.payments.svc")
    pods = [d["spec"]["template"]["spec"] for d in docs if "template" in d.get("spec", {})]
    # a Service named `api` would otherwise give every pod API_PORT=tcp://... (the exporter crashed on BACKEND_PORT)
    assert len(pods) >= 8 and all(p["enableServiceLinks"] is False for p in pods)
    rendered = yaml.safe_dump_all(docs)
    for name in ("hospital-erp-system", "deployment/backend", "app: backend", "prometheus-operated", "monitoring"):
        assert name not in rendered, name
