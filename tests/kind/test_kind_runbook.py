"""The runbook's own commands and URLs, verbatim, on the game-day cluster during a live drill.

Every fenced command the runbook model holds (kubectl, curl, open) runs as written, through a shell, with only
the environment set (the cluster's kubeconfig, whose current context is the test cluster), as a responder
types it; ``open`` is checked by fetching its URL with the system's trust store (on Linux the card says
``xdg-open``).  What the runbook says to expect is asserted: the fix of Step 3.1 makes Step 3.2 hold (pods
Running with 0 restarts, ``/health`` 200, error rate < 1 %, p95 < 1 s), and the crash loop shows Step 2.1's
findings.  Long-running commands (``-w``, ``-f``, ``port-forward``) run for a few seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import GAMEDAY, Kind, drill, journal_of, wait_event

from drills.k8s.objects import default_world
from gameday.faults import CRASHLOOP_VERSION, FaultType
from gameday.journal import EventType, read_journal
from gameday.runbook import load_runbook
from gameday.runbook.commands import RunbookCommand, Tool
from gameday.scenario import Fault

pytestmark = [pytest.mark.kind, pytest.mark.slow]

RUNBOOK = load_runbook()
WORLD = default_world()
VERBATIM = {Tool.kubectl, Tool.curl, Tool.open}
#: Wall seconds a long-running command (watch, follow, port-forward) is left to run.
LONG_S = float(os.environ.get("GAMEDAY_TEST_LONG_COMMAND_S", "6"))
FIXES = ("rollout undo", "rollout status", "delete pods")


def commands(match: Callable[[RunbookCommand], bool] = lambda _c: True) -> list[RunbookCommand]:
    return [c for c in RUNBOOK.commands if c.tool in VERBATIM and match(c)]


def shell(kind: Kind, text: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``text`` through bash as typed; a long-running one is stopped after LONG_S (its output kept)."""
    proc = subprocess.Popen(["bash", "-c", text], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=kind.responder_env(), start_new_session=True)  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        return subprocess.CompletedProcess(proc.args, 0, out, "")  # ran until stopped: what a person sees
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def url_answers(url: str) -> tuple[int, str]:
    """What ``open URL`` shows: the page, fetched with the system's trust store (no --insecure)."""
    with urllib.request.urlopen(url, timeout=15) as resp:
        return resp.status, resp.read().decode(errors="replace")


def prometheus_value(port: int, query: str) -> float | None:
    qs = urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?{qs}", timeout=10) as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def run_all(kind: Kind, chosen: list[RunbookCommand], worked: dict[str, str]) -> None:
    """Run each command verbatim and check what the runbook implies it shows."""
    for cmd in chosen:
        text = cmd.text
        if cmd.tool is Tool.open:
            (url,) = cmd.urls
            status, page = url_answers(url)
            assert status == 200, (url, status)
            assert page.strip(), url
        elif "port-forward" in text:
            check_port_forward(kind, text)
        else:
            # as a person would, again after a moment: `kubectl top` has figures for a pod once metrics-server
            # scraped it twice (15 s resolution), `kubectl logs -l` fails while one of the pods is still starting
            deadline = time.monotonic() + (90 if text.startswith("kubectl top") else 45)
            while True:
                if cmd.placeholders:  # `kubectl describe pod <POD> -n <NAMESPACE>`: a person fills in a pod of now
                    pod = kind.target.replicas()[0].name  # (the drill rolls the Deployment: a name goes stale)
                    text = cmd.text.replace("<POD>", pod).replace("<NAMESPACE>", WORLD.namespace)
                result = shell(kind, text, timeout=LONG_S if cmd.long_running else 120)
                try:
                    assert result.returncode == 0, f"{text!r} failed ({result.returncode}): {result.stdout[-1500:]}"
                    expect(cmd, result.stdout)
                    break
                except AssertionError as exc:
                    if time.monotonic() > deadline:
                        seen = shell(kind, f"kubectl get deploy,rs,pods -n {WORLD.namespace} -o wide").stdout
                        raise AssertionError(f"{exc}\nthe namespace then:\n{seen}") from None
                    time.sleep(3)
        worked[cmd.text] = "ok"


def expect(cmd: RunbookCommand, out: str) -> None:
    text = cmd.text
    if (text.startswith("kubectl get pods") and "grep -v" not in text) or text.startswith("kubectl top pods"):
        assert re.search(rf"^\S*\s*{re.escape(WORLD.backend_deployment)}-", out, re.M), (text, out[-800:])
    if text.startswith("kubectl top nodes"):
        assert "control-plane" in out, (text, out)
    if text.startswith("kubectl logs") and "grep" not in text:
        assert out.strip(), f"{text!r} printed nothing"
    if text.startswith("curl -I"):
        assert re.search(r"^HTTP/\S+ 200", out, re.M), (text, out)


def check_port_forward(kind: Kind, text: str) -> None:
    """While the runbook's port-forward runs, the runbook's own PromQL answers on 127.0.0.1:<local port>."""
    local = int(re.search(r"(\d+):\d+", text).group(1))  # type: ignore[union-attr]
    proc = subprocess.Popen(["bash", "-c", text], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=kind.responder_env(), start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                prometheus_value(local, RUNBOOK.verification.error_rate_query or "")
                break
            except OSError:
                assert proc.poll() is None, f"{text!r} ended: {proc.communicate()[0][-1000:]}"
                assert time.monotonic() < deadline, f"nothing answered on 127.0.0.1:{local} after {text!r}"
                time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def verified_as_step_3_2(kind: Kind, timeout: float = 240.0) -> None:
    """Step 3.2: all pods Running with 0 restarts, /health 200, error rate < 1 %, p95 < 1 s (the runbook's
    own queries, on the cluster's Prometheus)."""
    criteria = RUNBOOK.verification
    p95 = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))"
    prometheus = int(kind.target.endpoints().prometheus_url.rsplit(":", 1)[1])
    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        pods = kind.target.replicas()
        rate = prometheus_value(prometheus, criteria.error_rate_query or "")
        latency = prometheus_value(prometheus, p95)
        health = url_answers(WORLD.health_url)[0]
        seen = f"pods {pods}, error rate {rate}, p95 {latency}, /health {health}"
        if (pods and all(p.state == "Running" and p.ready and p.restarts == 0 for p in pods)
                and rate is not None and rate < criteria.error_rate_below
                and latency is not None and latency < criteria.p95_below_seconds and health == 200):
            return
        time.sleep(2)
    raise AssertionError(f"Step 3.2 did not hold within {timeout:g} s: {seen}")


def test_every_runbook_command_works_verbatim_during_a_drill(kind: Kind, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = drill(kind, out, "connection-pool-leak", "--responder", "human", "--time-scale", "60")
    worked: dict[str, str] = {}
    try:
        path = journal_of(out, proc)
        applied = wait_event(path, proc, lambda e: e.type is EventType.note and "record" in e.data,
                             "the fault applied", 300)  # fmt: skip
        wait_event(path, proc, lambda e: e.type is EventType.alert_firing and e.seq > applied.seq,
                   "the fault's first alert", 300)  # a fresh cluster's own start-up may alert before the fault
        # Phases 1 and 2 and the Useful Commands: looking, not fixing
        run_all(kind, commands(lambda c: not any(f in c.text for f in FIXES) and c.step not in ("3.2", "3.3")), worked)
        # Step 3.1: the fix, as written; the watch journals it as the person's rollback
        run_all(kind, commands(lambda c: c.step == "3.1"), worked)
        wait_event(path, proc, lambda e: e.type is EventType.action and e.actor == "kubectl"
                   and e.data.get("kind") == "rollback", "the verbatim rollout undo in the journal", 30)
        verified_as_step_3_2(kind)
        run_all(kind, commands(lambda c: c.step in ("3.2", "3.3")), worked)
        # the Emergency step: every pod of the namespace deleted, one responder action
        run_all(kind, commands(lambda c: "delete pods" in c.text), worked)
        action = wait_event(path, proc, lambda e: e.type is EventType.action and e.actor == "kubectl"
                            and len(e.data.get("pods") or []) >= 3, "the emergency delete as one action", 30)
        assert action.data["kind"] == "restart" and action.data["detail"].endswith("pods deleted"), action.data
        kind.target.wait_ready(300)
        # deleting every pod stops PgBouncer too, which the scenario's abort condition may end the drill on (a
        # dependency down outside its blast radius): closed by the person, or ended by the runner, it ends
        subprocess.run([GAMEDAY, "drill", "log", "close"], env=kind.env(), timeout=60, capture_output=True)
        proc.communicate(timeout=300)
        assert read_journal(path)[-1].type is EventType.drill_ended
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
    everything = commands()
    missing = [c.text for c in everything if c.text not in worked]
    print(f"{len(everything) - len(missing)} of {len(everything)} runbook commands work verbatim "
          f"({len(worked)} different ones)")
    assert not missing, f"not run: {missing}"
    actions = [e for p in out.glob("*/journal.jsonl") for e in read_journal(p)
               if e.type is EventType.action and e.actor == "kubectl"]
    deletes = [e for e in actions if e.data.get("pods")]
    assert len(deletes) == 1, [e.data for e in actions]  # the emergency step is one action, not one per pod
    assert kind.target.pending_injections() == []


def test_the_crash_loop_shows_step_2_1s_findings(kind: Kind) -> None:
    """Step 2.1's findings are what kubectl shows: pods in CrashLoopBackOff, "Cannot connect to database" in
    the backend's logs, PgBouncer Running."""
    target = kind.target
    wanted = int(shell(kind, f"kubectl get deployment/{WORLD.backend_deployment} -n {WORLD.namespace} "
                             "-o jsonpath={.spec.replicas}").stdout)
    record = target.inject(Fault(type=FaultType.crashloop), drill_id="findings")
    try:
        deadline, pods, looping = time.monotonic() + 240, "", []
        while time.monotonic() < deadline:
            pods = shell(kind, f"kubectl get pods -n {WORLD.namespace} -l {WORLD.selector}").stdout
            looping = [line for line in pods.splitlines() if "CrashLoopBackOff" in line]
            if len(looping) == wanted:
                break
            time.sleep(2)
        assert len(looping) == wanted, f"Step 2.1: all {wanted} backend pods in CrashLoopBackOff\n{pods}"
        pods = shell(kind, f"kubectl get pods -n {WORLD.namespace}").stdout
        assert re.search(r"^pgbouncer-\S+\s+1/1\s+Running", pods, re.M), pods
        logs = shell(kind, f"kubectl logs -n {WORLD.namespace} -l {WORLD.selector} --tail=100").stdout
        assert "Cannot connect to database" in logs, logs[-2000:]
        assert CRASHLOOP_VERSION in shell(kind, f"kubectl get pods -n {WORLD.namespace} -l {WORLD.selector} "
                                                f"-L app.kubernetes.io/version").stdout
    finally:
        target.revert(record)
        target.wait_ready(300)
