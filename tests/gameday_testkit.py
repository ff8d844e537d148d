"""Helpers every test suite shares (a uniquely named module: pytest puts ``tests/`` on ``sys.path`` through
``tests/conftest.py``, and a bare ``helpers`` would collide with other folders' modules).

- :func:`require`: something a test needs is missing.  On a developer's machine that is a skip with the
  reason; with ``CI=true`` or ``GAMEDAY_NO_SKIPS=1`` (``make test`` sets it) it fails the run, because
  those runs install everything (``.ci/run`` -> ``make test``) and a suite that silently skips tests nothing.
  ``tests/conftest.py`` turns any other skip into a failure in those runs too.
- :data:`TEAM_RUNBOOK`, :data:`SHIPPED_RUNBOOK`, :func:`mojibake`: the team's runbook lives in ``../shared``
  and is never copied into the repo; a test that needs its damage makes it from gameday's own rewrite.
- :func:`wait_for`: poll until a condition holds, or fail naming what never happened.
- :func:`never`: the negative check: a condition stays false for a whole window (not one look after a
  fixed sleep, which passes whenever the machine is slow).
- :func:`stand_in_drill`: a drill in progress, with its war room, whose runner is the test itself.

Every timeout here is multiplied by ``$GAMEDAY_TEST_TIMEOUT_SCALE`` (default 1) for slow, shared machines.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
#: Default limit for anything a real service should show (alerts fire within ~20 s on an idle machine).
DEFAULT_TIMEOUT_S = float(os.environ.get("GAMEDAY_TEST_WAIT", "120"))
TIMEOUT_SCALE = float(os.environ.get("GAMEDAY_TEST_TIMEOUT_SCALE", "1") or 1)


#: The repository this file belongs to.
REPO = Path(__file__).resolve().parents[1]
#: gameday's own runbook: a rewrite of the team's with the same facts (severities, clocks, commands).
SHIPPED_RUNBOOK = REPO / "runbooks" / "incident-response.md"
#: The team's runbook, mojibake and all: beside the clone when ``../shared`` is there, never inside it.
TEAM_RUNBOOK = REPO.parent / "shared" / "runbooks" / "incident-response.md"
_TRUE = {"1", "true", "yes"}


def kind_test_cluster(role: str) -> str:
    """The name of one of the kind clusters the tests and benchmarks make (``session``, ``workers``, ``bench``):
    written once, in ``tools/kind/test-clusters``, which ``tools/test.sh`` reads to remove stale ones."""
    for line in (REPO / "tools" / "kind" / "test-clusters").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields and not line.startswith("#") and fields[0] == role:
            return fields[1]
    raise KeyError(f"tools/kind/test-clusters names no {role!r} cluster")


def in_ci() -> bool:
    """True under CI (``CI=true``, as GitHub Actions, GitLab and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in _TRUE


def no_skips() -> str | None:
    """Why a skip is a failure in this run (``CI=true``, or ``GAMEDAY_NO_SKIPS=1`` from ``make test``), or None."""
    if in_ci():
        return "CI=true: CI installs everything, so a missing dependency is a failure"
    if os.environ.get("GAMEDAY_NO_SKIPS", "").strip().lower() in _TRUE:
        return "GAMEDAY_NO_SKIPS=1: make test promises every suite it runs, so a skip is a failure"
    return None


def require(available: bool, reason: str) -> None:
    """Skip (locally) or fail (``CI=true`` or ``GAMEDAY_NO_SKIPS=1``) the calling test or fixture when
    ``available`` is false."""
    if available:
        return
    why = no_skips()
    if why:
        pytest.fail(f"{reason} -- {why}", pytrace=False)
    pytest.skip(reason)


def mojibake(text: str) -> str:
    """``text`` damaged the way the team's runbook was: its UTF-8 bytes read as Windows-1252 (``→`` becomes
    ``â†’``, ``🚨`` becomes ``ðŸš¨``); the five bytes cp1252 leaves undefined pass through as C1 controls, as
    Windows decodes them (and as ``ftfy``, which repairs runbooks, expects)."""
    return "".join(_CP1252[byte] for byte in text.encode("utf-8"))


#: Windows-1252, one character per byte (cp1252 is a single-byte code)
_CP1252 = [bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)]


def write_mojibake_runbook(path: Path) -> Path:
    """The shipped runbook, damaged like the team's (:func:`mojibake`), written to ``path``."""
    path.write_text(mojibake(SHIPPED_RUNBOOK.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def scaled(seconds: float) -> float:
    return seconds * TIMEOUT_SCALE


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = DEFAULT_TIMEOUT_S, *,
             period: float = 0.3) -> T:
    """Poll ``condition()`` until it returns something truthy (returned); fail naming ``what`` otherwise."""
    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    last: object = None
    while True:
        last = condition()
        if last:
            return last  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {limit:g}s waiting for {what} (last: {last!r})", pytrace=False)
        time.sleep(period)


def never(condition: Callable[[], object], what: str, window: float = 2.0, *, period: float = 0.1) -> None:
    """Assert ``condition()`` stays falsy for ``window`` seconds, looking every ``period``; fail naming ``what``."""
    deadline = time.monotonic() + scaled(window)
    while True:
        seen = condition()
        if seen:
            pytest.fail(f"{what} happened (saw {seen!r})", pytrace=False)
        if time.monotonic() >= deadline:
            return
        time.sleep(period)


@contextlib.contextmanager
def small_tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``4m``) mounted at ``mount`` for a disk-full test; root only (CI runs as root)."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    require(done.returncode == 0, f"cannot mount a tmpfs (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@dataclass
class StandInDrill:
    """A drill whose runner is this test: its journal, its active-drill marker, and a war room on it."""

    journal: Path
    drill_id: str
    server: Any  # drills.warroom.server.WarRoomServer
    active: Any  # drills.warroom.drill_link.ActiveDrill


@contextlib.contextmanager
def stand_in_drill(tmp_path: Path, name: str, fault: str, *, scenario: dict[str, Any] | None = None,
                   opening: Callable[[str], Iterable[tuple[str, str, dict[str, Any]]]] | None = None,
                   ) -> Iterator[StandInDrill]:
    """A drill in progress without a target: the runner's opening events (``journal_started``,
    ``fault_injected``, then ``opening(drill_id)`` as (type, actor, data)), the marker that ``gameday drill log`` and
    the war room look for (under ``$GAMEDAY_STATE_DIR``, which the caller sets), and a war room serving it.
    For tests of the people's side (war room, many writers), where a real fault would only add waiting."""
    from drills.warroom.drill_link import announce, withdraw
    from drills.warroom.server import start_war_room
    from gameday.journal import EventType, JournalWriter
    from gameday.runbook import load_runbook

    started = datetime.now(UTC)
    drill_id = f"{name}-{started:%Y%m%dT%H%M%SZ}-s0"
    out = tmp_path / "out" / drill_id
    journal = out / "journal.jsonl"
    runbook = load_runbook()
    opened: dict[str, Any] = {"source": "drill", "time_scale": 60.0, "runbook": runbook.source, "target": "local",
                              "responder": "human", "drill_id": drill_id}
    if scenario is not None:
        opened["scenario"] = scenario
    with JournalWriter(journal, drill_id, start=started) as writer:
        writer.emit(EventType.journal_started, "runner", at=started, data=opened)
        writer.emit(EventType.fault_injected, "runner", {"fault": fault, "params": {}})
        for event_type, actor, data in opening(drill_id) if opening else ():
            writer.emit(EventType(event_type), actor, data)
    active = announce(drill_id=drill_id, incident=drill_id, journal=str(journal.resolve()), out_dir=str(out.resolve()),
                      target="local", scenario=name, time_scale=60.0, started_at=started, runner_pid=os.getpid())
    server = start_war_room(journal, runbook=runbook)
    try:
        yield StandInDrill(journal=journal, drill_id=drill_id, server=server, active=active)
    finally:
        server.stop()
        withdraw(active)


def cli_json(*args: object) -> Any:
    """``gameday ARGS…`` in-process (typer's runner), asserting exit 0; its stdout as JSON (progress goes to
    stderr).  The commands are registered on first use, as the ``gameday`` entry point does."""
    import json

    from typer.testing import CliRunner

    from gameday.cli import _register_commands, app

    if "simulate" not in {c.name for c in app.registered_commands}:
        _register_commands()
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def finish_drill(proc: subprocess.Popen[str], timeout: float) -> str:
    """A started ``gameday drill run``'s output once it ends; past ``timeout`` it gets SIGTERM (a drill's Ctrl-C:
    it reverts its faults) before the timeout is raised, so no test leaves a fault behind."""
    try:
        output, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
    return output


def patient_requests(app: str, n: int = 12) -> tuple[list[int], list[float]]:
    """``n`` patient-record requests one after another (the sandbox's app or the cluster's gateway): status codes
    (0: no answer) and seconds each."""
    import httpx

    codes, seconds = [], []
    with httpx.Client(timeout=15) as client:
        for i in range(n):
            start = time.monotonic()
            try:
                codes.append(client.get(f"{app}/api/patients/{i % 10 + 1}").status_code)
            except httpx.HTTPError:
                codes.append(0)
            seconds.append(time.monotonic() - start)
    return codes, seconds


def replica_metric(port: int, name: str) -> float | None:
    """One sample of a backend replica's own ``/metrics`` (None: no answer, or no such series)."""
    import httpx

    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    for line in body.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            return float(line.rsplit(" ", 1)[1])
    return None


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port whose connections the kernel accepts and nobody reads nor answers (a server gone silent
    behind a Service, a CPU-starved pod)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]
