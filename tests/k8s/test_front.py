"""The HTTPS front with real TLS: uvicorn serving drills/k8s/front.py on 127.0.0.1 with the certificate of
drills/k8s/tls.py, clients that trust only that CA, and real upstreams on loopback -- the API through the
real gateway (drills/service/gateway.py) to a FastAPI backend, Prometheus itself (Debian's 2.42, as in the
cluster's image) for the Prometheus host and the dashboard's query proxy.

The runbook's three URLs, with the port of this test's front: ``/alerts`` ends on Prometheus' real alerts
page, the dashboard page and its query API answer, ``curl -I .../health`` reads 200; an unknown host is
refused.  The end-to-end proof on kind (127.0.0.1:443, plain curl once trusted) is tests/kind's.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from gameday_testkit import require, wait_for

from drills.k8s import dashboard, endpoints
from drills.k8s.front import (
    HEALTH_PATH,
    NODE_PORT,
    FrontConfig,
    RunbookHosts,
    create_app,
    front_objects,
    hostnames,
    runbook_urls,
    runbook_urls_answer,
)
from drills.k8s.tls import TlsFiles, ensure_tls, tls_secret

WORLD = RunbookHosts()
API, PROM, GRAFANA = WORLD.api_host, WORLD.prometheus_host, WORLD.grafana_host


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A uvicorn server in a thread (stopped by ``should_exit``), optionally with TLS."""

    def __init__(self, app: Any, **ssl_args: Any) -> None:
        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="on", **ssl_args))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        wait_for(lambda: self.server.started, f"uvicorn on 127.0.0.1:{self.port}", timeout=20)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_tls("gameday-fronttest", hostnames(WORLD), tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus itself, scraping nothing but itself (its own series answer the dashboard's queries)."""
    binary = shutil.which("prometheus")
    require(binary is not None, "prometheus not installed (make system-deps)")
    work = tmp_path_factory.mktemp("prometheus")
    port = _free_port()
    (work / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs: [{{job_name: self, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}]\n"
        "rule_files: [rules.yml]\n")
    (work / "rules.yml").write_text(  # one alert that always fires, so the alerts page has something to show
        "groups: [{name: t, rules: [{alert: FrontTestAlwaysFiring, expr: vector(1)}]}]\n")
    proc = subprocess.Popen([str(binary), f"--config.file={work / 'prometheus.yml'}",
                             f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=(work / "log").open("w"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get_ok(f"{url}/-/ready"), "Prometheus ready", timeout=60)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    """The real gateway in front of a FastAPI backend whose /health is GET-only, as the real backend's."""
    from fastapi import FastAPI

    from drills.service.gateway import create_app as gateway_app

    backend = FastAPI()
    seen: list[str] = []

    @backend.get("/health")
    async def health() -> dict[str, str]:
        seen.append("health")
        return {"status": "healthy"}

    with Server(backend) as api, Server(gateway_app(lambda: f"http://127.0.0.1:{api.port}")) as gw:
        yield f"http://127.0.0.1:{gw.port}"


@pytest.fixture(scope="module")
def front(tls: TlsFiles, gateway: str, prometheus: str) -> Iterator[int]:
    config = FrontConfig.for_world(WORLD, gateway_url=gateway, prometheus_url=prometheus)
    with Server(create_app(config), ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key)) as server:
        yield server.port


def _client(tls: TlsFiles, port: int) -> httpx.Client:
    """Trusts only the cluster's CA; every runbook host reaches the test's front (real SNI and Host)."""
    context = ssl.create_default_context(cafile=str(tls.ca_cert))
    return httpx.Client(transport=_ResolveTo(context, port), timeout=15, follow_redirects=False)


class _ResolveTo(httpx.HTTPTransport):
    """Connects to 127.0.0.1:<port> whatever the URL's host; TLS still verifies the URL's host name."""

    def __init__(self, context: ssl.SSLContext, port: int) -> None:
        super().__init__(verify=context)
        self.port = port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions = {**request.extensions, "sni_hostname": request.url.host}
        host = request.url.host
        request.url = request.url.copy_with(host="127.0.0.1", port=self.port)
        request.headers["host"] = host
        return super().handle_request(request)


def _curl(tls: TlsFiles, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """curl as the runbook runs it, with --resolve standing in for /etc/hosts and --cacert for the trust store."""
    resolve = [a for h in hostnames(WORLD) for a in ("--resolve", f"{h}:{port}:127.0.0.1")]
    return subprocess.run(["curl", "-sS", "--cacert", str(tls.ca_cert), *resolve, *args], capture_output=True,
                          text=True, timeout=30)


def _url(name: str, port: int) -> str:
    return runbook_urls(WORLD)[name].replace(".com/", f".com:{port}/", 1)


def test_curl_head_on_the_health_url_reads_200_through_the_gateway(tls: TlsFiles, front: int) -> None:
    result = _curl(tls, front, "-I", _url("health", front))
    assert result.returncode == 0, result.stderr
    status = result.stdout.splitlines()[0]
    assert status.split()[1] == "200", result.stdout  # the backend answers HEAD with 405; the front asks GET
    assert "content-length:" in result.stdout.lower()
    body = _curl(tls, front, _url("health", front))
    assert json.loads(body.stdout) == {"status": "healthy"}


def test_alerts_url_ends_on_prometheus_real_alerts_page(tls: TlsFiles, front: int) -> None:
    result = _curl(tls, front, "-L", "-w", "\n%{http_code} %{url_effective}", _url("alerts", front))
    assert result.returncode == 0, result.stderr
    page, _, last = result.stdout.rpartition("\n")
    code, effective = last.split()
    assert code == "200" and effective.endswith(("/alerts", "/classic/alerts")), last
    assert "<h1>Alerts</h1>" in page or "alerts" in page.lower()
    assert effective.startswith(f"https://{PROM}:{front}/")  # the redirect stays on the runbook's host
    wait_for(lambda: "FrontTestAlwaysFiring" in _curl(tls, front, "-L", _url("alerts", front)).stdout,
             "the firing alert on the proxied alerts page", timeout=30)
    # and the rest of Prometheus: its API on the same host
    api = _curl(tls, front, f"https://{PROM}:{front}/api/v1/query?query=up")
    assert json.loads(api.stdout)["status"] == "success"


def test_dashboard_page_its_files_and_its_query_proxy(tls: TlsFiles, front: int) -> None:
    with _client(tls, front) as client:
        page = client.get(_url("dashboard", front))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "http://" not in page.text and "https://" not in page.text.replace(
            f"https://{PROM}{WORLD.alerts_path}", "")  # nothing from elsewhere
        config = json.loads(page.text.split('type="application/json">', 1)[1].split("</script>", 1)[0])
        queries = {s["query"] for p in config["panels"] for s in p["series"]}
        assert {dashboard.ERROR_RATE, dashboard.REQUEST_RATE, dashboard.P95_LATENCY} <= queries
        assert any("pgbouncer_pools_client_waiting_connections" in q for q in queries)
        assert any("kube_pod_status_ready" in q for q in queries)
        for name in dashboard.STATIC:
            static = client.get(f"https://{GRAFANA}:{front}/-/dashboard/{name}")
            assert static.status_code == 200 and static.content == (dashboard.HERE / name).read_bytes()
        assert client.get(f"https://{GRAFANA}:{front}/-/dashboard/../__init__.py").status_code == 404
        end = time.time()

        def answered() -> list[Any]:
            r = client.get(f"https://{GRAFANA}:{front}/api/v1/query_range",
                           params={"query": "up", "start": end - 60, "end": time.time(), "step": 1})
            assert r.status_code == 200, r.text
            return r.json()["data"]["result"]

        assert wait_for(answered, "Prometheus' own series through the dashboard's query proxy", timeout=30)
        bad = client.get(f"https://{GRAFANA}:{front}/api/v1/query_range", params={"query": "sum("})
        assert bad.status_code == 400 and bad.json()["status"] == "error"  # Prometheus' own error, relayed
        # the Grafana host is not a second door to the whole of Prometheus
        assert client.get(f"https://{GRAFANA}:{front}/api/v1/status/config").status_code == 404
        assert client.get(f"https://{GRAFANA}:{front}/").headers["location"] == WORLD.dashboard_path


def test_an_unknown_host_is_refused_with_one_line(tls: TlsFiles, front: int) -> None:
    # a name the certificate does not hold fails the handshake ...
    with _client(tls, front) as client, pytest.raises(httpx.ConnectError, match=r"(?i)certificate|hostname"):
        client.get(f"https://other.hospital-erp.example.com:{front}/")
    # ... and a Host header the front does not serve (the TLS name being a valid one) is 421
    result = _curl(tls, front, "-H", "Host: elsewhere.example.org", "-w", "\n%{http_code}",
                   f"https://{API}:{front}/health")
    body, _, code = result.stdout.rpartition("\n")
    assert code == "421" and body.count("\n") == 1 and "unknown host 'elsewhere.example.org'" in body
    assert _curl(tls, front, f"https://{API}:{front}{HEALTH_PATH}").stdout == "ok\n"


def test_the_front_cannot_be_reached_without_its_ca(front: int) -> None:
    """A client with only the public roots refuses the front: the certificate really is the local CA's."""
    result = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--resolve", f"{API}:{front}:127.0.0.1",
                             f"https://{API}:{front}/health"], capture_output=True, text=True, timeout=30)
    if result.returncode == 0:
        pytest.skip("this machine already trusts the test CA")  # only if someone trusted it by hand
    assert "certificate" in result.stderr.lower()


def test_front_objects_for_the_lead_to_add_to_the_stack(tls: TlsFiles) -> None:
    deployment, service = front_objects(WORLD)
    assert {deployment["metadata"]["namespace"], service["metadata"]["namespace"]} == {WORLD.namespace}
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["python", "-m", "drills.k8s.front"]
    assert container["ports"] == [{"name": "https", "containerPort": 8443}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PROMETHEUS_URL"] == "http://prometheus-operated.monitoring.svc:9090"
    assert env["GATEWAY_URL"] == f"http://gateway.{WORLD.namespace}.svc:80"
    assert env["API_HOST"] == API and env["DASHBOARD_PATH"] == WORLD.dashboard_path
    secret = tls_secret(tls, WORLD.namespace)
    assert pod["volumes"][0]["secret"]["secretName"] == secret["metadata"]["name"]
    assert secret["type"] == "kubernetes.io/tls" and set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert service["spec"]["ports"][0]["nodePort"] == NODE_PORT == endpoints.HTTPS_NODE_PORT
    # the kind config maps that NodePort to 127.0.0.1:443, for the user's cluster and the test suite's alike
    from drills.k8s.cluster import kind_config

    for name in ("gameday", "gameday-e2e"):
        mappings = kind_config("img", local_node=True, name=name)["nodes"][0]["extraPortMappings"]
        assert {"containerPort": NODE_PORT, "hostPort": 443, "listenAddress": "127.0.0.1"} in mappings


def test_the_front_ships_in_the_tools_image_with_what_it_imports() -> None:
    """front.py and the dashboard import nothing of gameday (the image has no gameday package)."""
    for path in [Path(dashboard.__file__), Path(dashboard.__file__).parents[1] / "front.py"]:
        assert "from gameday" not in path.read_text() and "import gameday" not in path.read_text()


def test_runbook_urls_answer_tells_what_answers(tls: TlsFiles, front: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper tests/kind uses; here the names resolve through a stand-in resolver to this front."""
    real = socket.getaddrinfo

    def loopback(host: str, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host in hostnames(WORLD) else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback)
    assert runbook_urls_answer(WORLD, cafile=str(tls.ca_cert), port=front) == {
        "health": "", "alerts": "", "dashboard": "", "dashboard query": ""}
    wrong = runbook_urls_answer(WORLD, port=front)  # the system store does not know the test CA
    assert all("CERTIFICATE_VERIFY_FAILED" in v for v in wrong.values()), wrong
