"""The backend "Service": one loopback URL in front of the replicas, so Locust and responders hit one
address.  The gateway (drills/service/gateway.py: round robin over ready pods, panic mode, its own 503s
counted) with the replicas read from the kubelets' published state.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from starlette.applications import Starlette

from drills.sandbox.kubelet import load_config
from drills.sandbox.paths import Layout
from drills.service import gateway

REFRESH_S = 0.5


class Endpoints:
    """Pod addresses, re-read from the pods folder at most every ``REFRESH_S``."""

    def __init__(self, pods_dir: Path) -> None:
        self.pods_dir = pods_dir
        self._at = 0.0
        self._ready: list[int] = []
        self._running: list[int] = []
        self._counter = itertools.count()

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._at < REFRESH_S:
            return
        self._at = now
        ready, running = [], []
        for path in sorted(self.pods_dir.glob("*.json")):
            try:
                pod = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if pod.get("state") == "Running":
                running.append(int(pod["port"]))
                if pod.get("ready"):
                    ready.append(int(pod["port"]))
        self._ready, self._running = ready, running

    def pick(self) -> int | None:
        self._refresh()
        pool = self._ready or self._running
        if not pool:
            return None
        return pool[next(self._counter) % len(pool)]


def create_app(home: Path) -> Starlette:
    endpoints = Endpoints(Layout(home).pods)

    def pick() -> str | None:
        port = endpoints.pick()
        return None if port is None else f"http://127.0.0.1:{port}"

    return gateway.create_app(pick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="drills.sandbox.lb")
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    cfg = load_config(args.home)
    import uvicorn

    uvicorn.run(create_app(args.home), host="127.0.0.1", port=cfg.ports.service, log_level="warning",
                access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
