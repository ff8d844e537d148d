"""``notebooks/monthly_review.ipynb`` on a store filled from real artefacts: the team's past incident (the
runbook's timeline and review), a real sandbox drill's journal and review (``fixtures/sandbox-drill``) and drill
journals as the runner and the autopilot write them -- not only the generated examples the notebook falls back to
(``tests/notebooks`` runs that path)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from history_helpers import Drill, past_incident, run_gameday
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "monthly_review.ipynb"
SANDBOX_DRILL = Path(__file__).resolve().parent / "fixtures" / "sandbox-drill" / "journal.jsonl"


def test_the_notebook_reads_a_store_of_real_drills_and_the_past_incident(tmp_path: Path, drills: list[Drill],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    history = tmp_path / "history.duckdb"
    timeline, review = past_incident(tmp_path / "past")
    assert run_gameday("history", "import", timeline, review, "--history", history).returncode == 0
    journals = [SANDBOX_DRILL, *(d.journal for d in drills)]
    assert run_gameday("history", "add", *journals, "--history", history).returncode == 0
    monkeypatch.setenv("GAMEDAY_HISTORY", str(history))

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert str(history) in printed and "incident  2026-01-24-001" in printed
    assert "drill     red-2026-03-02" in printed and "drill     crashloop-20261205T203631Z-s1" in printed
    # the baseline beside what was observed: simulated for the review (none stored), with its seed, and the
    # weights' sentence per row (the incident 1, each drill at 60x 0.5/60, the autopilot's people nothing)
    assert "baseline: simulated for this review (no simulated journal is stored): 500 incidents" in printed
    assert "seed 1" in printed
    sev1_mttr = next(line for line in printed.splitlines() if line.startswith("SEV-1 mttr: simulated median"))
    assert "too few to fit: 3 observation(s) weighing 1.02 real incident(s), 3 needed" in sev1_mttr, sev1_mttr
