"""A journal written by the real simulator scores per incident, with nothing expected that a simulator
cannot produce (metric samples, review documents)."""

from __future__ import annotations

from pathlib import Path
from statistics import fmean

import pytest

from gameday.files import load_model
from gameday.runbook import load_runbook
from gameday.scoring import Status, score_journal
from sim.journal_out import write_journal
from sim.kernel import run_replication
from sim.model import compile_model
from sim.policy import Policy


def test_simulated_journal_scores(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    model = compile_model(load_model(root / "scenarios" / "policies" / "baseline.yaml", Policy), load_runbook())
    path = tmp_path / "sim.jsonl"
    rep = run_replication(model, 30, 7, 0, trace=True)
    write_journal(path, model, [(0, rep)])
    result = score_journal(path)
    assert len(result.incidents) == 30
    # the journal's score is the mean of its incidents', each the share of applicable weight passed
    for incident in result.incidents:
        passed = sum(c.weight for c in incident.checks if c.status is Status.passed)
        assert incident.possible > 0 and incident.score == pytest.approx(round(100 * passed / incident.possible, 1))
    assert result.score == pytest.approx(round(fmean(i.score for i in result.incidents), 1))
    for incident, severity in zip(result.incidents, rep.severity, strict=True):
        statuses = {c.id: c.status for c in incident.checks}
        assert statuses["verification_true"] is Status.not_applicable  # no metric samples in a sim
        assert incident.severity_expected == model.severities[severity]  # from incident_started
        assert statuses["severity_matches"] is Status.passed  # the simulated team knows the severity
        metrics = {m.id: m.minutes for m in incident.metrics}
        if incident.severity_expected in model.runbook.declared_severities():
            # resolved once the 30-minute watch after the restore held, as the runbook asks
            assert statuses["stability_watch"] is Status.passed
            assert metrics["mttr"] == pytest.approx(metrics["time_to_restore"] + 30.0, abs=2e-3)
        else:  # the ticket branch has no watch: restored is resolved
            assert statuses["stability_watch"] is Status.not_applicable
            assert metrics["mttr"] == metrics["time_to_restore"]
