"""The backend "Service": one loopback URL in front of the replicas, so Locust and responders hit one
address.  Round robin over *ready* pods (from the kubelets' published state); when no pod is ready it
routes to every running pod (Envoy's "panic mode"), so a pool-exhausted fleet still answers with its own
5xx -- which is what the runbook's error-rate query must see -- instead of the proxy hiding them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from drills.sandbox.kubelet import load_config
from drills.sandbox.paths import Layout

REFRESH_S = 0.5
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "host",
               "content-length"}


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
    client = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=1.0),
                               limits=httpx.Limits(max_connections=500, max_keepalive_connections=100))

    async def proxy(request: Request) -> Response:
        port = endpoints.pick()
        if port is None:
            return JSONResponse({"error": "no endpoints available for service backend"}, status_code=503)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        url = f"http://127.0.0.1:{port}{request.url.path}"
        if request.url.query:
            url += f"?{request.url.query}"
        try:
            upstream = await client.request(request.method, url, headers=headers, content=await request.body())
        except httpx.HTTPError as exc:
            return JSONResponse({"error": f"upstream connect error: {type(exc).__name__}"}, status_code=503)
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS
                       and k.lower() != "content-encoding"}
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", proxy, methods=methods)])


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
