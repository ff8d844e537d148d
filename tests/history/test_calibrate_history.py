"""``gameday calibrate --history``: the policy is fitted to the store's past incidents and drills, each weighted by
what it can tell, and says what it fitted and what kept the baseline (issue 23)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from history_helpers import run_gameday

from gameday.history.ingest import read_journal_file, read_timeline_file
from gameday.history.render import write_monthly
from gameday.history.store import HistoryStore
from sim.calibrate import calibrate

ROOT = Path(__file__).resolve().parents[2]


def _timeline(folder: Path, n: int, minutes: dict[str, int]) -> Path:
    """A past SEV-1 with the runbook's timeline rows at the given minutes after its 09:00 alert."""
    rows = {
        "ack": "On-call acknowledged the page",
        "declare": "Incident declared SEV-1",
        "war": "War room created, response team assembled",
        "cause": "Root cause identified: bad release",
        "fix": "Rollback initiated",
        "mitigated": "Pods healthy, error rate dropping",
        "restored": "Service restored, monitoring stability",
        "closed": "Incident closed, stable for 30 min",
    }
    start = datetime(2026, 2, n, 9, 0)
    lines = [
        f"## Incident Timeline: 2026-02-{n:02d}-001",
        "",
        "| Time (UTC) | Event |",
        "| --- | --- |",
        "| 09:00 | Prometheus alert: HighErrorRate firing |",
    ]
    lines += [f"| {start + timedelta(minutes=minutes[k]):%H:%M} | {text} |" for k, text in rows.items()]
    path = folder / f"2026-02-{n:02d}-001-timeline.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


#: A SEV-1 restored after 30 min, closed after the 30-min watch: MTTR 60 from the alert.
HOUR = {"ack": 2, "declare": 5, "war": 8, "cause": 14, "fix": 18, "mitigated": 23, "restored": 30, "closed": 60}


def _drill(folder: Path, name: str, mitigate_min: int, *, responder: str | None, time_scale: float) -> Path:
    """A drill journal at ``time_scale`` whose declaration -> mitigation takes ``mitigate_min`` runbook minutes."""
    from gameday.journal import EventType as E
    from gameday.journal import JournalWriter

    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    at = {
        E.fault_injected: 0,
        E.alert_firing: 4,
        E.acknowledged: 6,
        E.severity_declared: 9,
        E.hypothesis: 9 + mitigate_min // 2,
        E.action: 9 + mitigate_min - 3,
        E.mitigated: 9 + mitigate_min,
        E.verified: 15 + mitigate_min,
        E.resolved: 45 + mitigate_min,
        E.closed: 46 + mitigate_min,
    }
    times = iter([0.0] + [m * 60.0 / time_scale for m in at.values()])
    folder.mkdir(parents=True, exist_ok=True)
    writer = JournalWriter(
        folder / f"{name}.jsonl", name, durable=False, start=start, clock=lambda: start + timedelta(seconds=next(times))
    )
    meta = {"source": "drill", "time_scale": time_scale, "team": "red"}
    if responder:
        meta |= {"responder": responder, "policy": "scenarios/policies/baseline.yaml"}
    writer.emit(E.journal_started, "runner", meta)
    data = {
        E.fault_injected: {"fault": "crashloop"},
        E.severity_declared: {"severity": "SEV-1", "level": 1},
        E.action: {"kind": "rollback", "target": "backend"},
        E.hypothesis: {"text": "bad release"},
    }
    for kind in at:
        writer.emit(kind, "alice", data.get(kind, {}))
    writer.close()
    return writer.path


def _store(tmp_path: Path, timelines: list[Path] = (), journals: list[Path] = ()) -> Path:
    path = tmp_path / "history.duckdb"
    HistoryStore(path).add([read_timeline_file(t) for t in timelines] + [read_journal_file(j) for j in journals])
    return path


def test_a_store_of_one_hour_incidents_calibrates_a_sev1_mttr_near_an_hour(tmp_path: Path) -> None:
    shifts = [-2, -1, 0, 0, 1, 2]
    timelines = [
        _timeline(tmp_path, i + 1, {k: max(v + (s if k != "ack" else 0), 1) for k, v in HOUR.items()})
        for i, s in enumerate(shifts)
    ]
    store = _store(tmp_path, timelines)
    done = run_gameday("calibrate", "--history", "--store", store, "--out", tmp_path / "team.yaml")
    assert done.returncode == 0, done.stderr
    said = {line.split(":")[0]: line for line in done.stdout.splitlines()}
    assert "mitigate: n=6 weight 6 (6 x 1: a real past incident) -> fitted" in said["mitigate"]
    assert "steps.investigate" in said["mitigate"] and "responders.sme.unavailable_delay" in said["mitigate"]
    assert "kept the base: not measured" in said["detect"]  # a timeline starts at its alert
    assert said["root_cause_probability"].startswith("root_cause_probability: n=6 weight 6 -> fitted")
    assert "steps.review" in said["kept the base (no interval the records measure covers them)"]
    # the old mapping gave ~187 min; the baseline's SEV-1 takes ~140; the team's take an hour
    line = said["SEV-1 MTTR"]
    simulated = float(line.split("->")[1].split()[0])
    base = float(line.split("from detection ")[1].split()[0])
    assert 55 <= simulated <= 70 and base > 120, line


def test_one_incident_is_too_few_and_the_policy_stays_the_baseline(tmp_path: Path) -> None:
    store = _store(tmp_path, [ROOT / "examples" / "incidents" / "2026-01-24-001-timeline.md"])
    done = run_gameday("calibrate", "--history", "--store", store, "--out", tmp_path / "team.yaml")
    assert done.returncode == 0, done.stderr
    assert "mitigate: n=1 weight 1 (1 x 1: a real past incident) -> kept the base: too few to fit" in done.stdout
    assert "too few to fit anything: the policy is the base's" in done.stdout
    written = yaml.safe_load((tmp_path / "team.yaml").read_text())
    baseline = yaml.safe_load((ROOT / "scenarios" / "policies" / "baseline.yaml").read_text())
    assert {k: v for k, v in written.items() if k not in ("name", "description")} == {
        k: v for k, v in baseline.items() if k not in ("name", "description")
    }


def test_a_real_incident_outweighs_drills_and_an_autopilot_weighs_nothing(tmp_path: Path) -> None:
    timelines = [_timeline(tmp_path, i + 1, HOUR) for i in range(3)]  # declared -> mitigated: 18 min
    people = [_drill(tmp_path / "d", f"people-{i}", 100, responder=None, time_scale=1.0) for i in range(3)]
    autopilot = [_drill(tmp_path / "d", f"auto-{i}", 100, responder="autopilot", time_scale=60.0) for i in range(3)]
    store = _store(tmp_path, timelines, people + autopilot)
    result = calibrate([], tmp_path / "team.yaml", history=store)
    mitigate = result["intervals"]["mitigate"]
    # unweighted, the six measured values (18 x3, 100 x3) have a median of 59; a rehearsal weighs half
    assert mitigate["n"] == 6 and mitigate["weight"] == pytest.approx(4.5)
    assert mitigate["observed_median"] == pytest.approx(18.0)
    assert {w["why"]: w["weight"] for w in mitigate["weights"]} == {
        "a real past incident": 1.0,
        "a drill with people, in real time": 0.5,
        "an autopilot drill: its people are draws from baseline.yaml": 0.0,
    }
    # the autopilot's detection is the system's: it informs detect, at a drill's weight
    assert result["intervals"]["detect"]["weight"] == pytest.approx(1.5 + 1.5)

    autopilot_only = calibrate([], tmp_path / "auto.yaml", history=_store(tmp_path / "a", journals=autopilot))
    assert autopilot_only["intervals"]["mitigate"]["why"] == "not measured by any record that weighs"


def test_same_seed_same_policy(tmp_path: Path) -> None:
    timelines = [_timeline(tmp_path, i + 1, {**HOUR, "mitigated": 20 + i}) for i in range(4)]
    store = _store(tmp_path, timelines)
    calibrate([], tmp_path / "a.yaml", history=store, seed=3)
    calibrate([], tmp_path / "b.yaml", history=store, seed=3)
    a, b = (yaml.safe_load((tmp_path / f).read_text()) for f in ("a.yaml", "b.yaml"))
    assert a.pop("name") == "a" and b.pop("name") == "b"
    assert a == b


def test_an_unknown_file_kind_is_one_line_naming_it(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    done = run_gameday("calibrate", notes, "--out", tmp_path / "x.yaml")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "notes.txt" in done.stderr


def test_a_journal_of_unknown_source_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    journal = tmp_path / "odd.jsonl"
    journal.write_text(
        '{"ts":"2026-03-02T10:00:00.000Z","t":0.0,"seq":0,"incident":"x","type":"journal_started",'
        '"actor":"runner","data":{"source":"rumour"}}\n'
    )
    done = run_gameday("calibrate", journal, "--out", tmp_path / "x.yaml")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "odd.jsonl" in done.stderr and "data.source" in done.stderr


def _sim_journal(path: Path) -> Path:
    """A stored simulated baseline: one SEV-1 that took 130 runbook minutes."""
    import json

    rows = [
        ("journal_started", 0, {"source": "sim", "time_scale": 1.0}),
        ("incident_started", 0, {"severity": "SEV-1"}),
        ("detected", 4, {}),
        ("acknowledged", 8, {}),
        ("severity_declared", 15, {"severity": "SEV-1", "level": 1}),
        ("mitigated", 90, {}),
        ("verified", 100, {}),
        ("resolved", 130, {}),
        ("closed", 135, {}),
    ]
    path.write_text(
        "".join(
            json.dumps(
                {
                    "ts": f"2026-02-01T{9 + t // 60:02d}:{t % 60:02d}:00.000Z",
                    "t": t * 60.0,
                    "seq": i,
                    "incident": "sim-1",
                    "type": kind,
                    "actor": "sim",
                    "data": data,
                }
            )
            + "\n"
            for i, (kind, t, data) in enumerate(rows)
        )
    )
    return path


def test_the_monthly_review_says_when_the_observed_weigh_too_few_to_fit(tmp_path: Path) -> None:
    from gameday.history.review import monthly_review
    from gameday.runbook import load_runbook

    sim = read_journal_file(_sim_journal(tmp_path / "sim.jsonl"))
    one = tmp_path / "one"
    one.mkdir()
    few = HistoryStore(tmp_path / "few.duckdb")
    few.add([read_timeline_file(_timeline(one, 1, HOUR)), sim])
    many = HistoryStore(tmp_path / "many.duckdb")
    many.add([read_timeline_file(_timeline(tmp_path, i + 1, HOUR)) for i in range(4)] + [sim])
    rows, pages = {}, {}
    for name, store in (("few", few), ("many", many)):
        review = monthly_review(store, load_runbook(), "2026-02")
        rows[name] = next(b for b in review["baseline"] if b["severity"] == "SEV-1" and b["metric"] == "mttr")
        html, md = write_monthly(review, tmp_path / f"review-{name}", store.path)
        pages[name] = (html.read_text(encoding="utf-8"), md.read_text(encoding="utf-8"))
        assert review["baseline_source"] == {"kind": "stored",
                                             "text": "stored: 1 simulated journal(s), 1 incident(s)"}
    assert rows["few"]["simulated"]["median"] == 130.0 and rows["few"]["observed"]["median"] == 60.0
    assert rows["few"]["too_few"] and rows["few"]["fit"].startswith("too few to fit: 1 observation(s) weighing 1.00")
    assert not rows["many"]["too_few"] and rows["many"]["fit"] == "enough to fit: weighing 4.00 real incident(s)"
    # the pages print the JSON's sentence on the SEV-1 MTTR row, never a fixed "too few to compare"
    for name, (html, md) in pages.items():
        assert "too few to compare" not in html + md
        assert "Baseline: stored: 1 simulated journal(s), 1 incident(s)." in html + md
        md_row = next(line for line in md.splitlines() if line.startswith("| SEV-1 | Time to resolve (MTTR) |"))
        section = html[html.index('<h2 id="baseline">'):]
        html_row = section[section.index("<td>SEV-1</td><td>Time to resolve (MTTR)</td>"):].split("</tr>", 1)[0]
        assert md_row.endswith(f"| {rows[name]['weight']:.2f} | {rows[name]['fit']} |")
        assert f">{rows[name]['fit']}</td>" in html_row and f"<td>{rows[name]['weight']:.2f}</td>" in html_row
    assert "too few to fit: 1 observation(s) weighing 1.00 real incident(s), 3 needed" in pages["few"][1]
    assert "enough to fit: weighing 4.00 real incident(s)" in pages["many"][0]


def _sev1_mttr(review: dict) -> dict:
    return next(b for b in review["baseline"] if b["severity"] == "SEV-1" and b["metric"] == "mttr")


def test_with_no_simulation_stored_the_review_simulates_the_shipped_policy_and_says_so(tmp_path: Path) -> None:
    import json

    history = tmp_path / "history.duckdb"
    HistoryStore(history).add([read_timeline_file(_timeline(tmp_path, 1, HOUR))])
    done = run_gameday("review", "monthly", "--history", history, "--json")
    assert done.returncode == 0, done.stderr
    review = json.loads(done.stdout)
    source = review["baseline_source"]
    assert (source["kind"], source["seed"], source["incidents"], source["policy"]) == ("simulated", 1, 500,
                                                                                       "baseline")
    assert source["text"].startswith("simulated for this review (no simulated journal is stored): 500 incidents")
    assert "seed 1" in source["text"]
    row = _sev1_mttr(review)
    assert row["observed"]["median"] == 60.0 and row["simulated"]["n"] > 5
    assert row["fit"] == "too few to fit: 1 observation(s) weighing 1.00 real incident(s), 3 needed"
    # the command the review names gives the same figures
    sim = run_gameday(*source["command"].split()[1:], "--json")
    assert sim.returncode == 0, sim.stderr
    simulated = json.loads(sim.stdout)["by_severity"]["SEV-1"]["mttr"]
    assert (row["simulated"]["n"], row["simulated"]["median"]) == (simulated["count"],
                                                                   round(simulated["median"], 1))
    # another seed, another baseline; the pages say which
    out = tmp_path / "review"
    seeded = run_gameday("review", "monthly", "--history", history, "--baseline-seed", "7", "--out", out)
    assert seeded.returncode == 0, seeded.stderr
    md = (out / "review.md").read_text(encoding="utf-8")
    html = (out / "review.html").read_text(encoding="utf-8")
    for page in (md, html):
        assert "simulated for this review (no simulated journal is stored): 500 incidents under baseline" in page
        assert "seed 7" in page and "--incidents 500 --seed 7" in page


def test_a_bad_baseline_policy_is_one_line_naming_the_file(tmp_path: Path) -> None:
    history = tmp_path / "history.duckdb"
    HistoryStore(history).add([read_timeline_file(_timeline(tmp_path, 1, HOUR))])
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: policy\nname: bad\narrivals_per_day: {SEV-1: -3}\n", encoding="utf-8")
    for policy, field in ((bad, "arrivals_per_day"), (tmp_path / "none.yaml", "--baseline-policy")):
        done = run_gameday("review", "monthly", "--history", history, "--json", "--baseline-policy", policy)
        assert done.returncode != 0 and "Traceback" not in done.stderr and not done.stdout
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and policy.name in lines[0] and field in lines[0], done.stderr
