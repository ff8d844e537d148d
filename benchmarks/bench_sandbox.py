"""Sandbox speed figures on a throwaway sandbox: cold ``up`` (initdb), warm ``down``/``up``, one rolling
rollout, and sustained requests per second through the Service with Locust for ~20 s.

Ports are offset (``GAMEDAY_BENCH_SANDBOX_OFFSET``, default 9000) so a developer's sandbox keeps running.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from drills.load.runner import start_load
from drills.sandbox.config import Ports, SandboxConfig
from drills.targets.local import LocalTarget
from gameday.scenario import LoadShape

OFFSET = int(os.environ.get("GAMEDAY_BENCH_SANDBOX_OFFSET", "9000"))
LOAD_SECONDS = float(os.environ.get("GAMEDAY_BENCH_LOAD_SECONDS", "20"))
USERS = int(os.environ.get("GAMEDAY_BENCH_USERS", "30"))


def timed(label: str, func: object) -> float:
    start = time.monotonic()
    func()  # type: ignore[operator]
    took = time.monotonic() - start
    print(f"{label:<34}{took:8.2f} s", flush=True)
    return took


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="gd-bench-") as tmp:
        cfg = SandboxConfig(state_dir=Path(tmp), ports=Ports().shifted(OFFSET))
        target = LocalTarget(cfg)
        try:
            timed("cold up (initdb, migrate, start)", target.up)
            timed("down", target.down)
            timed("warm up", target.up)
            timed("rolling rollout of 3 replicas", lambda: target.sandbox.rollout("v1.2.2", cause="bench"))
            handle = start_load(LoadShape(users=USERS, spawn_rate=USERS, wait_seconds=(0.0, 0.05)),
                                target.endpoints().app_url, Path(tmp) / "locust", duration_s=LOAD_SECONDS)
            handle.wait(timeout=LOAD_SECONDS + 60)
            stats = handle.stats()
            print(f"locust: {USERS} users for {LOAD_SECONDS:g} s through the Service "
                  f"({len(target.replicas())} replicas, PgBouncer pool {cfg.pgbouncer_pool_size})")
            print(f"  requests {stats.get('Request Count')}, failures {stats.get('Failure Count')}, "
                  f"{float(stats.get('Requests/s') or 0):.1f} req/s, p50 {stats.get('50%')} ms, "
                  f"p95 {stats.get('95%')} ms, p99 {stats.get('99%')} ms")
        finally:
            target.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
