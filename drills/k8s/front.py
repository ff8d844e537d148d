"""The HTTPS front: the runbook's three URLs on 127.0.0.1:443 (``python -m drills.k8s.front`` in the
``gameday/cluster-tools`` image, Deployment ``front``).

Why: in a game day people paste their runbook's commands verbatim, so
``open https://prometheus.<domain>/alerts``, ``open https://grafana.<domain>/d/system-overview`` and
``curl -I https://api.<domain>/health`` must answer on this machine.  kind maps the front's NodePort to
127.0.0.1:443, ``/etc/hosts`` maps the names to 127.0.0.1 (drills/k8s/hosts.py), the certificate comes from a
per-cluster CA (drills/k8s/tls.py).  Routing is by the Host header:

- the API host -> the ingress gateway Service (so the runbook's error rate counts these requests too);
- the Prometheus host -> the Prometheus Service, every path (``/alerts``, ``/graph``, ``/api/v1/...``);
- the Grafana host -> gameday's own dashboard page (drills/k8s/dashboard; Grafana itself is AGPL) at the
  dashboard path, and ``/api/v1/query_range`` proxied to Prometheus on the same origin;
- any other host -> 421 with one line.

This module ships in the image: it imports no ``gameday`` module (and neither does drills/k8s/dashboard).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

NAME = "front"
IMAGE = "gameday/cluster-tools:v1"
#: The TLS Secret the pod mounts (drills/k8s/tls.py: tls_secret()).
TLS_SECRET = "gameday-front-tls"
TLS_MOUNT = "/etc/gameday/front-tls"
LISTEN_PORT = 8443
#: = drills.k8s.endpoints.HTTPS_NODE_PORT (kind maps it to 127.0.0.1:443); repeated here because this module
#: ships in the image without endpoints.py (tests/k8s/test_front.py checks they agree).
NODE_PORT = 30443
GATEWAY_SERVICE, GATEWAY_PORT = "gateway", 80
#: Answered for any Host (the kubelet's probe names the pod's IP), outside every upstream's URL space.
HEALTH_PATH = "/-/front/healthz"
STATIC_PREFIX = "/-/dashboard/"
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "host",
               "content-length", "accept-encoding", "proxy-authorization", "proxy-authenticate", "trailer"}
#: Prometheus' React pages; Debian's 2.42 build (our gameday/prometheus image) has only the classic UI,
#: under /classic/..., and answers 404 here: the front sends the browser to the classic page instead.
REACT_PAGES = {"/alerts", "/graph", "/rules", "/targets", "/status", "/flags", "/config", "/service-discovery",
               "/tsdb-status"}
QUERY_PATHS = {"/api/v1/query_range", "/api/v1/query"}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class WorldLike(Protocol):
    """What the front needs of the runbook's world (gameday.runbook.world.World has these fields)."""

    @property
    def prometheus_host(self) -> str: ...
    @property
    def grafana_host(self) -> str: ...
    @property
    def api_host(self) -> str: ...
    @property
    def alerts_path(self) -> str: ...
    @property
    def dashboard_path(self) -> str: ...
    @property
    def health_path(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def monitoring_namespace(self) -> str: ...
    @property
    def prometheus_service(self) -> str: ...
    @property
    def prometheus_port(self) -> int: ...


@dataclass(frozen=True)
class RunbookHosts:
    """The runbook world's fields the front uses, with the team runbook's values (a stand-in for
    gameday.runbook.world.World where no runbook is at hand: tests, ``gameday cluster hosts``)."""

    prometheus_host: str = "prometheus.hospital-erp.example.com"
    grafana_host: str = "grafana.hospital-erp.example.com"
    api_host: str = "api.hospital-erp.example.com"
    alerts_path: str = "/alerts"
    dashboard_path: str = "/d/system-overview"
    health_path: str = "/health"
    namespace: str = "hospital-erp-system"
    monitoring_namespace: str = "monitoring"
    prometheus_service: str = "prometheus-operated"
    prometheus_port: int = 9090


def hostnames(world: WorldLike) -> tuple[str, ...]:
    """The names the certificate and /etc/hosts carry, in the runbook's order, without a port, once each."""
    names = [h.rsplit(":", 1)[0].lower() for h in (world.prometheus_host, world.grafana_host, world.api_host)]
    return tuple(dict.fromkeys(names))


def runbook_urls(world: WorldLike) -> dict[str, str]:
    """The three URLs of the runbook, as people type them."""
    return {"alerts": f"https://{world.prometheus_host}{world.alerts_path}",
            "dashboard": f"https://{world.grafana_host}{world.dashboard_path}",
            "health": f"https://{world.api_host}{world.health_path}"}  # fmt: skip


def runbook_urls_answer(world: WorldLike, cafile: str | None = None, port: int | None = None,
                        timeout: float = 10.0) -> dict[str, str]:  # fmt: skip
    """What is wrong with each runbook URL ("" where it answers as the runbook expects): the health check's
    HEAD is 200, /alerts ends (redirects followed) on Prometheus' alerts page, the dashboard page and its
    query API answer.  TLS is verified against the system store (``cafile``: that CA only); ``port`` is for
    tests (the runbook's URLs have none).  For the end-to-end check on kind (tests/kind)."""
    import http.client
    import ssl
    from urllib.parse import urlsplit

    context = ssl.create_default_context(cafile=cafile)

    def fetch(url: str, method: str = "GET", hops: int = 5) -> tuple[int, str, str]:
        parts = urlsplit(url)
        conn = http.client.HTTPSConnection(parts.hostname or "", port or parts.port or 443, timeout=timeout,
                                           context=context)
        try:
            conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""))
            response = conn.getresponse()
            body = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        location = response.getheader("location")
        if response.status in (301, 302, 303, 307, 308) and location and hops:
            return fetch(location if "://" in location else f"https://{parts.netloc}{location}", method, hops - 1)
        return response.status, url, body

    urls = runbook_urls(world)
    checks = {
        "health": lambda: fetch(urls["health"], "HEAD")[0] == 200 or "HEAD is not 200",
        "alerts": lambda: (lambda r: (r[0] == 200 and "alert" in r[2].lower()) or f"{r[0]} at {r[1]}")(
            fetch(urls["alerts"])),
        "dashboard": lambda: (lambda r: (r[0] == 200 and "dashboard-config" in r[2]) or f"{r[0]} at {r[1]}")(
            fetch(urls["dashboard"])),
        "dashboard query": lambda: (lambda r: (r[0] == 200 and '"success"' in r[2]) or f"{r[0]}: {r[2][:120]}")(
            fetch(f"https://{world.grafana_host}/api/v1/query_range?query=vector(1)&start=0&end=60&step=15")),
    }
    found: dict[str, str] = {}
    for name, check in checks.items():
        try:
            verdict = check()
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            verdict = f"{type(exc).__name__}: {exc}"
        found[name] = "" if verdict is True else str(verdict)
    return found


# -- configuration ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontConfig:
    """Where each host goes.  In the pod it comes from the environment (:meth:`from_env`)."""

    api_host: str
    prometheus_host: str
    grafana_host: str
    dashboard_path: str
    gateway_url: str
    prometheus_url: str
    namespace: str = "hospital-erp-system"
    alerts_path: str = "/alerts"

    @classmethod
    def for_world(cls, world: WorldLike, gateway_url: str | None = None,
                  prometheus_url: str | None = None) -> FrontConfig:  # fmt: skip
        """Upstreams default to the Services' cluster DNS names."""
        return cls(
            api_host=world.api_host.lower(), prometheus_host=world.prometheus_host.lower(),
            grafana_host=world.grafana_host.lower(), dashboard_path=world.dashboard_path,
            gateway_url=gateway_url or f"http://{GATEWAY_SERVICE}.{world.namespace}.svc:{GATEWAY_PORT}",
            prometheus_url=prometheus_url or (f"http://{world.prometheus_service}.{world.monitoring_namespace}.svc:"
                                              f"{world.prometheus_port}"),
            namespace=world.namespace, alerts_path=world.alerts_path,
        )  # fmt: skip

    def env(self) -> dict[str, str]:
        return {"API_HOST": self.api_host, "PROMETHEUS_HOST": self.prometheus_host, "GRAFANA_HOST": self.grafana_host,
                "DASHBOARD_PATH": self.dashboard_path, "GATEWAY_URL": self.gateway_url,
                "PROMETHEUS_URL": self.prometheus_url, "APP_NAMESPACE": self.namespace,
                "ALERTS_PATH": self.alerts_path}  # fmt: skip

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> FrontConfig:
        env = dict(os.environ if env is None else env)
        missing = [k for k in ("API_HOST", "PROMETHEUS_HOST", "GRAFANA_HOST", "GATEWAY_URL", "PROMETHEUS_URL")
                   if not env.get(k)]
        if missing:
            raise SystemExit(f"front: missing environment {', '.join(missing)}")
        return cls(api_host=env["API_HOST"].lower(), prometheus_host=env["PROMETHEUS_HOST"].lower(),
                   grafana_host=env["GRAFANA_HOST"].lower(), dashboard_path=env.get("DASHBOARD_PATH") or "/",
                   gateway_url=env["GATEWAY_URL"].rstrip("/"), prometheus_url=env["PROMETHEUS_URL"].rstrip("/"),
                   namespace=env.get("APP_NAMESPACE", "hospital-erp-system"),
                   alerts_path=env.get("ALERTS_PATH", "/alerts"))  # fmt: skip


# -- the application ----------------------------------------------------------------------------------------


def _host(request: Request) -> str:
    host = request.headers.get("host", "").strip().lower()
    if host.startswith("["):  # an IPv6 literal: no runbook host
        return host
    return host.rsplit(":", 1)[0] if ":" in host else host


def create_app(config: FrontConfig, client: httpx.AsyncClient | None = None) -> Starlette:
    """The front's ASGI app (TLS is uvicorn's)."""
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Route

    from drills.k8s import dashboard

    http = client or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0), follow_redirects=False,
                                       limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
    page = dashboard.render_page(dashboard.page_config(
        namespace=config.namespace, prometheus_url=f"https://{config.prometheus_host}{config.alerts_path}"))
    served = f"{config.api_host}, {config.prometheus_host}, {config.grafana_host}"

    async def forward(base: str, request: Request, path: str | None = None) -> httpx.Response:
        """One request upstream.  HEAD goes up as GET: the backend (FastAPI) answers HEAD with 405, while
        ``curl -I .../health`` must read 200 as for any web server; the body is dropped on the way back."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        client_host = request.client.host if request.client else ""
        prior = request.headers.get("x-forwarded-for")
        headers.update({"x-forwarded-proto": "https", "x-forwarded-host": request.headers.get("host", ""),
                        "x-forwarded-for": f"{prior}, {client_host}" if prior else client_host})
        url = f"{base}{path if path is not None else request.url.path}"
        if request.url.query:
            url += f"?{request.url.query}"
        method = "GET" if request.method == "HEAD" else request.method
        return await http.request(method, url, headers=headers, content=await request.body())

    def relay(upstream: httpx.Response, base: str, request: Request) -> Response:
        out = {k: v for k, v in upstream.headers.items()
               if k.lower() not in HOP_HEADERS and k.lower() not in ("content-encoding", "date", "server")}
        location = out.get("location")
        if location and location.startswith(base):  # an absolute redirect to the upstream's own address
            out["location"] = f"https://{request.headers.get('host', '')}{location[len(base):]}"
        body = b"" if request.method == "HEAD" else upstream.content
        response = Response(body, status_code=upstream.status_code, headers=out)
        if request.method == "HEAD":
            response.headers["content-length"] = str(len(upstream.content))
        return response

    async def proxied(base: str, request: Request, what: str) -> Response:
        try:
            upstream = await forward(base, request)
        except httpx.HTTPError as exc:
            return PlainTextResponse(f"front: {what} unreachable ({type(exc).__name__})\n", status_code=502)
        if (upstream.status_code == 404 and base == config.prometheus_url and request.method in ("GET", "HEAD")
                and request.url.path.rstrip("/") in REACT_PAGES):
            classic = f"/classic{request.url.path.rstrip('/')}"
            try:
                probe = await http.get(f"{base}{classic}")
            except httpx.HTTPError:
                probe = None
            if probe is not None and probe.status_code == 200:
                query = f"?{request.url.query}" if request.url.query else ""
                return RedirectResponse(classic + query, status_code=302)
        return relay(upstream, base, request)

    async def grafana(request: Request) -> Response:
        path = request.url.path
        if path in (config.dashboard_path, config.dashboard_path.rstrip("/") + "/") and request.method in ("GET",
                                                                                                           "HEAD"):
            return Response(page, media_type="text/html; charset=utf-8",
                            headers={"cache-control": "no-store", "content-security-policy": dashboard.CSP})
        if path == "/" and request.method in ("GET", "HEAD"):
            return RedirectResponse(config.dashboard_path, status_code=302)
        if path.startswith(STATIC_PREFIX):
            found = dashboard.static_file(path[len(STATIC_PREFIX):])
            if found is None:
                return PlainTextResponse(f"front: no dashboard file {path}\n", status_code=404)
            return Response(found[0], media_type=found[1], headers={"cache-control": "no-cache"})
        if path in QUERY_PATHS and request.method in ("GET", "POST"):
            return await proxied(config.prometheus_url, request, "Prometheus")
        return PlainTextResponse(f"front: {config.grafana_host} serves the dashboard {config.dashboard_path} "
                                 f"and Prometheus' query API only\n", status_code=404)  # fmt: skip

    async def route(request: Request) -> Response:
        if request.url.path == HEALTH_PATH:
            return PlainTextResponse("ok\n")
        host = _host(request)
        if host == config.api_host:
            return await proxied(config.gateway_url, request, "the API gateway")
        if host == config.prometheus_host:
            return await proxied(config.prometheus_url, request, "Prometheus")
        if host == config.grafana_host:
            return await grafana(request)
        return PlainTextResponse(f"front: unknown host {host!r}; this front serves {served}\n", status_code=421)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        if client is None:
            await http.aclose()

    return Starlette(routes=[Route("/{path:path}", route, methods=METHODS)], lifespan=lifespan)


# -- the Kubernetes objects -----------------------------------------------------------------------------------


def front_objects(world: WorldLike, *, image: str = IMAGE, node_port: int = NODE_PORT,
                  secret: str = TLS_SECRET) -> list[dict[str, Any]]:  # fmt: skip
    """The front's Deployment and NodePort Service in the app namespace; the pod mounts the TLS Secret
    ``secret`` (drills/k8s/tls.py: ``tls_secret()`` makes it; it must exist before the pod can start)."""
    config = FrontConfig.for_world(world)
    labels = {"app": NAME, "app.kubernetes.io/part-of": "hospital-erp", "app.kubernetes.io/component": "front"}
    env = [{"name": k, "value": v} for k, v in sorted(config.env().items())]
    env += [{"name": "TLS_CERT", "value": f"{TLS_MOUNT}/tls.crt"}, {"name": "TLS_KEY", "value": f"{TLS_MOUNT}/tls.key"},
            {"name": "PORT", "value": str(LISTEN_PORT)}]  # fmt: skip
    probe = {"httpGet": {"path": HEALTH_PATH, "port": "https", "scheme": "HTTPS"}, "periodSeconds": 2}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": world.namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "containers": [{
                        "name": NAME, "image": image, "imagePullPolicy": "IfNotPresent",
                        "command": ["python", "-m", "drills.k8s.front"],
                        "env": env,
                        "ports": [{"name": "https", "containerPort": LISTEN_PORT}],
                        "readinessProbe": probe,
                        "volumeMounts": [{"name": "tls", "mountPath": TLS_MOUNT, "readOnly": True}],
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                    }],
                    "volumes": [{"name": "tls", "secret": {"secretName": secret, "defaultMode": 0o440}}],
                    "securityContext": {"runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534},
                },
            },
        },
    }  # fmt: skip
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": world.namespace, "labels": labels},
        "spec": {"type": "NodePort", "selector": {"app": NAME},
                 "ports": [{"name": "https", "port": 443, "targetPort": "https", "nodePort": node_port}]},
    }  # fmt: skip
    return [deployment, service]


# -- the pod's entry point -------------------------------------------------------------------------------------


def main() -> int:
    import uvicorn

    config = FrontConfig.from_env()
    cert, key = os.environ.get("TLS_CERT", f"{TLS_MOUNT}/tls.crt"), os.environ.get("TLS_KEY", f"{TLS_MOUNT}/tls.key")
    for path in (cert, key):
        if not Path(path).is_file():
            print(f"front: {path} missing (the TLS Secret {TLS_SECRET} is not mounted)", file=sys.stderr)
            return 2
    port = int(os.environ.get("PORT", str(LISTEN_PORT)))
    print("front: " + json.dumps({"listen": port, **config.env()}), flush=True)
    uvicorn.run(create_app(config), host="0.0.0.0", port=port, ssl_certfile=cert, ssl_keyfile=key,
                log_level="warning", access_log=False, proxy_headers=False)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
