"""Game days on a real kind cluster, in figures (``make bench``; needs a Docker daemon: ``make docker-up``).

- ``gameday cluster up``: cold (the build stages as they last really ran, from the build cache's record) and
  warm (everything cached: create, load, apply, ready), measured here (``GAMEDAY_BENCH_KIND_ONLY=up``: only
  that, three times);
- per fault, directly on the cluster: inject (API) and revert (API + back to ready) times;
- per scenario, an autopilot drill: fault -> first alert in the journal (wall s and runbook min), the
  journal's lag behind Alertmanager, Locust requests/s through the gateway's NodePort;
- kubectl action -> journal lag (p50, p95) over repeated ``kubectl scale`` and ``kubectl delete pod`` by a
  "person" (``GAMEDAY_BENCH_KIND_ONLY=kubectl`` measures only that, on a fresh cluster);
- MTTD (runbook minutes) of the pool-leak, crash-loop and PgBouncer drills at time scales 10, 30 and 60 on kind
  and on the sandbox, side by side (``GAMEDAY_BENCH_KIND_ONLY=mttd``): one detection chain for both targets;
- fault -> first alert (runbook minutes, which alert) for every shipped scenario on kind and on the sandbox at
  ``GAMEDAY_BENCH_ALERT_SCALE`` (60) (``GAMEDAY_BENCH_KIND_ONLY=alerts``); node loss (kind only, workers needed)
  last, on the same cluster made again with two workers, with the lost pods' time to be replaced
  (``GAMEDAY_BENCH_KIND_ONLY=nodes``: only that).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))  # bench_drills: the sandbox side of the MTTD comparison
sys.path.insert(0, str(REPO / "tests"))  # gameday_testkit: the test clusters' names

from gameday_testkit import kind_test_cluster  # noqa: E402

from drills.k8s.build.docker import daemon_version  # noqa: E402
from drills.k8s.cluster import BUILD_TIMES, KindCluster  # noqa: E402
from drills.k8s.target import KubernetesTarget  # noqa: E402
from gameday.errors import GamedayError  # noqa: E402
from gameday.journal import EventType, read_journal  # noqa: E402
from gameday.metrics import incident_metrics  # noqa: E402
from gameday.scenario import Fault, FaultType  # noqa: E402

T = TypeVar("T")
NAME = kind_test_cluster("bench")
GAMEDAY = str(Path(sys.executable).parent / "gameday")
SCENARIOS = ("connection-pool-leak", "crashloop", "pgbouncer-down", "slow-queries", "error-burst")
KUBECTL_ROUNDS = 10


def cold_figures() -> None:
    try:
        known = json.loads(BUILD_TIMES.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print("cold build: no record yet (the first `gameday cluster up` on this machine writes it)")
        return
    total = sum(v["seconds"] for v in known.values())
    print(f"cold build stages (as last really run; sum {total / 60:.1f} min of work, stages overlap):")
    for name, value in sorted(known.items(), key=lambda kv: -kv[1]["seconds"]):
        print(f"  {value['seconds']:7.1f} s  {name}  ({value['at']})")


def warm_up(kubeconfig: Path) -> tuple[KindCluster, KubernetesTarget]:
    cluster = KindCluster(name=NAME, kubeconfig=kubeconfig, echo=lambda _line: None)
    if cluster.exists():
        cluster.delete()
    start = time.monotonic()
    target = cluster.up(timeout=900)
    took = time.monotonic() - start
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in cluster.progress.times.items() if v >= 1)
    print(f"warm `gameday cluster up`: {took:.0f} s ({stages})")
    return cluster, target


def fault_times(target: KubernetesTarget) -> None:
    print("per fault, on the cluster: inject (API) | revert (API) | back to ready after revert")
    for fault in FaultType:
        if fault is FaultType.node_loss:  # needs a cluster with workers: its figures are in docs/benchmarks.md
            continue
        target.wait_ready(300)
        start = time.monotonic()
        record = target.inject(Fault(type=fault), drill_id="bench")
        injected = time.monotonic() - start
        time.sleep(5)  # let the change roll
        start = time.monotonic()
        target.revert(record)
        reverted = time.monotonic() - start
        target.wait_ready(300)
        ready = time.monotonic() - start
        print(f"  {fault.value:<22} {injected * 1000:6.0f} ms | {reverted * 1000:6.0f} ms | {ready:5.1f} s")


def drill_figures(cluster: KindCluster, kubeconfig: Path, out: Path) -> None:
    print("per scenario, autopilot drill at time scale 120: fault -> first alert | AM startsAt -> journal | req/s")
    env = _env(cluster, kubeconfig, out)
    for scenario in SCENARIOS:
        folder = out / scenario
        result = subprocess.run(
            [GAMEDAY, "drill", "run", str(REPO / "scenarios" / f"{scenario}.yaml"), "--target", "kubernetes",
             "--context", cluster.context, "--kubeconfig", str(kubeconfig), "--responder", "autopilot",
             "--time-scale", "120", "--seed", "1", "--out", str(folder)],
            env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
        summaries = list(folder.glob("*/summary.json"))
        if result.returncode != 0 or not summaries:
            print(f"  {scenario:<22} FAILED: {result.stdout[-300:]} {result.stderr[-300:]}")
            continue
        summary = json.loads(summaries[0].read_text())
        events = read_journal(summary["journal"])
        injected = next(e for e in events if e.type is EventType.fault_injected)
        alert = next((e for e in events if e.type is EventType.alert_firing), None)
        rps = summary.get("load", {}).get("Requests/s")
        if alert is None:
            print(f"  {scenario:<22} no alert; {rps} req/s")
            continue
        lag_s = _receipt_lag(alert.ts.timestamp(), alert.data.get("starts_at") or alert.data.get("startsAt"))
        wall = alert.t - injected.t
        print(f"  {scenario:<22} {wall:5.1f} s = {wall * 120 / 60:5.1f} runbook min ({alert.data['alertname']}) | "
              f"{lag_s} | {float(rps or 0):.0f} req/s")


#: Scenarios whose fault -> first alert (runbook minutes) is compared with the sandbox's at each time scale.
MTTD_SCENARIOS = tuple(os.environ.get("GAMEDAY_BENCH_MTTD_SCENARIOS", "connection-pool-leak,crashloop,pgbouncer-down")
                       .split(","))


def mttd_against_the_sandbox(cluster: KindCluster, kubeconfig: Path, out: Path) -> int:
    """MTTD in runbook minutes on kind and on the sandbox, same scenario, same scale: one chain for both
    targets, so they must agree within bench_drills.MTTD_SPREAD_MINUTES (what a container's start cannot scale
    shows up here)."""
    from bench_drills import MTTD_SPREAD_MINUTES, SCALES, _detect_then_close, sandbox

    def mttd(events: list, scale: float) -> float | None:
        return incident_metrics([(e.t * scale / 60.0, e.type) for e in events])["mttd"]

    print(f"MTTD, kind vs sandbox (runbook minutes at each time scale; must agree within {MTTD_SPREAD_MINUTES:g})")
    env = _env(cluster, kubeconfig, out)
    kube = ("--target", "kubernetes", "--context", cluster.context, "--kubeconfig", str(kubeconfig))
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp, sandbox(tmp) as local:
        for scenario in MTTD_SCENARIOS:
            path = REPO / "scenarios" / f"{scenario}.yaml"
            for scale in SCALES:
                folder = out / "mttd" / f"{scenario}-{scale:g}"
                on_kind = mttd(_detect_then_close(env, folder / "kind", path, scale, *kube), scale)
                on_sandbox = mttd(_detect_then_close(local, folder / "sandbox", path, scale), scale)
                if on_kind is None or on_sandbox is None:
                    print(f"  {scenario:<22} scale {scale:>3g}: not detected (kind {on_kind}, sandbox {on_sandbox})")
                    worst = float("inf")
                    continue
                gap = abs(on_kind - on_sandbox)
                worst = max(worst, gap)
                print(f"  {scenario:<22} scale {scale:>3g}: kind {on_kind:5.2f}, sandbox {on_sandbox:5.2f}, "
                      f"apart {gap:4.2f} {'ok' if gap <= MTTD_SPREAD_MINUTES else 'TOO FAR APART'}", flush=True)
    return 0 if worst <= MTTD_SPREAD_MINUTES else 1


#: Time scale of the every-scenario table (runbook seconds per wall second).
ALERT_SCALE = float(os.environ.get("GAMEDAY_BENCH_ALERT_SCALE", "60"))


def every_scenario_on_both_targets(cluster: KindCluster, kubeconfig: Path, out: Path) -> None:
    """Fault -> first alert, in runbook minutes, for every shipped scenario on kind and on the sandbox (issue 22:
    every fault on both targets, time-scaled).  Informational: the MTTD table above is the one with a bound."""
    from bench_drills import _detect_then_close, sandbox

    from gameday.files import load_model
    from gameday.scenario import Scenario

    def first_alert(events: list) -> str:
        mttd = incident_metrics([(e.t * ALERT_SCALE / 60.0, e.type) for e in events])["mttd"]
        fired = next((e.data["alertname"] for e in events if e.type is EventType.alert_firing), None)
        return "not detected" if mttd is None else f"{mttd:5.2f} ({fired or 'no alert'})"

    print(f"fault -> first alert per scenario, runbook minutes at time scale {ALERT_SCALE:g}: kind | sandbox")
    env = _env(cluster, kubeconfig, out)
    kube = ("--target", "kubernetes", "--context", cluster.context, "--kubeconfig", str(kubeconfig))
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp, sandbox(tmp) as local:
        for path in sorted((REPO / "scenarios").glob("*.yaml")):
            spec = load_model(path, Scenario)
            if spec.fault.type is FaultType.node_loss:
                print(f"  {path.stem:<22} below, on a cluster with {WORKERS} workers{'':<5} | n/a", flush=True)
                continue
            targets = spec.targets
            cells = []
            for target, run_env, extra in (("kubernetes", env, kube), ("local", local, ())):
                if target not in targets:
                    cells.append("n/a")
                    continue
                try:
                    events = _detect_then_close(run_env, out / "alerts" / path.stem / target, path, ALERT_SCALE,
                                                *extra)
                except SystemExit as exc:  # the drill ended or never wrote its journal: say so, go on
                    cells.append(f"FAILED ({str(exc).splitlines()[0][:60]})")
                    continue
                cells.append(first_alert(events))
            print(f"  {path.stem:<22} {cells[0]:<36} | {cells[1]}", flush=True)


#: Workers of the node-loss figures' cluster (the scenario's README line: ``gameday cluster up --workers 2``).
WORKERS = 2


def node_loss_on_workers(kubeconfig: Path, out: Path) -> None:
    """Node loss, which needs workers: the bench cluster made again with :data:`WORKERS` (same name, so ``main``'s
    clean-up deletes it), then a worker stopped through the API until its backend pods are replaced on the other,
    the revert (node back, backend spread again), and fault -> first alert of an autopilot drill at
    :data:`ALERT_SCALE`, as in the every-scenario table."""
    from bench_drills import _detect_then_close

    from drills.k8s import nodes
    from drills.k8s.status import pod_state

    cluster = KindCluster(name=NAME, kubeconfig=kubeconfig, workers=WORKERS, echo=lambda _line: None)
    if cluster.exists():
        cluster.delete()
    start = time.monotonic()
    target = cluster.up(timeout=900)
    print(f"node loss, on a cluster with {WORKERS} workers (`gameday cluster up --workers {WORKERS}`: "
          f"{time.monotonic() - start:.0f} s)")
    try:
        nodes.spread_again(target)
        start = time.monotonic()
        record = target.inject(Fault(type=FaultType.node_loss, params={"mode": "stop"}), drill_id="bench")
        lost = record.revert_state["node"]

        def replaced() -> bool | None:
            pods = target.core.list_namespaced_pod(target.namespace, label_selector=target.world.selector).items
            ready = [p for p in pods if p.spec.node_name != lost and pod_state(p)[1]]  # Running, Ready, not leaving
            return len(ready) >= 3 or None

        _wait_for(replaced, 600, period=1.0)
        print(f"  worker stopped -> 3 backend pods ready on the others: {time.monotonic() - start:5.1f} s")
        start = time.monotonic()
        target.revert(record)
        print(f"  revert (node back, Ready, backend spread again): {time.monotonic() - start:5.1f} s")
        path = REPO / "scenarios" / "node-loss.yaml"
        kube = ("--target", "kubernetes", "--context", cluster.context, "--kubeconfig", str(kubeconfig))
        try:
            events = _detect_then_close(_env(cluster, kubeconfig, out), out / "alerts" / "node-loss", path,
                                        ALERT_SCALE, *kube)
        except SystemExit as exc:
            print(f"  fault -> first alert at time scale {ALERT_SCALE:g}: FAILED ({str(exc).splitlines()[0][:60]})")
            return
        mttd = incident_metrics([(e.t * ALERT_SCALE / 60.0, e.type) for e in events])["mttd"]
        fired = next((e.data["alertname"] for e in events if e.type is EventType.alert_firing), None)
        said = "not detected" if mttd is None else f"{mttd:5.2f} runbook min ({fired or 'no alert'})"
        print(f"  fault -> first alert at time scale {ALERT_SCALE:g}: {said}")
    finally:
        target.close()


def kubectl_lag(cluster: KindCluster, target: KubernetesTarget, kubeconfig: Path, out: Path) -> None:
    env = _env(cluster, kubeconfig, out)
    proc = subprocess.Popen(
        [GAMEDAY, "drill", "run", str(REPO / "scenarios" / "slow-queries.yaml"), "--target", "kubernetes",
         "--context", cluster.context, "--kubeconfig", str(kubeconfig), "--responder", "human", "--out",
         str(out / "human")], env=env, stdout=(out / "human.log").open("w"), stderr=subprocess.STDOUT)  # fmt: skip

    def running() -> None:
        if proc.poll() is not None:
            tail = (out / "human.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the human drill ended (exit {proc.returncode}) before the kubectl rounds:\n{tail}")

    try:
        journal = _wait_for(lambda: next(iter((out / "human").glob("*/journal.jsonl")), None), 120)
        _wait_for(lambda: any(e.type is EventType.fault_injected for e in read_journal(journal)), 300)
        lags: dict[str, list[float]] = {"scale": [], "delete pod": []}

        def measure(what: str, argv: list[str], match: Callable[[dict], bool]) -> None:
            seen = read_journal(journal)[-1].seq
            start = time.monotonic()
            subprocess.run([*target.kubectl_argv(), "-n", target.namespace, *argv], check=True, capture_output=True)
            _wait_for(lambda: running() or any(e.seq > seen and e.type is EventType.action and match(e.data)
                                               for e in read_journal(journal)), 30, period=0.02)  # fmt: skip
            lags[what].append(time.monotonic() - start)
            time.sleep(1)

        for round_ in range(KUBECTL_ROUNDS):
            measure("scale", ["scale", f"deployment/{target.backend}", f"--replicas={4 if round_ % 2 == 0 else 3}"],
                    lambda data: data.get("kind") == "scale")
            pod = _standing_pod(target)  # picked after the scale: its controller may have deleted another
            measure("delete pod", ["delete", "pod", pod, "--wait=false"],
                    lambda data, name=pod: data.get("target") == f"pod/{name}")
        for what, measured in lags.items():
            p95 = statistics.quantiles(measured, n=20, method="inclusive")[18]
            print(f"kubectl {what} -> journal action: p50 {statistics.median(measured):.2f} s, p95 {p95:.2f} s, "
                  f"max {max(measured):.2f} s over {len(measured)} commands (incl. kubectl's own start-up)")
        subprocess.run([GAMEDAY, "drill", "log", "close"], env=env, capture_output=True, timeout=60)
        proc.wait(300)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(300)


def _standing_pod(target: KubernetesTarget) -> str:
    """A backend pod nobody is deleting yet (deleting one already on its way out changes nothing)."""
    return _wait_for(lambda: next((p.name for p in target.replicas() if p.state != "Terminating"), None), 60)


def _env(cluster: KindCluster, kubeconfig: Path, out: Path) -> dict[str, str]:
    state = out / "state"
    state.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "GAMEDAY_KUBE_CONTEXT": cluster.context,
            "GAMEDAY_STATE_DIR": str(state), "GAMEDAY_ACTOR": "bench"}


def _receipt_lag(received: float, starts_at: str | None) -> str:
    if not starts_at:
        return "n/a"
    from datetime import datetime

    return f"{received - datetime.fromisoformat(starts_at.replace('Z', '+00:00')).timestamp():.1f} s"


def _wait_for(check: Callable[[], T | None], timeout: float, period: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(period)
    raise TimeoutError(f"not within {timeout} s")


def main() -> int:
    try:
        print(f"docker {daemon_version()}")
    except GamedayError as exc:
        print(f"bench_kind: {exc}")
        return 1
    cold_figures()
    with tempfile.TemporaryDirectory(prefix="gameday-bench-kind-") as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        only = os.environ.get("GAMEDAY_BENCH_KIND_ONLY")
        if only == "nodes":  # its own cluster, with workers
            try:
                node_loss_on_workers(kubeconfig, Path(tmp))
            finally:
                KindCluster(name=NAME, kubeconfig=kubeconfig, echo=lambda _line: None).delete()
            return 0
        for _ in range(2 if only == "up" else 0):  # the warm figure varies: more than one reading
            warm_up(kubeconfig)[1].close()
        cluster, target = warm_up(kubeconfig)
        status = 0
        try:
            if only in (None, "mttd"):
                status = mttd_against_the_sandbox(cluster, kubeconfig, Path(tmp))
            if only is None:
                fault_times(target)
                drill_figures(cluster, kubeconfig, Path(tmp))
            if only in (None, "alerts"):
                every_scenario_on_both_targets(cluster, kubeconfig, Path(tmp))
            if only in (None, "kubectl"):
                kubectl_lag(cluster, target, kubeconfig, Path(tmp))
            if only in (None, "alerts"):  # last: it makes the cluster again, with workers
                node_loss_on_workers(kubeconfig, Path(tmp))
        finally:
            target.close()
            cluster.delete()
    return status


if __name__ == "__main__":
    sys.exit(main())
