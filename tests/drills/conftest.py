"""Shared fixtures for drill tests: one real local sandbox per test session (``shared_sandbox``).

It runs on its own ports (``GAMEDAY_TEST_SANDBOX_OFFSET``, default 5000) and in a temporary state dir, so
it never touches a developer's sandbox nor the per-test sandboxes of the end-to-end drill tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from gameday_testkit import require
from sandbox_helpers import SHARED_OFFSET, SharedSandbox, sandbox_tools_missing


@pytest.fixture(scope="session")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedSandbox]:
    missing = sandbox_tools_missing()
    require(not missing, f"sandbox services not installed: {', '.join(missing)} (make system-deps)")
    from drills.sandbox.config import Ports, SandboxConfig
    from drills.targets.local import LocalTarget
    from gameday.errors import TargetError

    state = tmp_path_factory.mktemp("shared-state")
    # another test session on this machine may hold the first offset's ports: take the next free one
    for offset in (SHARED_OFFSET, SHARED_OFFSET + 200, SHARED_OFFSET + 400, SHARED_OFFSET + 600):
        cfg = SandboxConfig(state_dir=state, ports=Ports().shifted(offset))
        target = LocalTarget(cfg)
        try:
            target.up()
            break
        except TargetError as exc:
            if "already in use" not in str(exc):
                raise
    else:
        pytest.fail("no free port offset for the shared sandbox")
    env = {**os.environ, "GAMEDAY_STATE_DIR": str(state), "GAMEDAY_SANDBOX_PORT_OFFSET": str(offset),
           "GAMEDAY_ACTOR": "tester"}
    try:
        yield SharedSandbox(target=target, env=env)
    finally:
        target.down()
