"""Every notebook runs top to bottom on the example data the repo ships (as CI's ``make test`` does).

Executed with nbclient on the venv's own ``python3`` kernel (ipykernel), from the notebooks folder, the
same way ``pytest --nbmake notebooks/`` would run them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
TIMEOUT_SECONDS = 300


def test_notebooks_exist() -> None:
    assert {p.stem for p in NOTEBOOKS} >= {"drill_analysis", "escalation_whatif", "detectability"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors, errors


def test_python3_kernel_is_installed() -> None:
    """A missing kernel is a failure here (never a skip): make venv installs ipykernel, CI included."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    assert "python3" in specs, f"no python3 Jupyter kernel (found {sorted(specs)}); run make venv"


def test_kernel_is_this_venv() -> None:
    """The ``python3`` kernel must be the interpreter running the tests, so notebooks see the project."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")])
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    printed = notebook.cells[0].outputs[0]["text"].strip()
    assert printed == sys.prefix
