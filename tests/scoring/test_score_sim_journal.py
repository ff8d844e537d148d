"""A journal written by the real simulator scores per incident, with nothing expected that a simulator
cannot produce (metric samples, review documents)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.scoring import Status, score_journal

journal_out = pytest.importorskip("sim.journal_out")


def test_simulated_journal_scores(tmp_path: Path) -> None:
    from gameday.files import load_model
    from gameday.runbook import load_runbook
    from sim.kernel import run_replication
    from sim.model import compile_model
    from sim.policy import Policy

    root = Path(__file__).resolve().parents[2]
    model = compile_model(load_model(root / "scenarios" / "policies" / "baseline.yaml", Policy), load_runbook())
    path = tmp_path / "sim.jsonl"
    journal_out.write_journal(path, model, [(0, run_replication(model, 30, 7, 0, trace=True))])
    result = score_journal(path)
    assert len(result.incidents) == 30
    assert result.score is not None and 0 <= result.score <= 100
    for incident in result.incidents:
        statuses = {c.id: c.status for c in incident.checks}
        assert statuses["verification_true"] is Status.not_applicable  # no metric samples in a sim
        assert incident.severity_expected is not None  # from incident_started
        assert any(m.id == "mttr" and m.minutes is not None for m in incident.metrics)
