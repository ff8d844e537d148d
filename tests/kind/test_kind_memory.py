"""The memory-leak fault on kind: the leaking release under the Deployment's real ``limits.memory`` (384Mi) is
killed by the kernel's OOM killer, and Kubernetes reports it as the sandbox's kubelet does (restart count up, last
state terminated ``OOMKilled`` exit 137, back-off); the cluster exporter's families and ``BackendOOMKilled`` see it,
the runbook's ``kubectl top pods -A --sort-by=memory`` shows the pods' memory, the revert puts the release, the
template and the pace knob back; and the autopilot's game day takes the rollback branch.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import Kind, drill
from test_kind_drills import assert_nothing_left, finish

from drills.faults.knobs import MEMORY_KNOBS
from gameday.journal import EventType, read_journal
from gameday.releases import HEALTHY, MEMORY_LEAK
from gameday.scenario import Fault
from gameday.scoring import score_journal

pytestmark = [pytest.mark.kind, pytest.mark.slow]


def backend_pods(kind: Kind) -> list[dict]:
    out = kind.kubectl("get", "pods", "-n", kind.target.namespace, "-l", kind.target.world.selector, "-o", "json")
    return json.loads(out.stdout)["items"]


def oom_killed(pod: dict) -> dict | None:
    """The backend container's status when its last state is terminated OOMKilled."""
    for status in pod["status"].get("containerStatuses") or []:
        terminated = (status.get("lastState") or {}).get("terminated") or {}
        if status["name"] == "backend" and terminated.get("reason") == "OOMKilled":
            return status
    return None


def query(kind: Kind, promql: str) -> list[dict]:
    answer = httpx.get(f"{kind.target.endpoints().prometheus_url}/api/v1/query", params={"query": promql}, timeout=10)
    return answer.json()["data"]["result"]


def test_the_kernel_oom_kills_the_leaking_release_and_the_revert_puts_it_back(kind: Kind) -> None:
    target = kind.target
    template = kind.kubectl("get", f"deployment/{target.backend}", "-n", target.namespace, "-o",
                            "jsonpath={.spec.template.spec.containers[0].resources.limits.memory}").stdout
    assert template == "384Mi"
    knobs_before = {k: v for k, v in target.knobs().items() if k in MEMORY_KNOBS}
    # between drills the cluster runs in real time: the catalogue's fastest pace, 1024 MiB a runbook minute, is
    # 17 MiB a second (the 384Mi limit in about 25 s)
    record = target.inject(Fault.model_validate({"type": "memory-leak", "params": {"mib_per_minute": 1024}}),
                           drill_id="memory")  # fmt: skip
    try:
        assert [r.fault.value for r in target.pending_injections()] == ["memory-leak"]  # the undo is on the object
        deadline, killed = time.monotonic() + 300, []
        while time.monotonic() < deadline and not killed:
            killed = [(p, s) for p in backend_pods(kind) if (s := oom_killed(p))]
            time.sleep(2)
        assert killed, "no backend pod was OOMKilled within 300 s"
        pod, status = killed[0]
        assert status["restartCount"] >= 1 and status["lastState"]["terminated"]["exitCode"] == 137
        assert pod["metadata"]["labels"].get("app.kubernetes.io/version") == MEMORY_LEAK.version
        deadline, seen = time.monotonic() + 120, []
        while time.monotonic() < deadline and not seen:
            seen = query(kind, 'kube_pod_container_status_last_terminated_reason{container="backend",'
                               'reason="OOMKilled"}')
            time.sleep(2)
        assert {s["metric"]["pod"] for s in seen} >= {pod["metadata"]["name"]}, seen
        top = subprocess.run("kubectl top pods -A --sort-by=memory", shell=True, capture_output=True, text=True,
                             timeout=60, env=kind.responder_env())  # fmt: skip
        assert top.returncode == 0 and target.namespace in top.stdout, top.stderr
        assert query(kind, 'kube_pod_container_resource_limits{container="backend",resource="memory"}')
    finally:
        target.revert(record)
        target.wait_ready(300)
    assert target.pending_injections() == []
    assert {r.version for r in target.replicas()} == {HEALTHY.version}
    assert {k: v for k, v in target.knobs().items() if k in MEMORY_KNOBS} == knobs_before
    assert not [p for p in backend_pods(kind) if oom_killed(p)], "a pod of the healthy release was OOMKilled"


def test_autopilot_rolls_the_memory_leak_back_on_kind(kind: Kind, tmp_path: Path) -> None:
    out = tmp_path / "out"
    output = finish(drill(kind, out, "memory-leak", "--responder", "autopilot", "--time-scale", "120", "--seed", "1"))
    summaries = list(out.glob("*/summary.json"))
    assert summaries, f"no summary:\n{output[-4000:]}"
    summary = json.loads(summaries[0].read_text())
    assert summary["outcome"] == "closed" and summary["pending_after"] == [], f"{summary}\n{output[-4000:]}"
    events = read_journal(summary["journal"])
    assert [e.data["action"] for e in events if e.type is EventType.action and e.actor != "kubectl"] == ["rollback"]
    fired = {e.data["alertname"] for e in events if e.type is EventType.alert_firing}
    assert "BackendOOMKilled" in fired, fired
    assert max((e.data.get("oom_killed") or 0) for e in events if e.type is EventType.metric_sample) > 0
    (incident,) = score_journal(summary["journal"]).incidents
    checks = {c.id: c for c in incident.checks}
    for check_id in ("decision_branch", "remediation_choice", "verification_true", "severity_matches"):
        assert checks[check_id].status.value == "pass", (check_id, checks[check_id].feedback)
    assert_nothing_left(kind)
