"""Observers without the sandbox: the webhook over real HTTP, window compression, the journal tail,
and SIGTERM turned into a clean interrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from gameday_testkit import silent_port

from drills.observers.journal_tail import JournalTail
from drills.observers.prometheus import compress_windows
from drills.observers.webhook import AlertReceiver, parse_time
from gameday.journal import EventType, JournalWriter, read_journal

REPO = Path(__file__).resolve().parents[2]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))


def _payload(status: str, starts: str = "2026-01-24T05:30:00.123456789Z") -> dict:
    return {
        "version": "4",
        "status": status,
        "receiver": "gameday",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "HighErrorRate", "severity": "critical"},
                "annotations": {},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-01-24T05:40:00Z",
                "fingerprint": "abc123",
            }
        ],
    }


def test_webhook_journals_each_transition_once(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path / "j.jsonl", "d1")
    receiver = AlertReceiver(journal, port=0).start()
    try:
        for body in (_payload("firing"), _payload("firing"), _payload("resolved"), _payload("resolved")):
            assert httpx.post(receiver.url, json=body, timeout=5).status_code == 200
        assert httpx.post(receiver.url, content=b"not json", timeout=5).status_code == 400
    finally:
        receiver.stop()
        journal.close()
    events = read_journal(tmp_path / "j.jsonl")
    assert [e.type for e in events] == [EventType.alert_firing, EventType.alert_resolved]
    assert events[0].actor == "alertmanager"
    assert events[0].data["alertname"] == "HighErrorRate" and events[0].data["severity"] == "critical"
    assert receiver.firing() == []


def test_webhook_refuses_non_loopback(tmp_path: Path) -> None:
    from gameday.errors import TargetError

    with pytest.raises(TargetError):
        AlertReceiver(JournalWriter(tmp_path / "j.jsonl", "d1"), host="0.0.0.0")


def test_alertmanager_times() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    stamp = parse_time("2026-01-24T05:30:00.123456789Z")
    assert stamp is not None and stamp.microsecond == 123456 and stamp.utcoffset() is not None


def test_compress_windows_scales_and_floors() -> None:
    query = 'sum(rate(x{s=~"5.."}[1m])) / sum(rate(x[5m]))'
    assert compress_windows(query, 1.0, 10) == 'sum(rate(x{s=~"5.."}[60s])) / sum(rate(x[300s]))'
    assert compress_windows(query, 60.0, 10) == 'sum(rate(x{s=~"5.."}[10s])) / sum(rate(x[10s]))'
    assert compress_windows(query, 10.0, 2) == 'sum(rate(x{s=~"5.."}[6s])) / sum(rate(x[30s]))'
    assert compress_windows("up", 60.0, 10) == "up"


def test_tail_sees_other_writers_and_waits_for_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    ours = JournalWriter(path, "d1")
    tail = JournalTail(path)
    ours.emit(EventType.note, "runner")
    theirs = JournalWriter(path, "d1")
    theirs.emit(EventType.acknowledged, "alice")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"half": ')
    seen = tail.new_events()
    assert [(e.type, e.actor, e.seq) for e in seen] == [
        (EventType.note, "runner", 0),
        (EventType.acknowledged, "alice", 1),
    ]
    assert tail.new_events() == []


def test_sigterm_becomes_a_clean_interrupt_and_cleanup_still_runs(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    script = textwrap.dedent(
        f"""
        import sys, time
        from drills.recovery import DrillInterrupted, interrupts_as_exceptions
        with interrupts_as_exceptions():
            try:
                print("ready", flush=True)
                time.sleep(30)
            except DrillInterrupted as exc:
                open({str(marker)!r}, "w").write(str(exc.exit_code))
                sys.exit(exc.exit_code)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    assert marker.read_text() == str(128 + signal.SIGTERM)


def _marker(journal: Path, drill_id: str, target_key: str = "local", pid: int | None = None) -> Any:
    from datetime import UTC, datetime

    from drills.active import ActiveDrill

    return ActiveDrill(
        drill_id=drill_id, incident=drill_id, journal=str(journal), out_dir=str(journal.parent),
        target=target_key.partition(":")[0], target_key=target_key, scenario="s", time_scale=60.0,
        started_at=datetime.now(UTC), runner_pid=os.getpid() if pid is None else pid,
    )  # fmt: skip


def test_active_marker_round_trip_and_the_responder_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drills import active
    from drills.drill_log import ResponderLog, log_event
    from gameday.errors import InputError, SafetyError

    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path))
    with pytest.raises(SafetyError, match="no drill is running"):
        log_event("acknowledged", "bob")
    journal = tmp_path / "d" / "journal.jsonl"
    JournalWriter(journal, "d1").emit(EventType.journal_started, "runner", {"source": "drill"})
    marker = _marker(journal, "d1")
    active.claim(marker)
    assert active.read_active("local") == marker
    event = log_event("role_assigned", "bob", {"role": "ic", "person": "alice"})
    assert event.data == {"role": "IC", "person": "alice"} and event.actor == "bob"
    event = log_event("severity_declared", "bob", {"level": 2})
    assert event.data == {"level": 2, "severity": "SEV-2"}
    with pytest.raises(InputError, match=r"--sev: the runbook has SEV-1, SEV-2, SEV-3, SEV-4, not SEV-9"):
        log_event("severity_declared", "bob", {"level": 9})
    with pytest.raises(InputError, match=r"colour: Extra inputs are not permitted"):
        log_event("hypothesis", "bob", {"text": "pool leak", "colour": "red"})
    with pytest.raises(InputError, match=r"text: String should have at least 1 character"):
        log_event("hypothesis", "bob", {"text": ""})
    with pytest.raises(InputError, match=r"kind: cannot log 'fault_injected'"):
        log_event("fault_injected", "bob", {})
    with pytest.raises(InputError, match=r"ROLE: expected ROLE=name with ROLE one of IC, TL, CL"):
        log_event("role_assigned", "bob", {"role": "boss", "person": "x"})
    action = ResponderLog.running().action("rollback", {"detail": "rolled back"}, "carol")
    assert (action.type, action.data) == (EventType.action, {"kind": "rollback", "target": "local",
                                                             "detail": "rolled back"})
    active.release(marker)
    assert active.read_active("local") is None
    assert [e.seq for e in read_journal(journal)] == [0, 1, 2, 3]
    assert json.loads(journal.read_text().splitlines()[1])["actor"] == "bob"


def test_one_drill_per_target_and_one_drill_on_each_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drills import active
    from drills.drill_log import log_event
    from gameday.errors import SafetyError

    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path))
    for name in ("a", "b", "k"):
        JournalWriter(tmp_path / name / "journal.jsonl", name).emit(EventType.journal_started, "runner", {})
    active.claim(_marker(tmp_path / "a" / "journal.jsonl", "drill-a"))
    with pytest.raises(SafetyError, match=r"drill drill-a is already running on local \(runner pid \d+\)"):
        active.claim(_marker(tmp_path / "b" / "journal.jsonl", "drill-b"))
    kube = "kubernetes:kind-gameday/hospital-erp-system"
    active.claim(_marker(tmp_path / "k" / "journal.jsonl", "drill-k", kube))  # another target: no conflict
    assert {m.drill_id: m.target_key for m in active.all_active()} == {"drill-a": "local", "drill-k": kube}
    with pytest.raises(SafetyError, match=r"2 drills are running \(drill-a on local, drill-k on kubernetes:.*--drill"):
        log_event("acknowledged", "bob")
    assert log_event("acknowledged", "bob", drill_id="drill-k").incident == "drill-k"
    # a dead runner's marker does not hold its target
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    active.release(active.read_active("local"))  # type: ignore[arg-type]
    active.claim(_marker(tmp_path / "a" / "journal.jsonl", "drill-dead", pid=int(dead.stdout)))
    with pytest.raises(SafetyError, match="the drill drill-dead is not running any more"):
        log_event("acknowledged", "bob", drill_id="drill-dead")
    active.claim(_marker(tmp_path / "b" / "journal.jsonl", "drill-b"))
    assert active.read_active("local").drill_id == "drill-b"  # type: ignore[union-attr]


def test_a_second_drill_on_a_busy_target_is_refused_with_the_first_drills_id(tmp_path: Path) -> None:
    """The real CLI: before it writes a journal or touches the sandbox."""
    from drills import active

    env = {**os.environ, "GAMEDAY_STATE_DIR": str(tmp_path / "state")}
    journal = tmp_path / "first" / "journal.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GAMEDAY_STATE_DIR", env["GAMEDAY_STATE_DIR"])
            active.claim(_marker(journal, "connection-pool-leak-first", pid=holder.pid))
        out = tmp_path / "out"
        done = subprocess.run([GAMEDAY, "drill", "run", str(REPO / "scenarios" / "crashloop.yaml"), "--out", str(out)],
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "drill connection-pool-leak-first is already running on local" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists(), "a refused drill must not start a journal"


def test_a_prometheus_answering_a_page_instead_of_json_did_not_answer() -> None:
    """Prometheus shutting down answered a text page: the sampler must read it as an outage (a TargetError the
    runner's grace handles), not die in a JSONDecodeError."""
    import http.server
    import threading

    from drills.observers.prometheus import Prometheus
    from gameday.errors import TargetError

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"Service Unavailable"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(TargetError, match="did not answer: HTTP 503"):
            Prometheus(f"http://127.0.0.1:{server.server_address[1]}").query("up")
    finally:
        server.shutdown()


def test_a_prometheus_that_does_not_answer_is_asked_once_per_sample(tmp_path: Path) -> None:
    """A Prometheus that accepts and never answers (a CPU-starved pod behind its NodePort): one query waits out
    the timeout, the rest of the sample is not sent, and the sample says the drill is blind.  Before, each of the
    sample's queries waited out its own timeout and the drill stayed blind half a minute past the outage."""
    from drills.observers.prometheus import MetricQueries, MetricSampler, Prometheus

    class Counting(Prometheus):
        asked = 0

        def query(self, promql: str) -> float | None:
            Counting.asked += 1
            return super().query(promql)

    journal = JournalWriter(tmp_path / "journal.jsonl", "d1")
    with silent_port() as port:
        prom = Counting(f"http://127.0.0.1:{port}", timeout=0.3)
        sampler = MetricSampler(prom, MetricQueries(), journal)
        try:
            assert not sampler.blind
            sampler.tick()
        finally:
            prom.close()
            journal.close()
    assert Counting.asked == 1
    assert sampler.blind and sampler.outage is not None and "did not answer" in str(sampler.outage)
    sample = sampler.latest
    assert all(sample[name] is None for name in MetricQueries().__dict__)
    [event] = [e for e in read_journal(journal.path) if e.type is EventType.metric_sample]
    assert event.data["error_rate"] is None


def test_a_rejected_query_is_not_an_outage(tmp_path: Path) -> None:
    """A query Prometheus refuses (a bad expression) reads as None; the others are still asked and the drill is
    not blind."""
    from drills.observers.prometheus import MetricQueries, MetricSampler, Prometheus
    from gameday.errors import TargetError

    class OneBad(Prometheus):
        def query(self, promql: str) -> float | None:
            if promql == MetricQueries().pool_size:
                raise TargetError("Prometheus rejected it")
            return 1.0

    journal = JournalWriter(tmp_path / "journal.jsonl", "d1")
    sampler = MetricSampler(OneBad("http://127.0.0.1:9"), MetricQueries(), journal)
    sampler.tick()
    journal.close()
    assert not sampler.blind and sampler.outage is None
    assert sampler.latest["pool_size"] is None and sampler.latest["error_rate"] == 1.0
