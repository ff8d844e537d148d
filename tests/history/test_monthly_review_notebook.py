"""``notebooks/monthly_review.ipynb`` on a store filled from real artefacts: the team's past incident (the
runbook's timeline and review) and drill journals as the runner and the autopilot write them -- not only the
generated examples the notebook falls back to (``tests/notebooks`` runs that path)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from history_helpers import Drill, past_incident, run_gameday
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "monthly_review.ipynb"


def test_the_notebook_reads_a_store_of_real_drills_and_the_past_incident(tmp_path: Path, drills: list[Drill],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    history = tmp_path / "history.duckdb"
    timeline, review = past_incident(tmp_path / "past")
    assert run_gameday("history", "import", timeline, review, "--history", history).returncode == 0
    assert run_gameday("history", "add", *(d.journal for d in drills), "--history", history).returncode == 0
    monkeypatch.setenv("GAMEDAY_HISTORY", str(history))

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert str(history) in printed and "drill     red-2026-03-02" in printed and "incident  2026-01-24-001" in printed
