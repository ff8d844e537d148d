"""The runbook's ``kubectl top`` commands answer on the kind cluster: metrics-server built here, preloaded into
the node, its APIService Available, and real memory figures for the node and the backend pods.

The commands run verbatim from the runbook's text, through a shell, with only the environment set (the
cluster's kubeconfig pinned to its context, the target's kubectl first on PATH), as a responder types them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, Kind

from drills.k8s import metrics_server

pytestmark = pytest.mark.kind

RUNBOOK = REPO / "runbooks" / "incident-response.md"
TOP_NODES = "kubectl top nodes"
TOP_PODS = "kubectl top pods -A --sort-by=memory"
#: Seconds from apply to a first answer of both commands (two scrapes at 15 s resolution, plus start-up).
METRICS_WAIT_S = float(os.environ.get("GAMEDAY_TEST_METRICS_WAIT", "180"))
UNITS = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}


def bytes_of(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]i?|k)?", quantity)
    assert match, f"not a memory quantity: {quantity!r}"
    return int(match.group(1)) * UNITS[match.group(2) or ""]


def table(out: str) -> list[dict[str, str]]:
    lines = [line.split() for line in out.strip().splitlines()]
    header = lines[0]
    return [dict(zip(header, row, strict=True)) for row in lines[1:]]


def memory(row: dict[str, str]) -> int:
    column = next(k for k in row if k.startswith("MEMORY(") or k == "MEMORY")  # MEMORY(bytes)
    return bytes_of(row[column])


def answer(command: str, env: dict[str, str], deadline: float) -> str:
    """The command's output once it succeeds (metrics-server says "metrics not available yet" at first)."""
    while True:
        result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60, env=env)
        if result.returncode == 0 and len(result.stdout.strip().splitlines()) > 1:
            return result.stdout
        assert time.monotonic() < deadline, f"`{command}` still fails: {result.stderr.strip()}"
        time.sleep(2)


def test_runbook_kubectl_top_commands_show_real_memory(kind: Kind, tmp_path: Path) -> None:
    commands = RUNBOOK.read_text(encoding="utf-8").splitlines()
    assert TOP_NODES in commands and TOP_PODS in commands, "the runbook's Useful Commands changed"
    start = time.monotonic()
    kind.kubectl(*metrics_server.wait_argv(int(METRICS_WAIT_S)), timeout=METRICS_WAIT_S + 10)
    available = time.monotonic() - start
    env = kind.responder_env()
    deadline = start + METRICS_WAIT_S

    nodes = table(answer(TOP_NODES, env, deadline))
    names = {n["metadata"]["name"] for n in json.loads(kind.kubectl("get", "nodes", "-o", "json").stdout)["items"]}
    assert {row["NAME"] for row in nodes} == names
    assert all(memory(row) > 0 for row in nodes), nodes

    backend = {r.name for r in kind.target.replicas()}
    assert backend
    while True:  # pods started just before may not have two scrapes yet: wait for every backend pod's row
        pods = table(answer(TOP_PODS, env, deadline))
        rows = {row["NAME"]: row for row in pods if row["NAMESPACE"] == kind.target.namespace}
        if backend <= rows.keys() or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert backend <= rows.keys(), f"no `kubectl top` row for {sorted(backend - rows.keys())}"
    assert all(memory(rows[name]) > 0 for name in backend), [rows[name] for name in backend]
    assert [memory(row) for row in pods] == sorted((memory(row) for row in pods), reverse=True)
    print(f"metrics API Available {available:.0f} s after apply; both commands answered "
          f"{time.monotonic() - start:.0f} s after apply")
