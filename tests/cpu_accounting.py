"""CPU-seconds per test, read from the lane's cgroup v1 ``cpuacct`` group (``tools/test.sh`` makes one per lane).

Why: the three lanes share two cores, so wall-clock durations say more about the neighbours than about a test.
The lane's cgroup counts every process a test starts (a sandbox, a test control plane, ``gameday`` children,
daemons that outlive their parent), so a test's delta is what it cost the machine.  Enabled by
``GAMEDAY_TEST_CPUACCT`` (the group's directory); off, it does nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

#: how many of the costliest tests the summary lists
SHOWN = 40


def _usage_s(group: Path) -> float:
    return int((group / "cpuacct.usage").read_text()) / 1e9


class CpuAccounting:
    """Per test: the lane group's CPU-seconds across setup, call and teardown."""

    def __init__(self, group: Path) -> None:
        self.group = group
        self.start = _usage_s(group)
        self.per_test: dict[str, float] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        before = _usage_s(self.group)
        try:
            return (yield)
        finally:
            self.per_test[item.nodeid] = _usage_s(self.group) - before

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        total = _usage_s(self.group) - self.start
        terminalreporter.section(f"costliest {SHOWN} tests in CPU-seconds (cgroup {self.group.name})")
        for nodeid, cpu in sorted(self.per_test.items(), key=lambda kv: -kv[1])[:SHOWN]:
            terminalreporter.line(f"{cpu:8.1f} s  {nodeid}")
        per_file: dict[str, float] = {}
        for nodeid, cpu in self.per_test.items():
            per_file[nodeid.split("::")[0]] = per_file.get(nodeid.split("::")[0], 0.0) + cpu
        terminalreporter.line("per file:")
        for path, cpu in sorted(per_file.items(), key=lambda kv: -kv[1])[:SHOWN]:
            terminalreporter.line(f"{cpu:8.1f} s  {path}")
        terminalreporter.line(f"lane total: {total:.0f} CPU-s ({sum(self.per_test.values()):.0f} inside tests)")


def pytest_configure(config: pytest.Config) -> None:
    where = os.environ.get("GAMEDAY_TEST_CPUACCT")
    if where and (Path(where) / "cpuacct.usage").is_file():
        config.pluginmanager.register(CpuAccounting(Path(where)), "gameday-cpu-accounting")
