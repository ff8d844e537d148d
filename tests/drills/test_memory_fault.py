"""The memory-leak fault: its parameters, the pieces both targets share (pace, last state, the exporter's memory
families), and on a real sandbox a real OOM kill by the replica's kubelet with Kubernetes' restart semantics,
seen as `kubectl top pods` and the exporter see it, then a revert that leaves the healthy release and knob.

The autopilot's drill is in tests/drills/test_branch_drills.py, kill -9 of a drill holding the fault in the chaos
lane (tests/chaos/test_memory_chaos.py), the same fault on kind in tests/kind/test_kind_memory.py.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from test_drill_e2e import GAMEDAY, sandbox, target_of  # noqa: F401 - sandbox is a fixture

from drills.exporters.memory import kube_containers, metrics_api_usage, quantity_bytes
from drills.faults.knobs import memory_pacing
from drills.sandbox.config import BACKEND_MEMORY_LIMIT_MIB, HEALTHY_VERSION
from drills.sandbox.oom import Termination
from drills.service.knobs import Knobs
from gameday.faults import MemoryLeakParams
from gameday.scenario import Fault, Scenario

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20


def test_params_are_typed_and_name_a_leaking_release() -> None:
    assert MemoryLeakParams().model_dump() == {"version": "v1.2.6", "mib_per_minute": 32.0}
    for bad, field in (({"version": HEALTHY_VERSION}, "does not leak memory"), ({"mib_per_minute": 0}, "greater"),
                       ({"limit": 5}, "Extra inputs")):  # fmt: skip
        with pytest.raises(ValueError, match=field):
            MemoryLeakParams.model_validate(bad)


def test_a_bad_parameter_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    text = (REPO / "scenarios" / "memory-leak.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("mib_per_minute: 32", "mib_per_minute: lots"), encoding="utf-8")
    done = subprocess.run([GAMEDAY, "validate", str(bad), "--no-promql"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "bad.yaml" in line and "fault.params.mib_per_minute" in line, line


def test_the_pace_is_runbook_minutes_at_the_time_scale() -> None:
    assert memory_pacing(32, 60) == {"memory_leak_mib_per_s": 32.0}  # a runbook minute per wall second
    assert memory_pacing(30, 120) == {"memory_leak_mib_per_s": 60.0}
    assert set(memory_pacing(1, 1)) <= set(Knobs.model_fields)


def test_a_kill_reads_as_kubernetes_shows_it() -> None:
    assert (Termination.of(-9, True).reason, Termination.of(-9, True).exit_code) == ("OOMKilled", 137)
    assert Termination.of(1, False).reason == "Error" and Termination.of(0, False).reason == "Completed"


def test_the_cluster_exporter_reads_limits_last_state_and_usage() -> None:
    assert [quantity_bytes(q) for q in ("384Mi", "2Gi", "1000k", "512", "x", None)] == [
        384 * MIB, 2 << 30, 1e6, 512, None, None]
    oom = SimpleNamespace(terminated=SimpleNamespace(reason="OOMKilled"))
    pod = SimpleNamespace(
        metadata=SimpleNamespace(name="backend-abc"),
        spec=SimpleNamespace(containers=[SimpleNamespace(name="backend",
                                                         resources=SimpleNamespace(limits={"memory": "384Mi"}))]),
        status=SimpleNamespace(container_statuses=[SimpleNamespace(name="backend", last_state=oom)]))
    usage = metrics_api_usage({"items": [{"metadata": {"name": "backend-abc"},
                                          "containers": [{"name": "backend", "usage": {"memory": "102400Ki"}}]}]})
    (row,) = kube_containers([pod], "hospital-erp-system", usage)
    assert (row.last_terminated_reason, row.limit_bytes, row.working_set_bytes) == ("OOMKilled", 384 * MIB, 100 * MIB)


def test_the_sandbox_limit_is_the_kind_deployments() -> None:
    from drills.k8s.objects import default_world
    from drills.k8s.stack import render

    backend = next(d for d in render(default_world()) if d["kind"] == "Deployment"
                   and d["metadata"]["name"] == "backend")  # fmt: skip
    limits = backend["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert quantity_bytes(limits["memory"]) == BACKEND_MEMORY_LIMIT_MIB * MIB


def test_the_shipped_scenario_expects_the_alert_and_the_rollback() -> None:
    from gameday.files import load_model

    spec = load_model(REPO / "scenarios" / "memory-leak.yaml", Scenario)
    assert spec.expected_alerts == ["BackendOOMKilled"] and spec.rollback_safe and not spec.data_at_risk
    assert [r.value for r in spec.safe_remediations] == ["rollback"]


def exporter(target: Any) -> dict[tuple[str, str], float]:
    """``(family, pod[/reason]) -> value`` of the exporter's memory families."""
    body = httpx.get(f"http://127.0.0.1:{target.config.ports.exporter}/metrics", timeout=5).text
    out = {}
    for line in body.splitlines():
        for family in ("kube_pod_container_status_last_terminated_reason", "container_memory_working_set_bytes",
                       "kube_pod_container_resource_limits"):  # fmt: skip
            if line.startswith(family + "{"):
                labels = dict(part.split("=", 1) for part in line[line.index("{") + 1:line.index("}")].split(","))
                key = labels['pod'].strip('"') + ("/" + labels["reason"].strip('"') if "reason" in labels else "")
                out[(family, key)] = float(line.rsplit(" ", 1)[1])
    return out


def wait_for(check: Any, what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout:g} s")


@pytest.mark.sandbox
@pytest.mark.slow
def test_the_leak_is_oom_killed_restarted_with_back_off_and_reverted(sandbox: dict[str, str]) -> None:  # noqa: F811
    target = target_of(sandbox)
    box = target.sandbox
    limit = BACKEND_MEMORY_LIMIT_MIB * MIB
    healthy = exporter(target)
    assert not [k for k in healthy if k[0] == "kube_pod_container_status_last_terminated_reason"]
    assert all(v == limit for k, v in healthy.items() if k[0] == "kube_pod_container_resource_limits")

    # 300 MiB a runbook minute at the sandbox's time scale (60): over the 384 MiB limit in about a second
    record = target.inject(Fault.model_validate({"type": "memory-leak", "params": {"mib_per_minute": 300}}))
    try:
        grown = wait_for(lambda: max((box.pod_detail(r.name).get("memory_bytes") or 0) for r in box.replicas())
                         > 200 * MIB, "a replica's memory to grow past 200 MiB")  # fmt: skip
        assert grown
        top = subprocess.run([GAMEDAY, "sandbox", "top", "pods", "-A", "--sort-by=memory"], env=sandbox,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert top.returncode == 0 and "384Mi" in top.stdout, top.stderr
        killed = wait_for(lambda: [r for r in box.replicas() if r.restarts > 0
                                   and (box.pod_detail(r.name).get("last_state") or {}).get("reason") == "OOMKilled"],
                          "a replica OOMKilled")  # fmt: skip
        detail = box.pod_detail(killed[0].name)
        assert detail["last_state"]["exit_code"] == 137 and killed[0].version == "v1.2.6"
        assert wait_for(lambda: ("kube_pod_container_status_last_terminated_reason", f"{killed[0].name}/OOMKilled")
                        in exporter(target), "the exporter to show the OOM kill")  # fmt: skip
        # the same again after the restart: the leak starts over in each new container, and the back-off grows
        twice = wait_for(lambda: [r for r in box.replicas() if r.restarts >= 2], "a second OOM kill")
        log = (box.layout.logs / f"{twice[0].name}.log").read_text(encoding="utf-8", errors="replace")
        assert "(OOMKilled); back-off 1s" in log and "(OOMKilled); back-off 2s" in log, log[-2000:]
    finally:
        target.revert(record)

    assert box.deployment().version == HEALTHY_VERSION
    pods = wait_for(lambda: [box.pod_detail(r.name) for r in box.replicas()
                             if r.ready and r.version == HEALTHY_VERSION], "the healthy release on every replica")
    assert len(pods) == len(box.replicas()) and all(p["restarts"] == 0 and not p["last_state"] for p in pods)
    knobs = json.loads(box.layout.knobs.read_text(encoding="utf-8"))
    assert knobs["memory_leak_mib_per_s"] == Knobs().memory_leak_mib_per_s
    time.sleep(2.0)  # the healthy release keeps nothing: memory stays near where it starts
    assert all((box.pod_detail(r.name).get("memory_bytes") or 0) < 150 * MIB for r in box.replicas())
    assert target.pending_injections() == []


def test_an_unknown_sort_is_one_line() -> None:
    done = subprocess.run([GAMEDAY, "sandbox", "top", "pods", "--sort-by", "cpu"], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == ["error: <input>: --sort-by: expected memory or name, got 'cpu'"]


