"""Shared test fixtures: where the seed and shipped runbooks live, and no silent skips where every suite is
promised.  Shared helpers (``require``, ``wait_for``, ``never``) are in ``gameday_testkit.py`` beside this file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gameday_testkit import TEAM_RUNBOOK, no_skips, write_mojibake_runbook

#: CPU-seconds per test when ``tools/test.sh`` gives the lane a cpuacct group (``GAMEDAY_TEST_CPUACCT``)
pytest_plugins = ["cpu_accounting", "clean_exit"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """An environment installed before the entry points existed would fail every CLI test obscurely."""
    from gameday.plugins import COMMANDS, STALE_INSTALL, group

    if not group(COMMANDS):
        pytest.exit(STALE_INSTALL, returncode=3)


# -- a skip is a failure under CI=true and GAMEDAY_NO_SKIPS=1 (make test) -----------------------------------

def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A skipped test fails, naming the skip's reason, when this run promises every suite (``require`` already
    fails there; this catches ``pytest.skip``, ``skipif`` and ``importorskip`` too).  An expected failure
    (``xfail``) is a verdict, not a skip, and stays as it is."""
    report = yield
    why = no_skips()
    if why is not None and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped ({_reason(report)}) -- {why}"
    return report


#: modules skipped whole (a module-level ``importorskip``) in a run that promises every suite
_skipped_modules: list[str] = []


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A module skipped whole is kept for the end (an error here would stop the collection of the rest)."""
    if report.skipped and no_skips() is not None:
        _skipped_modules.append(f"{report.nodeid}: {_reason(report)}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_modules and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_modules:
        terminalreporter.section("skipped modules (a failure here)", red=True)
        for line in _skipped_modules:
            terminalreporter.line(f"{line} -- {no_skips()}")


# -- runbooks ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def mojibake_runbook_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gameday's own runbook damaged the way the team's file arrived (UTF-8 read as cp1252: ``â†’`` for ``→``),
    in a temporary folder: the team's text is never copied into the repo."""
    return write_mojibake_runbook(tmp_path_factory.mktemp("runbook") / "seed-runbook.md")


@pytest.fixture(scope="session")
def seed_runbook_path(mojibake_runbook_path: Path) -> Path:
    """The team's real runbook, mojibake and all, when ``../shared`` is beside the clone (CI); in a fresh
    clone without it, the shipped rewrite (same facts) damaged the same way, so nothing is skipped."""
    return TEAM_RUNBOOK if TEAM_RUNBOOK.exists() else mojibake_runbook_path
