"""The backend image's entrypoint turns fault env vars into knobs and refuses a bad database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from drills.k8s.entrypoint import knobs_from_env
from drills.service.knobs import Knobs

REPO = Path(__file__).resolve().parents[2]


def test_fault_env_becomes_knobs() -> None:
    knobs = knobs_from_env({"QUERY_LATENCY_S": "0.8", "LATENCY_FRACTION": "0.5", "UPSTREAM_ERROR_FRACTION": ""})
    assert knobs == {"query_latency_s": 0.8, "latency_fraction": 0.5}
    Knobs.model_validate(knobs)


def test_bad_database_url_exits_nonzero_like_a_crashing_container() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "APP_VERSION": "v1.2.2",
           "DATABASE_URL": "postgresql://erp@127.0.0.1:1/hospital_erp"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "drills.k8s.entrypoint"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "Cannot connect to database" in result.stderr
