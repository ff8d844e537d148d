"""Whole drills against the real local sandbox (PostgreSQL, PgBouncer, Prometheus, Alertmanager, Locust).

Every drill is a real ``gameday drill run`` subprocess, as a user would start it; the assertions read the
journal it writes and ask the sandbox itself what is left injected.  Each test gets a fresh sandbox so a
previous drill's errors are not still inside Prometheus' rate windows (waiting them out costs more than
starting the stack).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gameday_testkit import finish_drill, require, wait_for
from sandbox_helpers import GAMEDAY, sandbox_tools_missing

from drills.sandbox.config import HEALTHY_VERSION, Ports, SandboxConfig
from drills.targets.local import LocalTarget
from gameday.files import load_model
from gameday.journal import Event, EventType, read_journal
from gameday.runbook import load_runbook
from gameday.scenario import Scenario
from gameday.scoring.postmortem import TEMPLATE_NAME, read_review

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
#: Port offsets to try, far from a developer's sandbox (0) and the shared test sandbox (5000); the next one
#: is used when another test session on the machine holds the first one's ports.
PORT_OFFSETS = [int(o) for o in os.environ.get("GAMEDAY_TEST_PORT_OFFSETS", "7000,9000,11000,13000").split(",")]
#: Wall-clock limits, overridable for slow machines.
DRILL_TIMEOUT_S = float(os.environ.get("GAMEDAY_TEST_DRILL_TIMEOUT", "420"))
WAIT_S = float(os.environ.get("GAMEDAY_TEST_WAIT", "240"))
#: Runbook seconds per wall second: a 30-minute stability watch takes 15 s.
FAST = "120"


@pytest.fixture
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh sandbox; yields the environment every ``gameday`` subprocess of the test must use.

    Not the session's ``shared_sandbox``: a drill needs a steady state, and a shared Prometheus still holds
    the previous drill's errors in its rate windows for a minute.
    """
    missing = sandbox_tools_missing()
    require(not missing, f"sandbox services not installed: {', '.join(missing)} (make system-deps)")
    state = tmp_path_factory.mktemp("state")
    for offset in PORT_OFFSETS:
        env = {**os.environ, "GAMEDAY_STATE_DIR": str(state), "GAMEDAY_SANDBOX_PORT_OFFSET": str(offset),
               "GAMEDAY_ACTOR": "tester"}
        up = subprocess.run([GAMEDAY, "sandbox", "up"], env=env, capture_output=True, text=True, timeout=180)
        if "ports already in use" not in up.stderr:
            break
    assert up.returncode == 0, f"sandbox did not come up: {up.stderr[-2000:]}"
    try:
        yield env
    finally:
        down = subprocess.run([GAMEDAY, "sandbox", "down", "--purge"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert down.returncode == 0, f"the test's sandbox may still run: {down.stderr[-2000:]}"


def target_of(env: dict[str, str]) -> LocalTarget:
    return LocalTarget(SandboxConfig(state_dir=Path(env["GAMEDAY_STATE_DIR"]),
                                     ports=Ports().shifted(int(env["GAMEDAY_SANDBOX_PORT_OFFSET"]))))


def start_drill(env: dict[str, str], out: Path, scenario: str | Path, *extra: str) -> subprocess.Popen[str]:
    """``scenario``: a shipped scenario's name, or a scenario file."""
    path = scenario if isinstance(scenario, Path) else SCENARIOS / f"{scenario}.yaml"
    return subprocess.Popen(
        [GAMEDAY, "drill", "run", str(path), "--target", "local", "--out", str(out), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def journal_path(out: Path, proc: subprocess.Popen[str]) -> Path:
    def created() -> Path | None:
        assert proc.poll() is None, f"the drill exited early: {proc.communicate()[0][-3000:]}"
        return next(iter(out.glob("*/journal.jsonl")), None)

    return wait_for(created, "the drill to create its journal", timeout=60, period=0.2)


def wait_event(path: Path, proc: subprocess.Popen[str], what: str, match: Callable[[Event], bool]) -> Event:
    """The first journal event ``match`` accepts, while the drill is still running."""
    def seen() -> Event | None:
        event = next((e for e in read_journal(path) if match(e)), None)
        if event is None and proc.poll() is not None:
            pytest.fail(f"the drill ended before {what}: {proc.communicate()[0][-3000:]}", pytrace=False)
        return event

    return wait_for(seen, what, timeout=WAIT_S)


def applied(event: Event) -> bool:
    """The runner's note once the target has applied the fault (its undo record is on disk)."""
    return event.type is EventType.note and "record" in event.data


def first_index(events: list[Event], match: Callable[[Event], bool], what: str, after: int = -1) -> int:
    for index, event in enumerate(events):
        if index > after and match(event):
            return index
    raise AssertionError(f"no {what} in the journal (after position {after})")


def of(kind: EventType) -> Callable[[Event], bool]:
    return lambda event: event.type is kind


def exited(pid: int) -> bool:
    """The process is gone (a zombie waiting for init to reap it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return True


def assert_nothing_left(env: dict[str, str]) -> None:
    target = target_of(env)
    assert target.pending_injections() == [], "a fault is still recorded as injected"
    assert target.sandbox.deployment().version == HEALTHY_VERSION
    versions = {replica.version for replica in target.replicas()}
    assert versions == {HEALTHY_VERSION}, f"replicas still run {versions}"


@pytest.mark.parametrize("scenario", ["connection-pool-leak", "crashloop"])
def test_autopilot_drill_detects_rolls_back_and_reverts(
    scenario: str, sandbox: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = start_drill(sandbox, out, scenario, "--responder", "autopilot", "--time-scale", FAST, "--seed", "3")
    output = finish_drill(proc, DRILL_TIMEOUT_S)
    assert proc.returncode == 0, f"drill failed:\n{output[-4000:]}"
    summary = json.loads(next(out.glob("*/summary.json")).read_text())
    assert summary["outcome"] == "closed" and summary["pending_after"] == [] and summary["exit_code"] == 0
    events = read_journal(summary["journal"])
    spec = load_model(SCENARIOS / f"{scenario}.yaml", Scenario)
    runbook = load_runbook()
    threshold = runbook.verification.error_rate_below

    injected = first_index(events, of(EventType.fault_injected), "fault_injected")
    alert = first_index(events, of(EventType.alert_firing), "alert_firing", after=injected)
    rollback = first_index(
        events, lambda e: e.type is EventType.action and e.data.get("kind") == "rollback", "rollback action",
        after=alert)
    mitigated = first_index(events, of(EventType.mitigated), "mitigated", after=rollback)
    reverted = first_index(events, of(EventType.fault_reverted), "fault_reverted", after=mitigated)
    assert injected < alert < rollback < mitigated < reverted

    fired = {e.data["alertname"] for e in events if e.type is EventType.alert_firing}
    assert fired & set(spec.expected_alerts), f"none of {spec.expected_alerts} fired (got {fired})"
    assert events[rollback].actor == "autopilot-tl"  # the runbook gives the fix to the TL
    assert events[mitigated].data["error_rate"] < threshold
    after = [e.data["error_rate"] for e in events[mitigated:] if e.type is EventType.metric_sample]
    assert after and after[-1] is not None and after[-1] < threshold, "error rate not back under the runbook's 1%"
    during = [e.data for e in events[injected:rollback] if e.type is EventType.metric_sample]
    worst = max(d["error_rate"] or 0.0 for d in during)
    assert worst >= threshold, "the fault never pushed the error rate over the runbook's threshold"
    if scenario == "crashloop":
        assert min(d["replicas_ready"] for d in during) == 0, "the crash loop never took every replica down"
    assert events[reverted].data["ok"] is True
    closed = first_index(events, of(EventType.closed), "closed", after=mitigated)
    filed = first_index(events, of(EventType.postmortem_filed), "postmortem_filed", after=closed)
    assert events[filed].actor == "autopilot-ic"  # and the review to the IC
    review = read_review(Path(summary["journal"]).parent / events[filed].data["path"],
                         runbook.templates[TEMPLATE_NAME])
    assert review.problems == [], f"the autopilot's review misses the template: {review.problems}"
    assert [e.type for e in events][-1] is EventType.drill_ended
    assert_nothing_left(sandbox)


def test_sigkill_mid_drill_is_reverted_by_the_next_gameday_start(sandbox: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start_drill(sandbox, out, "connection-pool-leak", "--responder", "human", "--time-scale", "60")
    path = journal_path(out, proc)
    wait_event(path, proc, "the fault was applied", applied)
    markers = Path(sandbox["GAMEDAY_STATE_DIR"]) / "drills" / "active"
    active = json.loads(next(markers.glob("local-*.json")).read_text())
    assert active["target_key"] == "local" and active["runner_pid"] == proc.pid
    proc.kill()
    proc.wait(30)
    target = target_of(sandbox)
    left = target.pending_injections()
    assert [r.fault.value for r in left] == ["connection-pool-leak"], "the killed runner should leave its fault"

    nxt = subprocess.run([GAMEDAY, "sandbox", "status"], env=sandbox, capture_output=True, text=True, timeout=180)
    assert nxt.returncode == 0, nxt.stderr
    assert "reverted connection-pool-leak" in nxt.stderr
    assert_nothing_left(sandbox)
    recovery = [e for e in read_journal(path) if e.type is EventType.fault_reverted]
    assert [(e.actor, e.data["ok"], e.data["record"]) for e in recovery] == [("recovery", True, left[0].id)]
    assert not list(markers.glob("*.json")), "the dead drill's marker is still there"
    wait_for(lambda: exited(active["load_pid"]), "the dead drill's Locust to stop", timeout=10, period=0.1)
    again = subprocess.run([GAMEDAY, "sandbox", "status"], env=sandbox, capture_output=True, text=True, timeout=60)
    assert "reverted" not in again.stderr, "a second start must find nothing to revert"


def test_sigterm_reverts_in_the_runner_and_exits_non_zero(sandbox: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start_drill(sandbox, out, "crashloop", "--responder", "human", "--time-scale", "60")
    path = journal_path(out, proc)
    wait_event(path, proc, "the fault was applied", applied)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=180)
    assert proc.returncode == 128 + signal.SIGTERM, output[-3000:]
    events = read_journal(path)
    reverted = [e for e in events if e.type is EventType.fault_reverted]
    assert [(e.actor, e.data["fault"], e.data["ok"]) for e in reverted] == [("runner", "crashloop", True)]
    ended = events[-1]
    assert ended.type is EventType.drill_ended and ended.data["outcome"] == "interrupted"
    assert_nothing_left(sandbox)
    assert "interrupted by SIGTERM" in output


def test_human_responders_journal_through_the_cli(sandbox: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    # a day of runbook time (12 wall minutes at FAST) for the thirteen commands: on a loaded CI machine they
    # took 8-24 s each, and the shipped 6 hours (3 wall minutes) timed the drill out before `close`
    scenario = tmp_path / "connection-pool-leak.yaml"
    spec = (SCENARIOS / "connection-pool-leak.yaml").read_text(encoding="utf-8")
    scenario.write_text(spec.replace("timeout_minutes: 360", "timeout_minutes: 1440"), encoding="utf-8")
    assert "timeout_minutes: 1440" in scenario.read_text(encoding="utf-8")
    proc = start_drill(sandbox, out, scenario, "--responder", "human", "--time-scale", FAST)
    path = journal_path(out, proc)
    wait_event(path, proc, "an alert", of(EventType.alert_firing))

    def gameday(*args: str) -> None:
        done = subprocess.run([GAMEDAY, *args], env=sandbox, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"gameday {' '.join(args)}: {done.stderr}"

    gameday("drill", "log", "ack", "--actor", "alice")
    gameday("drill", "log", "declare", "--sev", "1", "--actor", "alice")
    gameday("drill", "log", "assign", "IC=alice", "--actor", "alice")
    gameday("drill", "log", "assign", "TL=bob", "--actor", "alice")
    gameday("drill", "log", "war-room", "--actor", "alice")
    gameday("drill", "log", "page", "db-team", "--actor", "alice")
    gameday("drill", "log", "update", "Investigating elevated errors", "--actor", "carol")
    gameday("drill", "log", "hypothesis", "v1.2.3 leaks pool connections", "--actor", "bob")
    gameday("sandbox", "rollout", "undo", "backend", "--actor", "bob")
    wait_event(path, proc, "mitigation", of(EventType.mitigated))
    gameday("drill", "log", "verify", "--actor", "bob")
    gameday("drill", "log", "resolve", "--actor", "alice")
    review = tmp_path / "review.md"
    review.write_text("# Post-Incident Review\n", encoding="utf-8")
    gameday("drill", "log", "postmortem", str(review), "--actor", "carol")
    gameday("drill", "log", "close", "--actor", "alice")
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output[-3000:]

    events = read_journal(path)
    seen = [(e.type.value, e.actor) for e in events if e.actor in ("alice", "bob", "carol")]
    assert seen == [
        ("acknowledged", "alice"),
        ("severity_declared", "alice"),
        ("role_assigned", "alice"),
        ("role_assigned", "alice"),
        ("war_room_created", "alice"),
        ("paged", "alice"),
        ("status_update", "carol"),
        ("hypothesis", "bob"),
        ("action", "bob"),
        ("verified", "bob"),
        ("resolved", "alice"),
        ("postmortem_filed", "carol"),
        ("closed", "alice"),
    ]
    by_type = {e.type: e for e in events if e.actor in ("alice", "bob", "carol")}
    assert by_type[EventType.severity_declared].data["severity"] == "SEV-1"
    assert by_type[EventType.action].data["kind"] == "rollback"
    assert by_type[EventType.postmortem_filed].data["path"] == str(review.resolve())
    roles = [(e.data["role"], e.data["person"]) for e in events if e.type is EventType.role_assigned]
    assert roles == [("IC", "alice"), ("TL", "bob")]
    seqs = [e.seq for e in events]
    assert seqs == list(range(len(events))), "several writers must still give one gap-free sequence"
    mitigated = first_index(events, of(EventType.mitigated), "mitigated")
    assert first_index(events, of(EventType.action), "action") < mitigated
    reverted = [e for e in events if e.type is EventType.fault_reverted]
    assert [(e.actor, e.data["ok"]) for e in reverted] == [("runner", True)]
    assert first_index(events, of(EventType.closed), "closed") < events.index(reverted[0])
    assert_nothing_left(sandbox)


def test_abort_condition_stops_the_drill_and_reverts(sandbox: dict[str, str], tmp_path: Path) -> None:
    """A scenario whose abort probe holds once the fault is in: the runner stops at once and reverts."""
    import yaml

    spec = yaml.safe_load((SCENARIOS / "connection-pool-leak.yaml").read_text())
    spec["abort_when"] = [{"name": "any request failed", "op": ">", "threshold": 0,
                           "promql": 'sum(increase(http_requests_total{status=~"5.."}[30s]))'}]
    scenario = tmp_path / "abort.yaml"
    scenario.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    proc = subprocess.run(
        [GAMEDAY, "drill", "run", str(scenario), "--responder", "human", "--time-scale", "60", "--out", str(out)],
        env=sandbox, capture_output=True, text=True, timeout=DRILL_TIMEOUT_S,
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads(next(out.glob("*/summary.json")).read_text())
    assert summary["outcome"] == "aborted" and "any request failed" in summary["reason"]
    events = read_journal(summary["journal"])
    aborted = first_index(events, of(EventType.aborted), "aborted")
    assert events[aborted].data["probe"]["value"] > 0
    assert first_index(events, of(EventType.fault_injected), "fault_injected") < aborted
    assert first_index(events, of(EventType.fault_reverted), "fault_reverted", after=aborted)
    assert_nothing_left(sandbox)
