"""SimPy-engine journals carry what the runbook asks responders to do, so gameday's scorer judges them:
checks that the simulated team does follow pass, and a slow status-update step fails the cadence check."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from gameday.journal import EventType, read_journal
from gameday.scoring import Status, score_journal
from sim.engine_simpy import simulate
from sim.journal_out import write_rows
from sim.model import compile_model
from sim.policy import Policy, load_policy

DECLARED = ("SEV-1", "SEV-2")


def _journal(policy: Policy, runbook, path: Path, n: int = 160, seed: int = 12) -> Path:
    model = compile_model(policy, runbook)
    rows = []
    for r in range(2):
        rep, engine = simulate(model, n // 2, seed, r, journal=True)
        rows.append(engine.journal_rows(rep))
    write_rows(path, model, rows)
    return path


def _with_status_update(policy: Policy, dist: dict) -> Policy:
    steps = policy.steps.model_copy(
        update={
            "status_update": Policy.model_validate({"name": "x", "steps": {"status_update": dist}}).steps.status_update
        }
    )
    return policy.model_copy(update={"steps": steps})


@pytest.fixture(scope="module")
def baseline(policies_dir) -> Policy:
    # more serious incidents so a small journal has plenty of declared ones
    policy = load_policy(str(policies_dir / "baseline.yaml"))
    return policy.model_copy(update={"arrivals_per_day": {"SEV-1": 1.0, "SEV-2": 1.0, "SEV-3": 1.0, "SEV-4": 1.0}})


def _statuses(path: Path, runbook) -> dict[str, dict[str, Status]]:
    result = score_journal(path, runbook)
    return {i.incident: {"severity": i.severity_used, **{c.id: c.status for c in i.checks}} for i in result.incidents}


def test_sim_journal_passes_the_checks_the_simulated_team_follows(baseline, seed_runbook, tmp_path):
    fast = _with_status_update(baseline, {"dist": "fixed", "value": 2.0})
    path = _journal(fast, seed_runbook, tmp_path / "sim.jsonl")
    events = read_journal(path)
    assert events[0].data["engine"] == "simpy"
    scores = _statuses(path, seed_runbook)
    assert len(scores) == 160
    declared = {k: v for k, v in scores.items() if v["severity"] in DECLARED}
    assert len(declared) > 40
    for incident, checks in declared.items():
        for check in (
            "severity_matches",
            "roles_assigned",
            "war_room",
            "hypothesis_before_fix",
            "stability_watch",
            "status_updates",
        ):
            assert checks[check] is Status.passed, (incident, check)
        if checks["severity"] == "SEV-1":
            assert checks["paged"] is Status.passed, incident
        # Phase 4 and the roles (issue 21): the simulated team posts the declaration message, every update to
        # the severity's channels in its template, walks the status page, sends the resolution notice, and
        # each duty is done by its role; the initial notice is judged (a late declaration makes it late too)
        for check in ("declaration_message", "update_channels", "status_page", "resolution_notice", "duties_by_role"):
            assert checks[check] is Status.passed, (incident, check)
        assert checks["initial_notice"] in (Status.passed, Status.failed), incident
    for checks in scores.values():
        assert checks["severity_matches"] is Status.passed
        assert checks["verification_true"] is Status.not_applicable  # a simulator has no metric samples
    # what the runbook asks for is in the journal: roles from its declaration template, the ladder, business
    types = Counter(e.type for e in events)
    roles = {e.data["role"] for e in events if e.type is EventType.role_assigned}
    assert {"IC", "TL"} <= roles
    ladder = {rung.level for rung in seed_runbook.escalation.technical if rung.level > 1}
    assert {e.data["level"] for e in events if e.type is EventType.escalated} == ladder
    notified = {e.data["who"] for e in events if e.type is EventType.notified}
    assert notified == {n.who for n in seed_runbook.escalation.business}
    assert types[EventType.status_update] > len(declared)
    assert types[EventType.resolved] == types[EventType.incident_started] == 160
    # the fix comes after a hypothesis in every incident, and only after detection
    for incident in declared:
        own = [e for e in events if e.incident == incident]
        first_action = next(e for e in own if e.type is EventType.action)
        assert first_action.data["kind"] in ("rollback", "hotfix")
        assert any(e.type is EventType.hypothesis and e.seq < first_action.seq for e in own)


def test_slow_status_updates_fail_the_cadence_check(baseline, seed_runbook, tmp_path):
    fast = _statuses(
        _journal(_with_status_update(baseline, {"dist": "fixed", "value": 2.0}), seed_runbook, tmp_path / "fast.jsonl"),
        seed_runbook,
    )
    slow_policy = _with_status_update(baseline, {"dist": "lognormal", "median": 10.0, "sigma": 0.8})
    slow = _statuses(_journal(slow_policy, seed_runbook, tmp_path / "slow.jsonl"), seed_runbook)

    def failed(scores):
        return [k for k, v in scores.items() if v["status_updates"] is Status.failed]

    assert failed(fast) == []
    slow_failed = failed(slow)
    applicable = [k for k, v in slow.items() if v["status_updates"] is not Status.not_applicable]
    # same incidents (common random numbers), only the update step differs: some, not all, come out late
    assert 0 < len(slow_failed) < len(applicable)
    assert set(fast) == set(slow)


def test_the_initial_notice_follows_the_cl_writing_time(baseline, seed_runbook, tmp_path):
    """The CL's writing is a status_update draw, counted from the declaration: a writer who takes 1 min is always
    in time, one who takes 16 never, whenever the incident was declared."""

    def in_time(dist: dict, name: str) -> tuple[int, int]:
        scores = _statuses(_journal(_with_status_update(baseline, dist), seed_runbook, tmp_path / name), seed_runbook)
        judged = [v["initial_notice"] for v in scores.values() if v["initial_notice"] is not Status.not_applicable]
        return sum(s is Status.passed for s in judged), len(judged)

    quick, n_quick = in_time({"dist": "fixed", "value": 1.0}, "quick.jsonl")
    slow, n_slow = in_time({"dist": "fixed", "value": 16.0}, "slow.jsonl")  # past the 15 min from declaring
    assert n_quick == n_slow > 20  # the same incidents (common random numbers)
    assert (quick, slow) == (n_quick, 0)


def test_the_sweeps_notice_share_is_the_scorers(baseline, seed_runbook, tmp_path):
    """``sweep``'s initial_notice_in_time counts what ``gameday score`` finds in the journal of the same run."""
    from sim.simpy_comms import initial_notices

    model = compile_model(baseline, seed_runbook)
    rep, engine = simulate(model, 120, 7, 0, journal=True)
    path = tmp_path / "sim.jsonl"
    write_rows(path, model, [engine.journal_rows(rep)])
    judged = [
        v["initial_notice"]
        for v in _statuses(path, seed_runbook).values()
        if v["initial_notice"] is not Status.not_applicable
    ]
    due, in_time = initial_notices(model, rep, 7, 0)
    assert int(due.sum()) == len(judged) > 10
    assert int(in_time.sum()) == sum(s is Status.passed for s in judged)
