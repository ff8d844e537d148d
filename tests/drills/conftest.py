"""Shared fixtures for drill tests: one real local sandbox per test session (``shared_sandbox``).

It runs on its own ports (``GAMEDAY_TEST_SANDBOX_OFFSET``, default 5000) and in a temporary state dir, so
it never touches a developer's sandbox nor the per-test sandboxes of the end-to-end drill tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sandbox_helpers import SHARED_OFFSET, SharedSandbox, sandbox_tools_missing


@pytest.fixture(scope="session")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedSandbox]:
    missing = sandbox_tools_missing()
    if missing:
        pytest.skip(f"sandbox services not installed: {', '.join(missing)} (make system-deps)")
    from drills.sandbox.config import Ports, SandboxConfig
    from drills.targets.local import LocalTarget

    state = tmp_path_factory.mktemp("shared-state")
    cfg = SandboxConfig(state_dir=state, ports=Ports().shifted(SHARED_OFFSET))
    env = {**os.environ, "GAMEDAY_STATE_DIR": str(state), "GAMEDAY_SANDBOX_PORT_OFFSET": str(SHARED_OFFSET),
           "GAMEDAY_ACTOR": "tester"}
    target = LocalTarget(cfg)
    target.up()
    try:
        yield SharedSandbox(target=target, env=env)
    finally:
        target.down()
