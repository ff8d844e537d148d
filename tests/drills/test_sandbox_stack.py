"""The real local sandbox: services, backend API and metrics, Deployment operations, CLI, down/up."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from gameday_testkit import wait_for
from sandbox_helpers import GAMEDAY, SharedSandbox

from gameday.releases import HEALTHY

pytestmark = pytest.mark.sandbox

RUNBOOK_ERROR_RATE = 'sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'


def gameday(box: SharedSandbox, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([GAMEDAY, *args], env=box.env, capture_output=True, text=True, timeout=180)
    if check:
        assert done.returncode == 0, f"gameday {' '.join(args)} failed: {done.stderr[-1500:]}"
    return done


def test_status_shows_every_service_and_ready_replicas(shared_sandbox: SharedSandbox) -> None:
    info = json.loads(gameday(shared_sandbox, "sandbox", "status", "--json").stdout)
    assert info["supervisord"] is True
    for name in ("postgres", "pgbouncer", "prometheus", "alertmanager", "service", "exporter", "upstream"):
        assert info["processes"][name] == "RUNNING", info["processes"]
    assert [(r["name"], r["state"], r["ready"]) for r in info["replicas"]] == [
        (f"backend-{i}", "Running", True) for i in range(3)]
    assert info["deployment"]["version"] == HEALTHY.version
    table = gameday(shared_sandbox, "sandbox", "status").stdout
    assert "backend-0   1/1    Running" in table


def test_backend_serves_records_through_pgbouncer(shared_sandbox: SharedSandbox) -> None:
    app = shared_sandbox.app
    assert httpx.get(f"{app}/health").json()["status"] == "ok"
    assert httpx.get(f"{app}/ready").status_code == 200
    patient = httpx.get(f"{app}/api/patients/7").json()
    assert patient["mrn"] == "MRN000007" and patient["eligibility"] == "eligible"
    assert len(httpx.get(f"{app}/api/patients", params={"limit": 5}).json()) == 5
    # a slot nothing else books: the load books March on the hour (drills/load/locustfile.py) and the seed ends in
    # February, so on the session's shared sandbox a fixed March slot was once already taken (409)
    booked = httpx.post(f"{app}/api/appointments", json={"patient_id": 7, "department": "surgery",
                                                         "starts_at": "2026-04-02T07:30:00Z"})
    assert booked.status_code == 201
    mine = httpx.get(f"{app}/api/patients/7/appointments").json()
    assert booked.json()["id"] in [a["id"] for a in mine]
    assert httpx.get(f"{app}/api/patients/99999").status_code == 404
    # the queries went through PgBouncer: its admin console has seen them
    assert wait_for(lambda: (shared_sandbox.query('sum(pgbouncer_pools_server_idle_connections)'
                                                  ' + sum(pgbouncer_pools_server_active_connections)') or 0) > 0,
                    "PgBouncer server connections")


def test_metrics_use_the_names_the_runbook_queries(shared_sandbox: SharedSandbox) -> None:
    port = shared_sandbox.target.config.ports.backend_base  # type: ignore[attr-defined]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    for name in ("http_requests_total{", "http_request_duration_seconds_bucket{", "db_pool_connections_in_use",
                 "db_pool_size 4.0", "db_pool_waiting", f'app_version_info{{version="{HEALTHY.version}"}} 1.0'):
        assert name in text, name
    assert 'le="0.3"' in text and 'le="0.7"' in text  # dense buckets between 0.1 s and 1 s


def test_runbook_error_rate_query_returns_a_number(shared_sandbox: SharedSandbox) -> None:
    def ratio() -> float | None:
        httpx.get(f"{shared_sandbox.app}/api/patients/3")  # traffic, so the ratio is not 0/0 = NaN
        value = shared_sandbox.query(RUNBOOK_ERROR_RATE)
        return value if value is not None and not math.isnan(value) else None

    wait_for(lambda: ratio() is not None, "the runbook's error-rate query to return a number", period=0.5)
    # its size depends on what earlier tests did within the last minute, so check what it is made of instead:
    # at one evaluation time the runbook's query is exactly 5xx requests/s over all requests/s
    at = wait_for(lambda: _evaluated_at(shared_sandbox), "Prometheus to evaluate at a fixed time")
    errors = _instant(shared_sandbox, 'sum(rate(http_requests_total{status=~"5.."}[1m]))', at) or 0.0
    total = _instant(shared_sandbox, "sum(rate(http_requests_total[1m]))", at)
    assert total is not None and total > 0
    assert _instant(shared_sandbox, RUNBOOK_ERROR_RATE, at) == pytest.approx(errors / total, rel=1e-9, abs=1e-12)
    # the same query as a recording rule (evaluated every second, so it may lag the instant query)
    wait_for(lambda: shared_sandbox.query("runbook:http_error_ratio:rate1m") is not None,
             "the runbook:http_error_ratio:rate1m recording", period=0.5)


def _instant(box: SharedSandbox, promql: str, at: float) -> float | None:
    answer = httpx.get(f"{box.prometheus}/api/v1/query", params={"query": promql, "time": at}, timeout=5).json()
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _evaluated_at(box: SharedSandbox) -> float | None:
    """A recent evaluation time (two seconds ago, so every scrape for it is in) with traffic in its window."""
    import time

    at = round(time.time() - 2.0, 3)
    total = _instant(box, "sum(rate(http_requests_total[1m]))", at)
    return at if total else None


def test_scale_up_and_down(shared_sandbox: SharedSandbox) -> None:
    target = shared_sandbox.target
    gameday(shared_sandbox, "sandbox", "scale", "backend", "--replicas", "4")
    wait_for(lambda: [r.ready for r in target.replicas()] == [True] * 4, "4 ready replicas")
    wait_for(lambda: shared_sandbox.query('count(up{job="backend"} == 1)') == 4, "Prometheus to scrape 4 pods")
    gameday(shared_sandbox, "sandbox", "scale", "backend", "--replicas", "3")
    assert [r.name for r in target.replicas()] == ["backend-0", "backend-1", "backend-2"]
    wait_for(lambda: shared_sandbox.query('count(up{job="backend"})') == 3, "Prometheus to drop the 4th pod")


def test_restart_replaces_pods_and_keeps_the_version(shared_sandbox: SharedSandbox) -> None:
    before = [shared_sandbox.target.sandbox.pod_detail(f"backend-{i}")["pid"] for i in range(3)]  # type: ignore[attr-defined]
    out = gameday(shared_sandbox, "sandbox", "restart", "backend").stdout
    assert f"restarted 3 backend replicas ({HEALTHY.version})" in out
    after = [shared_sandbox.target.sandbox.pod_detail(f"backend-{i}")["pid"] for i in range(3)]  # type: ignore[attr-defined]
    assert not set(before) & set(after)
    wait_for(shared_sandbox.target.is_ready, "the sandbox to be ready after a restart")  # type: ignore[attr-defined]


def test_remediation_is_journaled_into_the_active_drill(shared_sandbox: SharedSandbox, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from drills import active

    monkeypatch.setenv("GAMEDAY_STATE_DIR", shared_sandbox.env["GAMEDAY_STATE_DIR"])
    journal = tmp_path / "journal.jsonl"
    marker = active.ActiveDrill(drill_id="drill-t1", incident="drill-t1", journal=str(journal), out_dir=str(tmp_path),
                                target="local", target_key="local", scenario="s", time_scale=60.0,
                                started_at=datetime.now(UTC), runner_pid=os.getpid())  # fmt: skip
    active.claim(marker)
    try:
        out = gameday(shared_sandbox, "sandbox", "scale", "backend", "--replicas", "3", "--actor", "carol").stdout
    finally:
        active.release(marker)
    assert "(journaled)" in out
    event = json.loads(journal.read_text().splitlines()[-1])
    assert (event["type"], event["actor"], event["incident"]) == ("action", "carol", "drill-t1")
    assert event["data"]["kind"] == "scale" and event["data"]["replicas"] == 3
    assert event["data"]["target"] == "local"
    # without a drill nothing is journaled
    assert "(journaled)" not in gameday(shared_sandbox, "sandbox", "scale", "backend", "--replicas", "3").stdout


def test_unknown_deployment_is_one_line_exit_2(shared_sandbox: SharedSandbox) -> None:
    done = gameday(shared_sandbox, "sandbox", "rollout", "undo", "frontend", check=False)
    assert done.returncode == 2
    assert "deployment" in done.stderr and "frontend" in done.stderr and "Traceback" not in done.stderr


def test_down_then_up_again(shared_sandbox: SharedSandbox) -> None:
    """A real down (every process gone), then up again: it leaves the shared sandbox as it found it (ready,
    every replica scraped), so it may run in any order."""
    target = shared_sandbox.target
    gameday(shared_sandbox, "sandbox", "down")
    info = json.loads(gameday(shared_sandbox, "sandbox", "status", "--json").stdout)
    assert info["supervisord"] is False
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{shared_sandbox.app}/health", timeout=1)
    gameday(shared_sandbox, "sandbox", "up")
    assert target.is_ready()  # type: ignore[attr-defined]
    assert httpx.get(f"{shared_sandbox.app}/api/patients/1").status_code == 200
    wait_for(lambda: shared_sandbox.query('count(up{job="backend"} == 1)') == 3, "Prometheus to scrape 3 pods again")
