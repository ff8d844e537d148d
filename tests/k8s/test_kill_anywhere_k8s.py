"""Kill anywhere on the Kubernetes target (issue #12): a drill runner SIGKILLed at seeded random moments
around its faults on the test control plane, and the next ``gameday`` start puts every object back.

The runner is a short script doing what :class:`drills.runner.DrillRunner` does around a fault, with the
same parts (active-drill marker, journal writer, ``KubernetesTarget.inject``, ``revert_all``): the test
control plane has no Prometheus for a whole drill, and what is under test is the annotation-based undo
record and the start-up recovery that reads it.  It kills in every window: before ``fault_injected``,
just after it (while the annotation and the change are being sent), with the fault in effect, while the
journal is being written, and during the revert.  After each kill a real ``gameday`` process (any
command: recovery runs before it) must leave no annotation, every faulted object as it was, the dead
drill's marker gone, and ``fault_reverted`` (actor ``recovery``) in the dead drill's journal, whose lines
all parse with ``seq`` 0, 1, 2, ...
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from drills.k8s.faults import KUBE_FAULTS
from drills.k8s.objects import INJECTION_ANNOTATION, default_world
from drills.k8s.target import KubernetesTarget
from gameday.faults import FaultType

NAMESPACE = default_world().namespace

pytestmark = pytest.mark.k8s
REPO = Path(__file__).resolve().parents[2]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
KILLS = int(os.environ.get("GAMEDAY_CHAOS_K8S_KILLS", "12"))
SEED = int(os.environ.get("GAMEDAY_CHAOS_SEED", "1130"))
FIGURES_ENV = "GAMEDAY_CHAOS_FIGURES"
#: Deadline (wall seconds) for one runner to reach the line a window waits for.
WAIT_S = float(os.environ.get("GAMEDAY_CHAOS_WAIT", "180"))

RUNNER = r"""
import os, sys, time
from datetime import UTC, datetime
from pathlib import Path
from drills import active as markers
from drills.active import ActiveDrill
from drills.k8s.target import KubernetesTarget
from drills.recovery import revert_all
from gameday.journal import EventType, JournalWriter
from gameday.scenario import Fault

kubeconfig, fault, out, drill_id = sys.argv[1:5]
def say(what):
    print(what, flush=True)
target = KubernetesTarget("kind-gameday-test", kubeconfig=kubeconfig)
path = Path(out) / "journal.jsonl"
path.parent.mkdir(parents=True, exist_ok=True)
started = datetime.now(UTC)
marker = ActiveDrill(drill_id=drill_id, incident=drill_id, journal=str(path), out_dir=out, target="kubernetes",
                     target_key=target.key, scenario=fault, time_scale=60, started_at=started,
                     runner_pid=os.getpid(), target_options={"context": "kind-gameday-test", "kubeconfig": kubeconfig})
markers.claim(marker)
journal = JournalWriter(path, drill_id, start=started)
journal.emit(EventType.journal_started, "runner", {"source": "drill", "time_scale": 60, "drill_id": drill_id})
say("claimed")
time.sleep(0.3)  # the blind delay
journal.emit(EventType.fault_injected, "runner", {"fault": fault, "target": "kubernetes"})
say("fault_injected")
record = target.inject(Fault(type=fault), drill_id=drill_id)
journal.emit(EventType.note, "runner", {"text": f"fault {fault} applied", "record": record.id})
say("applied")
time.sleep(0.2)
say("journaling")
for i in range(60):
    journal.emit(EventType.metric_sample, "sampler", {"i": i, "error_rate": 0.01 * i})
    time.sleep(0.01)
say("reverting")
revert_all(target, [record], journal)
say("reverted")
markers.release(marker)
journal.emit(EventType.drill_ended, "runner", {"outcome": "closed", "reason": "done"})
journal.close()
say("done")
"""

#: window -> (line of the runner to wait for, longest random wait after it in seconds)
WINDOWS: dict[str, tuple[str, float]] = {
    "before fault_injected": ("claimed", 0.28),
    "just after fault_injected": ("fault_injected", 0.08),
    "fault in effect": ("applied", 0.2),
    "while journaling": ("journaling", 0.6),
    "during the revert": ("reverting", 0.06),
    "anywhere": ("claimed", 2.0),
}
#: Faults whose revert ends in PostgreSQL itself (psql in its pod), which the test control plane does not run: their
#: kill -9 recovery is tested with a stand-in database (test_data_faults_k8s.py) and for real on kind.
NEEDS_DATABASE = frozenset({FaultType.forward_migration, FaultType.data_corruption})
FAULTS = [f for f in FaultType if f in KUBE_FAULTS and f not in NEEDS_DATABASE]
#: The network fault's toxics live in Toxiproxy's process, which no container runs here: its recovery from a dead
#: runner is tested with a stand-in Toxiproxy (test_network_fault_k8s.py), the real one on kind.
FAULTS.remove(FaultType.network)
#: Node loss stops a kind node's container (kwok has none, and the stack here has no workers): its kill -9 recovery
#: runs on kind, with the node down (tests/kind/test_kind_node_loss.py).
FAULTS.remove(FaultType.node_loss)


def object_states(target: KubernetesTarget) -> dict[str, Any]:
    """What a fault may change, per object: template and replicas, or the knobs' data; and its annotation."""
    states = {}
    for fault in FAULTS:
        actuator = KUBE_FAULTS[fault]
        name = actuator.object_name(target.world)
        body = target._sanitize(target._read(actuator.kind, name))
        annotations = body["metadata"].get("annotations") or {}
        if actuator.kind == "ConfigMap":
            state: Any = body.get("data") or {}
        else:
            state = {"template": body["spec"]["template"], "replicas": body["spec"]["replicas"]}
        states[f"{actuator.kind}/{name}"] = {"state": state, "record": annotations.get(INJECTION_ANNOTATION)}
    return states


def strict_journal(path: Path) -> list[dict[str, Any]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), f"{path} ends in the middle of a line"
    events = [json.loads(line) for line in raw.splitlines()]  # a torn line fails here
    assert [e["seq"] for e in events] == list(range(len(events))), f"{path}: seq has gaps or repeats"
    return events


def wait_line(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        got = proc.stdout.readline()
        if not got:
            raise AssertionError(f"the runner exited ({proc.wait()}) before {line!r}")
        if got.strip() == line:
            return
    raise AssertionError(f"the runner did not say {line!r} within {WAIT_S:g} s (GAMEDAY_CHAOS_WAIT)")


@pytest.mark.timeout(600 + 90 * KILLS)  # ~35 s a kill at load 15 on 2 cores
def test_sigkill_anywhere_is_reverted_from_the_annotation_by_the_next_start(erp_stack: Any, tmp_path: Path) -> None:
    cp = erp_stack
    target = KubernetesTarget("kind-gameday-test", kubeconfig=cp.kubeconfig, kubectl=cp.bin("kubectl"))
    target.wait_ready(120)
    before = object_states(target)
    assert all(s["record"] is None for s in before.values()), f"a fault is left from before: {before}"
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONPATH": str(REPO), "GAMEDAY_STATE_DIR": str(state),
           "GAMEDAY_KUBE_CONTEXT": "kind-gameday-test", "KUBECONFIG": str(cp.kubeconfig)}  # fmt: skip
    env.pop("GAMEDAY_NO_RECOVERY", None)
    rng = random.Random(SEED)
    windows = list(WINDOWS)
    tally: Counter[str] = Counter()
    landed: Counter[str] = Counter()
    try:
        for index in range(KILLS):
            window = windows[index % len(windows)]
            fault = rng.choice(FAULTS)
            line, longest = WINDOWS[window]
            out = tmp_path / f"kill-{index:02d}"
            drill_id = f"k8s-kill-{index:02d}"
            runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(cp.kubeconfig), fault.value, str(out),
                                       drill_id], stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)  # fmt: skip
            try:
                wait_line(runner, line)
                time.sleep(rng.uniform(0.0, longest))
            finally:
                runner.send_signal(signal.SIGKILL)
                runner.wait(30)
            left = target.pending_injections()
            tally["kill points"] += 1
            tally["faults pending at the kill"] += len(left)
            landed[window] += 1

            nxt = subprocess.run([GAMEDAY, "--help"], env=env, capture_output=True, text=True, timeout=WAIT_S)
            context = f"kill {index} ({window}, {fault.value}, {len(left)} pending)"
            assert nxt.returncode == 0, f"{context}: {nxt.stderr}"
            for record in left:
                assert f"reverted {record.fault.value}" in nxt.stderr, f"{context}: recovery said {nxt.stderr!r}"
            after = object_states(target)
            assert after == before, f"{context}: not put back:\n{json.dumps(after)[:2000]}"
            assert list((state / "drills" / "active").glob("*.json")) == [], f"{context}: dead drill's marker left"
            events = strict_journal(out / "journal.jsonl")
            recovered = [e for e in events if e["type"] == "fault_reverted" and e["actor"] == "recovery"]
            assert [e["data"]["record"] for e in recovered] == [r.id for r in left], f"{context}: {recovered}"
            assert all(e["data"]["ok"] for e in recovered), f"{context}: {recovered}"
            tally["faults reverted by recovery"] += len(recovered)
            tally["journal lines checked"] += len(events)
    finally:
        for record in target.pending_injections():  # never leak a fault into the next module
            target.revert(record)
        target.wait_ready(300)
        target.close()
    assert len(landed) == min(KILLS, len(WINDOWS)), f"windows not all tried: {landed}"
    assert tally["faults pending at the kill"] > 0, "no kill left a fault behind to clean up; widen the windows"
    figures = {"kill_anywhere": "kubernetes", "kills": tally["kill points"], "faults_left_behind": 0,
               "journal_lines_torn": 0, "seq_gaps": 0, **{k.replace(" ", "_"): v for k, v in tally.items()},
               "by_window": dict(landed), "namespace": NAMESPACE}  # fmt: skip
    if os.environ.get(FIGURES_ENV):
        with open(os.environ[FIGURES_ENV], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(figures) + "\n")
