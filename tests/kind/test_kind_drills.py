"""Real game days on the kind cluster: every shipped scenario end to end under Locust load with the autopilot,
and people fixing things with plain kubectl.

The fault is a real change (the leaky release really leaks pool connections, the rc really crash-loops, PgBouncer
really goes to 0, the knobs really slow queries and fail upstream calls), Prometheus inside the cluster
scrapes the real pods, its alerts reach the journal through Alertmanager, and the autopilot remediates
through the API.  Same journal vocabulary and order as on the sandbox.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import GAMEDAY, REPO, Kind, drill, journal_of, wait_event
from gameday_testkit import finish_drill

from drills.k8s.objects import default_world
from gameday.files import load_model
from gameday.journal import Event, EventType, read_journal
from gameday.releases import HEALTHY
from gameday.runbook import load_runbook
from gameday.scenario import Scenario

WORLD = default_world()  # the shipped runbook's names: deployment, selector, namespaces
BACKEND, NAMESPACE = WORLD.backend_deployment, WORLD.namespace

pytestmark = [pytest.mark.kind, pytest.mark.slow]

SCENARIOS = REPO / "scenarios"
#: Runbook seconds per wall second (a 30-minute stability watch takes 12 s).
FAST = "150"
#: Scenarios that keep 120: those on the decision tree's longer branches (offline, repair, roll forward) came near
#: their 360-minute limit at 120 already on a loaded machine; slow queries show only in a p95 over 30 wall seconds,
#: and at 150 the autopilot once acted before it passed 1 s (a warm run at 155a7da: p95 0.40 s until the fix).
SLOWER = {"unsafe-rollback": "120", "data-corruption": "120", "slow-queries": "120"}
DRILL_TIMEOUT_S = float(os.environ.get("GAMEDAY_TEST_DRILL_TIMEOUT", "600"))
#: Scenario -> what the fault must visibly do to the real system before anyone fixes it.
SYMPTOMS: dict[str, Callable[[list[dict]], bool]] = {
    # v1.3.0's ward list fails, and the replicas v1.2.2 still runs fail on the schema its first pod migrated
    "unsafe-rollback": lambda samples: max(s["error_rate"] or 0 for s in samples) >= 0.05,
    # every request succeeds; only the invariant, read by the exporter from the real tables, says so
    "data-corruption": lambda samples: max(s.get("integrity_violations") or 0 for s in samples) > 0,
    "connection-pool-leak": lambda samples: max(s["error_rate"] or 0 for s in samples) >= 0.05,
    # a rolling update of a release that never starts stalls after its first pod: one replica down
    "crashloop": lambda samples: min(s["replicas_ready"] for s in samples) < 3,
    "pgbouncer-down": lambda samples: max(s["error_rate"] or 0 for s in samples) >= 0.5,
    # the samples' p95 looks back 30 wall s (a stable quantile needs that many requests), longer than the alert's
    # calibrated window, so it lags the alert the autopilot acts on: CI at 7981407 saw HighLatencyP95 fire while the
    # samples' p95 peaked at 0.94 s (0.10 s before the fault). Half the runbook's 1 s is a slowdown no noise makes.
    "slow-queries": lambda samples: max(s.get("p95_seconds") or 0 for s in samples) > 0.5,
    "error-burst": lambda samples: max(s["error_rate"] or 0 for s in samples) >= 0.05,
    # PostgreSQL's StatefulSet at 0 while PgBouncer runs: every query fails
    "database-down": lambda samples: max(s["error_rate"] or 0 for s in samples) >= 0.5,
    # the partition between the backend and PgBouncer (Toxiproxy): the probe through the link fails, users see errors
    "network-partition": lambda samples: any(s.get("network_ok") == 0 for s in samples)
    and max(s["error_rate"] or 0 for s in samples) >= 0.05,
}

#: Scenarios whose fix cannot show the symptom itself (cancelling queries makes nothing slower), so it is looked for
#: until the incident is mitigated: the samples' p95 lags the alert the autopilot acts on (above).
SYMPTOM_UNTIL_MITIGATED = {"slow-queries"}


def finish(proc: subprocess.Popen[str]) -> str:
    return finish_drill(proc, DRILL_TIMEOUT_S)


def first(events: list[Event], match: Callable[[Event], bool], what: str, after: int = -1) -> int:
    for index, event in enumerate(events):
        if index > after and match(event):
            return index
    raise AssertionError(f"no {what} in the journal after position {after}")


def of(kind: EventType) -> Callable[[Event], bool]:
    return lambda event: event.type is kind


def assert_nothing_left(kind: Kind) -> None:
    assert kind.target.pending_injections() == [], "a fault is still recorded in the cluster"
    assert kind.target.knobs() == {} or all(not v for k, v in kind.target.knobs().items() if k != "latency_fraction")
    kind.target.wait_ready(240)
    assert {r.version for r in kind.target.replicas()} == {HEALTHY.version}


@pytest.mark.parametrize("scenario", list(SYMPTOMS))
def test_autopilot_game_day_on_kind(kind: Kind, scenario: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    output = finish(drill(kind, out, scenario, "--responder", "autopilot", "--time-scale", SLOWER.get(scenario, FAST),
                         "--seed", "1"))
    summaries = list(out.glob("*/summary.json"))
    assert summaries, f"no summary:\n{output[-4000:]}"
    summary = json.loads(summaries[0].read_text())
    assert summary["outcome"] == "closed", f"{summary['reason']}\n{output[-4000:]}"
    assert summary["target"] == "kubernetes" and summary["pending_after"] == []
    events = read_journal(summary["journal"])
    spec = load_model(SCENARIOS / f"{scenario}.yaml", Scenario)

    injected = first(events, of(EventType.fault_injected), "fault_injected")
    alert = first(events, of(EventType.alert_firing), "alert_firing", after=injected)
    # the runbook gives a declared incident's fix to the TL; the ticket branch (SEV-3/4) has no team: the bot works it
    fixer = "autopilot-tl" if spec.expected_severity in load_runbook().declared_severities() else "autopilot"
    action = first(events, lambda e: e.type is EventType.action and e.actor == fixer, f"action by {fixer}",
                   after=alert)
    mitigated = first(events, of(EventType.mitigated), "mitigated", after=action)
    reverted = first(events, of(EventType.fault_reverted), "fault_reverted", after=mitigated)
    assert events[reverted].data["ok"] is True
    fired = {e.data["alertname"] for e in events if e.type is EventType.alert_firing}
    assert fired & set(spec.expected_alerts), f"none of {spec.expected_alerts} fired (got {fired})"
    # the symptom before the first fix, or until the fix worked where that fix cannot cause the symptom itself
    until = mitigated if scenario in SYMPTOM_UNTIL_MITIGATED else action
    during = [e.data for e in events[injected:until] if e.type is EventType.metric_sample]
    assert during and SYMPTOMS[scenario](during), f"the fault never showed in the real metrics: {during[-3:]}"
    threshold = load_runbook().verification.error_rate_below
    assert events[mitigated].data["error_rate"] < threshold
    if scenario == "network-partition":  # the path's own alert; the fix left no toxic on any link
        from drills.k8s.toxiproxy import ClusterToxiproxy

        assert "DependencyUnreachable" in fired, f"DependencyUnreachable never fired (got {fired})"
        assert all(not ClusterToxiproxy(kind.target).toxics(link) for link in ("pgbouncer", "upstream"))
    if scenario == "database-down":  # PostgreSQL's own alert, read directly (PgBouncer still runs)
        assert "DatabaseDown" in fired, f"DatabaseDown never fired (got {fired})"
    if scenario == "crashloop":
        crashing = [e for e in events[injected:action] if e.type is EventType.replica_state
                    and e.data.get("state") == "CrashLoopBackOff" and e.data.get("restarts", 0) > 0]
        assert crashing, "no pod went to CrashLoopBackOff with restarts"
    score = subprocess.run([GAMEDAY, "score", summary["journal"], "--json"], capture_output=True, text=True,
                           env=kind.env(), timeout=120)
    assert score.returncode == 0, score.stderr
    assert json.loads(score.stdout)
    assert [e.type for e in events][-1] is EventType.drill_ended
    assert_nothing_left(kind)
    if scenario in BRANCHES:
        assert_branch_and_database(kind, summary["journal"], BRANCHES[scenario])


#: Issue 22's scenarios whose fault ends in the database -> the autopilot's actions, in order (the scenario's branch).
BRANCHES: dict[str, list[str]] = {
    "unsafe-rollback": ["roll-forward"],
    "data-corruption": ["maintenance-on", "rollback", "repair-data", "maintenance-off"],
}


def assert_branch_and_database(kind: Kind, journal: str, actions: list[str]) -> None:
    """The autopilot took the scenario's branch and the scorer's branch checks pass; after the drill, read in
    PostgreSQL's pod itself: the schema is the one v1.2.2 reads (the revert migrated it back) and no appointment is
    booked twice (the repair and the revert's clean-up held)."""
    from gameday.scoring import score_journal

    events = read_journal(journal)
    taken = [e.data.get("action") for e in events if e.type is EventType.action and e.actor.startswith("autopilot")]
    assert taken == actions, taken
    (score,) = score_journal(journal).incidents
    checks = {c.id: c for c in score.checks}
    for check_id in ("decision_branch", "remediation_choice", "verification_true", "severity_matches"):
        assert checks[check_id].status.value == "pass", (check_id, checks[check_id].feedback)
    if "repair-data" in actions:
        verified = next(e for e in events if e.type is EventType.verified)
        assert verified.data["checks"]["integrity_violations"] == 0  # the exporter's reading at verification
        repaired = next(e for e in events if e.type is EventType.note and e.data.get("action") == "repair-data")
        assert " 0 duplicated" not in repaired.data["text"], "the release never doubled a booking"
    assert kind.target.database.schema() == 1
    assert kind.target.database.violations() == 0


#: kubectl commands a person types during a drill -> the action kind the watch journals.
KUBECTL_ACTIONS: list[tuple[list[str], str]] = [
    (["rollout", "undo", f"deployment/{BACKEND}"], "rollback"),
    (["scale", f"deployment/{BACKEND}", "--replicas=4"], "scale"),
    (["rollout", "restart", f"deployment/{BACKEND}"], "restart"),
    (["scale", f"deployment/{BACKEND}", "--replicas=3"], "scale"),
]


def test_people_with_plain_kubectl_are_journaled_within_two_seconds(kind: Kind, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = drill(kind, out, "connection-pool-leak", "--responder", "human", "--time-scale", "60")
    try:
        path = journal_of(out, proc)
        applied = wait_event(path, proc, lambda e: e.type is EventType.note and "record" in e.data, "the fault applied",
                        300)
        lags: list[float] = []
        pod = _settled_pod(kind, proc, applied.data["params"]["version"])
        for argv, kind_name in [(["delete", "pod", pod, "--wait=false"], "restart"), *KUBECTL_ACTIONS]:
            before = read_journal(path)[-1].seq
            kind.kubectl("-n", NAMESPACE, *argv)
            start = time.monotonic()  # the change is in the API server once kubectl returns
            event = wait_event(path, proc, lambda e, after=before: e.seq > after and e.type is EventType.action
                          and e.actor == "kubectl", f"kubectl {' '.join(argv)} in the journal", 10)
            lags.append(time.monotonic() - start)
            assert event.data["kind"] == kind_name, (argv, event.data)
            time.sleep(3.0)  # the rollout begins before the next command, as it would for a person
        assert max(lags) <= 2.0, f"kubectl -> journal lags {lags}"
        actions = [e for e in read_journal(path) if e.type is EventType.action and e.actor == "kubectl"]
        assert len(actions) == len(KUBECTL_ACTIONS) + 1, [e.data for e in actions]  # none missed, none twice
        subprocess.run([GAMEDAY, "drill", "log", "close"], env=kind.env(), check=True, timeout=60,
                       capture_output=True)
        output = finish(proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
    assert proc.returncode in (0, 1), output[-3000:]
    assert_nothing_left(kind)


def _settled_pod(kind: Kind, proc: subprocess.Popen[str], version: str, timeout: float = 300) -> str:
    """A backend pod once the fault's rollout is over (as many pods as the Deployment wants, all of the fault's
    ``version``, none terminating), as a person would pick one from ``kubectl get pods``.  Picked earlier, it may
    be one the rollout is deleting at that moment: the person's delete then changes nothing (rightly not
    journaled), or the rollout's deletion follows the person's.  (Not "all ready": the leaking release's pods go
    unready as their pools run dry.)"""
    target = kind.target
    wanted = target.apps.read_namespaced_deployment(BACKEND, target.namespace).spec.replicas
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = target.replicas()
        if len(pods) == wanted and all(p.version == version and p.state != "Terminating" for p in pods):
            return pods[0].name
        assert proc.poll() is None, f"the drill exited early: {proc.communicate()[0][-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"the fault's rollout to {version} did not settle within {timeout:g} s: "
                         f"{target.replicas()}")
