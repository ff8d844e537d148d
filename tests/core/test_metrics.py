"""Every metric is defined once (gameday.metrics) and every path gives the same figure for the same journal:
``gameday simulate``, ``gameday score``, ``gameday score --timeline``, ``load_frame`` + ``metrics_frame``, the
README's glossary."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gameday.journal import EventType, load_frame
from gameday.metrics import (
    BY_ID,
    METRICS,
    NO_TARGET,
    Milestone,
    complies,
    glossary_markdown,
    incident_metrics,
    load_metrics,
    meets,
    metrics_frame,
    milestones,
    targets,
    targets_by_severity,
)
from gameday.runbook import load_runbook
from gameday.scoring import score_journal, score_timeline

E = EventType
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "scoring" / "fixtures"
IDS = [m.id for m in METRICS]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday.cli", *args], capture_output=True, text=True,
                          timeout=300, check=True)


# -- the definitions ----------------------------------------------------------------------------------------


def test_the_metrics_and_their_spans() -> None:
    spans = {m.id: m.span for m in METRICS}
    assert spans == {
        "mttd": "started → detected",
        "mtta": "detected → acknowledged",  # from the alert, not from the incident start
        "time_to_declare": "detected → declared",  # the runbook's response time counts from detection too
        "time_to_mitigate": "started → mitigated",
        "time_to_restore": "started → restored",
        "mttr": "started → resolved",
    }
    assert BY_ID["mtta"].title == "Time to acknowledge (MTTA)"
    assert BY_ID["time_to_restore"].title == "Time to restore"


def test_milestones_follow_the_runbook() -> None:
    """verified -> (recurrence) -> verified -> 30 min watch -> resolved -> closed."""
    events = [(1, E.fault_injected), (3, E.alert_firing), (4, E.acknowledged), (6, E.severity_declared),
              (10, E.mitigated), (12, E.verified), (20, E.alert_firing), (25, E.mitigated), (27, E.verified),
              (57, E.resolved), (58, E.closed), (59, E.mitigated)]
    times = milestones(events)
    assert times[Milestone.started] == 1 and times[Milestone.detected] == 3
    assert times[Milestone.mitigated] == 25  # the mitigation that held (last before resolved)
    assert times[Milestone.restored] == 27  # the verification the watch confirmed
    assert times[Milestone.resolved] == 57
    assert incident_metrics(events) == {"mttd": 2, "mtta": 1, "time_to_declare": 3, "time_to_mitigate": 24,
                                        "time_to_restore": 26, "mttr": 56}


def test_milestone_fallbacks() -> None:
    # no resolved event: closing resolves (the runbook posts INCIDENT RESOLVED when it closes)
    times = milestones([(0, E.alert_firing), (30, E.verified), (60, E.closed)])
    assert (times[Milestone.started], times[Milestone.restored], times[Milestone.resolved]) == (0, 30, 60)
    # no verification: restored when resolved (the ticket branch has no watch)
    times = milestones([(0, E.incident_started), (5, E.detected), (90, E.resolved)])
    assert times[Milestone.restored] == 90
    # nothing resolved yet: the latest verification so far, no resolve time
    times = milestones([(0, E.fault_injected), (12, E.verified), (15, E.verified)])
    assert times[Milestone.restored] == 15 and times[Milestone.resolved] is None
    assert incident_metrics([(0, E.fault_injected)])["mtta"] is None


def test_a_fault_whose_start_waited_for_pods_starts_the_clock_when_active() -> None:
    """kind at a high time scale: the leaking release served 5 runbook minutes after its injection (a container's
    start is not scaled); MTTD counts from then, and an alert of the rollout itself (old pods replaced) before
    it detects nothing."""
    events = [(0, E.fault_injected), (2, E.alert_firing), (5, E.fault_active), (11, E.alert_firing),
              (12, E.acknowledged), (40, E.resolved)]
    times = milestones(events)
    assert (times[Milestone.started], times[Milestone.detected]) == (5, 11)
    assert incident_metrics(events)["mttd"] == 6
    assert incident_metrics(events)["mttr"] == 35
    # without it, the injection starts the clock (the sandbox's faults, kind's other faults)
    assert incident_metrics([e for e in events if e[1] is not E.fault_active])["mttd"] == 2


# -- targets and compliance ---------------------------------------------------------------------------------


def test_targets_follow_the_runbook() -> None:
    """The severity's response time is the time to declare's target (declared severities only), not MTTA's."""
    runbook = load_runbook()
    assert targets(runbook, "SEV-1") == {"mttd": 5, "mtta": 15, "time_to_declare": 15, "mttr": 60}
    assert targets(runbook, "SEV-2") == {"mttd": 5, "mtta": 15, "time_to_declare": 60}
    assert targets(runbook, "SEV-3") == {"mttd": 5, "mtta": 15}  # a ticket: no declaration to time
    assert targets(runbook, None) == {"mttd": 5, "mtta": 15}
    by_severity = targets_by_severity(runbook, ["SEV-1", "SEV-3"])
    assert by_severity["time_to_declare"] == [15, NO_TARGET] and by_severity["mttr"] == [60, NO_TARGET]


def test_compliance_is_every_applicable_target_met() -> None:
    goals = {"mtta": 15, "time_to_declare": 15}
    assert complies({"mtta": 15, "time_to_declare": 14}, goals)  # on the target is within it
    assert not complies({"mtta": 3, "time_to_declare": 16}, goals)  # acknowledged in time, declared late
    assert not complies({"mtta": None, "time_to_declare": 2}, goals)  # never acknowledged: not met
    assert complies({"mtta": 3, "time_to_declare": None}, {"mtta": 15})  # no target for it: not asked
    assert meets(None, NO_TARGET) and not meets(float("nan"), 5.0)
    # the same rule over arrays (the simulator): NaN misses, an infinite goal (no target here) never does
    values = {"mtta": np.array([3.0, 20.0, np.nan, 3.0]), "time_to_declare": np.array([2.0, 2.0, 2.0, np.nan])}
    arrays = {"mtta": np.full(4, 15.0), "time_to_declare": np.array([15.0, 15.0, 15.0, NO_TARGET])}
    assert complies(values, arrays).tolist() == [True, False, False, True]


# -- one journal, every path ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["simpy", "vector"])
def test_sim_journal_same_figures_through_simulate_score_and_load_frame(tmp_path: Path, engine: str) -> None:
    journal = tmp_path / "sim.jsonl"
    simulated = json.loads(_cli("simulate", "--policy", str(ROOT / "scenarios" / "policies" / "baseline.yaml"),
                                "--incidents", "120", "--seed", "4", "--engine", engine, "--journal", str(journal),
                                "--json").stdout)
    scored = json.loads(_cli("score", str(journal), "--json").stdout)
    frame = load_metrics(journal)
    assert len(frame) == 120 == len(scored["incidents"]) == simulated["incidents"]
    for metric_id in IDS:
        sim_mean = simulated[metric_id]["mean"]
        assert sim_mean is not None, metric_id
        assert scored["metric_means"][metric_id] == pytest.approx(sim_mean, abs=2e-3), metric_id
        assert frame[metric_id].mean() == pytest.approx(sim_mean, abs=2e-3), metric_id
        assert int(frame[metric_id].notna().sum()) == simulated[metric_id]["count"], metric_id
    # per incident too, not only on average
    by_incident = {i["incident"]: {m["id"]: m["minutes"] for m in i["metrics"]} for i in scored["incidents"]}
    for row in frame.itertuples():
        for metric_id in IDS:
            value = getattr(row, metric_id)
            expected = by_incident[row.incident][metric_id]
            assert (expected is None and np.isnan(value)) or value == pytest.approx(expected, abs=1e-9)
    # the watch: declared incidents resolve exactly one stability period after they were restored
    declared = frame[frame["severity"].isin(["SEV-1", "SEV-2"])]
    assert len(declared) > 0
    assert np.allclose(declared["mttr"] - declared["time_to_restore"], 30.0)
    tickets = frame[frame["severity"].isin(["SEV-3", "SEV-4"])]
    assert np.allclose(tickets["mttr"], tickets["time_to_restore"]) and tickets["time_to_declare"].isna().all()


def test_sim_resolved_is_the_end_of_the_stability_watch(tmp_path: Path) -> None:
    """In a SimPy journal, ``resolved`` lands when the last 'Monitor Stability' step finished."""
    journal = tmp_path / "sim.jsonl"
    _cli("simulate", "--policy", str(ROOT / "scenarios" / "policies" / "baseline.yaml"), "--incidents", "60",
         "--seed", "9", "--engine", "simpy", "--journal", str(journal))
    frame = load_frame(journal)
    checked = 0
    for _, events in frame.groupby("incident"):
        watch = events[(events["type"] == "step_finished")
                       & events["data"].map(lambda d: d.get("step") == "Monitor Stability")]
        resolved = events[events["type"] == "resolved"]
        if len(watch):
            assert resolved["t"].iloc[0] == pytest.approx(watch["t"].iloc[-1], abs=1e-3)
            checked += 1
    assert checked > 5


@pytest.mark.parametrize("name", ["perfect", "late-declaration", "missed-updates", "early-close", "sim-two"])
def test_drill_journal_same_figures_through_score_and_load_frame(name: str) -> None:
    path = FIXTURES / f"{name}.jsonl"
    result = score_journal(path)
    frame = metrics_frame(load_frame(path)).set_index("incident")
    for incident in result.incidents:
        for m in incident.metrics:
            value = frame.loc[incident.incident, m.id]
            assert (m.minutes is None and np.isnan(value)) or value == pytest.approx(m.minutes), (name, m.id)


def test_seed_incident_time_to_restore_30_and_resolve_60(mojibake_runbook_path: Path) -> None:
    """Alert 14:30, service restored 15:00, closed 15:30: "INCIDENT RESOLVED, Duration: 1 hour"."""
    (incident,) = score_timeline(FIXTURES / "incident-2026-01-24-001.md", mojibake_runbook_path).incidents
    metrics = {m.id: m.minutes for m in incident.metrics}
    assert metrics["time_to_restore"] == 30.0
    assert metrics["mttr"] == 60.0


def test_metrics_frame_has_every_metric_column() -> None:
    frame = load_metrics(FIXTURES / "perfect.jsonl")
    assert list(frame.columns) == ["source", "journal", "incident", "severity", *IDS]
    assert frame.iloc[0]["time_to_restore"] == pytest.approx(19.0) and frame.iloc[0]["mttr"] == pytest.approx(49.0)


def test_journal_metrics_cli_writes_the_table(tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "metrics.csv"
    _cli("journal", "metrics", str(FIXTURES / "perfect.jsonl"), str(FIXTURES / "sim-two.jsonl"), "--out", str(out))
    table = pd.read_csv(out)
    assert list(table["incident"]) == ["drill-2026-03-02-001", "sim-0001", "sim-0002"]
    assert list(table.columns)[-len(IDS):] == IDS


# -- the glossary -----------------------------------------------------------------------------------------


def test_readme_glossary_is_generated_from_the_definitions() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- metrics-glossary:start[^>]*-->\n(.*?)<!-- metrics-glossary:end -->", readme, re.S)
    assert match, "README.md lacks the generated metrics glossary block"
    assert match.group(1) == glossary_markdown(), "regenerate it: .venv/bin/python -m gameday.metrics --readme"
