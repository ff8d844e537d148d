"""A real, throwaway Kubernetes control plane for tests: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok (fake node + pod lifecycle).

Why: the Kubernetes target must be tested against a real API server (admission,
controllers, rollouts, watches), but Docker images cannot be pulled here, so
kind cannot run. kwok plays the kubelet: it marks the fake node Ready and moves
pods through the lifecycle defined by the Stage files in ``kwok/stages``.

Everything lives in a temp dir, every port is a free port on 127.0.0.1, and
``stop()`` ends exactly the processes this object started.

Usable as a library (``TestControlPlane``, used by ``tests/k8s/conftest.py``)
or from a shell::

    python3 tools/k8s-testenv/k8s_testenv.py up   # prints KUBECONFIG=..., Ctrl-C stops
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES_DIR = HERE / "kwok" / "stages"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")

#: Context the tests act on; matches the target's default allowlist ``kind-*``.
TEST_CONTEXT = "kind-gameday-test"
#: Context that must be refused by the guardrails; points at a port nobody listens on.
PROD_CONTEXT = "prod-cluster"
#: Name of the fake node that kwok manages.
NODE_NAME = "kwok-node-0"
SERVICE_CIDR = "100.64.0.0/16"  # out of 10/8, 172.16/12, 192.168/16 (no traffic: kwok pods)


class ControlPlaneError(RuntimeError):
    """The test control plane could not be started or is unhealthy."""


def _mod_version(gomod: Path, module: str) -> str | None:
    """Return the version a go.mod requires for ``module`` (block or one-line form)."""
    for raw in gomod.read_text().splitlines():
        parts = raw.split()
        if len(parts) >= 3 and parts[0] == "require" and parts[1] == module:
            return parts[2]
        if len(parts) >= 2 and parts[0] == module and parts[1].startswith("v"):
            return parts[1]
    return None


def cache_bin_dir() -> Path:
    """Where build.sh puts the binaries for the versions pinned in go.mod."""
    k8s = _mod_version(HERE / "go.mod", "k8s.io/kubernetes")
    kwok = _mod_version(HERE / "go.mod", "sigs.k8s.io/kwok")
    graph = hashlib.sha256((HERE / "go.mod").read_bytes() + (HERE / "go.sum").read_bytes()).hexdigest()[:12]
    root = Path(os.environ.get("GAMEDAY_CACHE", "/var/cache/gameday"))
    return root / "k8s-testenv" / f"{k8s}-{kwok}-{graph}" / "bin"


def find_bin_dir() -> Path | None:
    """``$GAMEDAY_K8S_BIN`` if set, else the build cache; None when binaries are missing."""
    env = os.environ.get("GAMEDAY_K8S_BIN")
    candidate = Path(env) if env else cache_bin_dir()
    if all((candidate / b).is_file() and os.access(candidate / b, os.X_OK) for b in BINARIES):
        return candidate
    return None


def free_port() -> int:
    """A port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class TestControlPlane:
    """One control plane; ``start()`` then use ``kubeconfig``; always ``stop()``."""

    bin_dir: Path
    workdir: Path | None = None
    keep_workdir: bool = False
    ports: dict[str, int] = field(default_factory=dict)
    #: An audit policy for the API server (its log: ``audit_log``), as a gameday kind cluster has one.
    audit_policy: Path | None = None
    _procs: list[_Proc] = field(default_factory=list)
    _own_workdir: bool = False

    __test__ = False  # not a pytest test class despite the name

    # ---------------------------------------------------------------- paths
    @property
    def kubeconfig(self) -> Path:
        """Kubeconfig with contexts ``kind-gameday-test`` (current) and ``prod-cluster``."""
        assert self.workdir is not None
        return self.workdir / "kubeconfig"

    @property
    def admin_kubeconfig(self) -> Path:
        """Single-context kubeconfig used by the components themselves."""
        assert self.workdir is not None
        return self.workdir / "admin.kubeconfig"

    @property
    def audit_log(self) -> Path | None:
        """The API server's audit log (with ``audit_policy``)."""
        return self.workdir / "audit.log" if self.workdir is not None and self.audit_policy is not None else None

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    def bin(self, name: str) -> str:
        return str(self.bin_dir / name)

    # ---------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 120.0) -> None:
        """Start every component and wait until the API is ready and the node is Ready."""
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="gameday-k8s-"))
            self._own_workdir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        for name in ("etcd", "etcd_peer", "apiserver", "kcm", "scheduler", "kwok", "prod"):
            self.ports[name] = free_port()
        try:
            self._make_pki()
            self._write_kubeconfigs()
            deadline = time.monotonic() + timeout
            self._start_etcd()
            self._wait_http(f"http://127.0.0.1:{self.ports['etcd']}/health", "etcd", deadline, tls=False)
            self._start_apiserver()
            self._wait_http(f"{self.server}/readyz", "kube-apiserver", deadline)
            self._start_controller_manager()
            self._start_scheduler()
            self._start_kwok()
            self._create_node()
            self._wait_node_ready(deadline)
            self._wait_default_serviceaccount(deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the components this object started (newest first) and remove the temp dir."""
        for proc in reversed(self._procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=10)
        self._procs.clear()
        if self._own_workdir and not self.keep_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart_apiserver(self, down_seconds: float = 0.0, timeout: float = 120.0) -> None:
        """Stop kube-apiserver (SIGTERM), leave it down ``down_seconds``, start it again on the same port
        and wait until it is ready.  Clients see dropped connections and a fresh watch cache (an old
        resourceVersion may be answered with 410 Gone); etcd, and so every object, stays."""
        proc = next(p for p in self._procs if p.name == "kube-apiserver")
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait(timeout=10)
        self._procs.remove(proc)
        time.sleep(down_seconds)
        self._start_apiserver()
        self._wait_http(f"{self.server}/readyz", "kube-apiserver", time.monotonic() + timeout)

    def __enter__(self) -> TestControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- helpers
    def kubectl(
        self, *args: str, context: str = TEST_CONTEXT, check: bool = True, timeout: float = 360.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl against this control plane."""
        cmd = [self.bin("kubectl"), "--kubeconfig", str(self.kubeconfig), "--context", context, *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def log_tail(self, name: str, lines: int = 30) -> str:
        assert self.workdir is not None
        path = self.workdir / "logs" / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _spawn(self, name: str, args: list[str]) -> None:
        assert self.workdir is not None
        log = self.workdir / "logs" / f"{name}.log"
        with open(log, "wb") as fh:
            popen = subprocess.Popen(
                args,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                start_new_session=True,  # Ctrl-C in a terminal must not hit them before stop()
            )
        self._procs.append(_Proc(name, popen, log))

    def _check_alive(self) -> None:
        for proc in self._procs:
            if proc.popen.poll() is not None:
                raise ControlPlaneError(f"{proc.name} exited with {proc.popen.returncode}:\n{self.log_tail(proc.name)}")

    def _ssl_context(self) -> ssl.SSLContext:
        assert self.workdir is not None
        ctx = ssl.create_default_context(cafile=str(self.workdir / "ca.crt"))
        ctx.load_cert_chain(str(self.workdir / "admin.crt"), str(self.workdir / "admin.key"))
        return ctx

    def _wait_http(self, url: str, what: str, deadline: float, tls: bool = True) -> None:
        ctx = self._ssl_context() if tls else None
        last = ""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
                    body = resp.read().decode(errors="replace")
                    if resp.status == 200:
                        return
                    last = body
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.3)
        raise ControlPlaneError(f"{what} not ready at {url}: {last}\n{self.log_tail(what)}")

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        """Minimal JSON request to the API server (used before any client library is needed)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.server}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, context=self._ssl_context(), timeout=10) as resp:
            return json.loads(resp.read().decode())

    # ---------------------------------------------------------------- pki & config
    def _make_pki(self) -> None:
        """CA, API serving cert, admin client cert (system:masters), service-account key pair."""
        d = self.workdir
        assert d is not None
        _openssl("genrsa", "-out", "ca.key", "2048", cwd=d)
        _openssl("req", "-x509", "-new", "-nodes", "-key", "ca.key", "-days", "2",
                 "-subj", "/CN=gameday-test-ca", "-out", "ca.crt", cwd=d)  # fmt: skip
        (d / "apiserver.ext").write_text(
            "subjectAltName=IP:127.0.0.1,IP:100.64.0.1,DNS:localhost,DNS:kubernetes,"
            "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n"
            "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n"
        )
        (d / "client.ext").write_text("extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n")
        for name, subj, ext in (
            ("apiserver", "/CN=kube-apiserver", "apiserver.ext"),
            ("admin", "/O=system:masters/CN=gameday-admin", "client.ext"),
        ):
            _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=d)
            _openssl("req", "-new", "-key", f"{name}.key", "-subj", subj, "-out", f"{name}.csr", cwd=d)
            _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                     "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{name}.crt",
                     cwd=d)  # fmt: skip
        _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
        _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)

    def kubeconfig_dict(self, prod_server: str | None = None) -> dict:
        """Kubeconfig with the test context (current) and a ``prod-cluster`` context.

        ``prod-cluster`` points at ``prod_server`` (default: a free port nobody
        listens on) so a guardrail failure would show up as a connection error.
        """
        d = self.workdir
        assert d is not None
        prod = prod_server or f"https://127.0.0.1:{self.ports['prod']}"
        user = {"client-certificate-data": _b64(d / "admin.crt"), "client-key-data": _b64(d / "admin.key")}
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "gameday-test",
                    "cluster": {"server": self.server, "certificate-authority-data": _b64(d / "ca.crt")},
                },
                {
                    "name": "prod",
                    "cluster": {"server": prod, "certificate-authority-data": _b64(d / "ca.crt")},
                },
            ],
            "users": [{"name": "gameday-admin", "user": user}],
            "contexts": [
                {"name": TEST_CONTEXT, "context": {"cluster": "gameday-test", "user": "gameday-admin"}},
                {"name": PROD_CONTEXT, "context": {"cluster": "prod", "user": "gameday-admin"}},
            ],
            "current-context": TEST_CONTEXT,
        }

    def _write_kubeconfigs(self) -> None:
        full = self.kubeconfig_dict()
        self.kubeconfig.write_text(json.dumps(full, indent=2))
        admin = dict(full)
        admin["clusters"] = full["clusters"][:1]
        admin["contexts"] = full["contexts"][:1]
        self.admin_kubeconfig.write_text(json.dumps(admin, indent=2))

    # ---------------------------------------------------------------- components
    def _start_etcd(self) -> None:
        assert self.workdir is not None
        client = f"http://127.0.0.1:{self.ports['etcd']}"
        peer = f"http://127.0.0.1:{self.ports['etcd_peer']}"
        self._spawn("etcd", [
            self.bin("etcd"),
            "--name=gameday", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=gameday={peer}",
            "--unsafe-no-fsync=true",  # test data only; saves a lot of IO on CI
            "--log-level=warn",
        ])  # fmt: skip

    def _start_apiserver(self) -> None:
        d = self.workdir
        assert d is not None
        self._spawn("kube-apiserver", [
            self.bin("kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            # Endpoints may not be loopback addresses; nothing in-cluster calls the API via its Service.
            "--endpoint-reconciler-type=none",
            f"--secure-port={self.ports['apiserver']}",
            f"--cert-dir={d / 'apiserver-certs'}",
            f"--tls-cert-file={d / 'apiserver.crt'}", f"--tls-private-key-file={d / 'apiserver.key'}",
            f"--client-ca-file={d / 'ca.crt'}",
            f"--service-account-key-file={d / 'sa.pub'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            # Everything here works without a kubelet; NodeRestriction needs one.
            "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,"
            "DefaultTolerationSeconds,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
            "--profiling=false",
            "--v=1",
            *([f"--audit-policy-file={self.audit_policy}", f"--audit-log-path={self.audit_log}"]
              if self.audit_policy is not None else []),
        ])  # fmt: skip

    def _component_common(self, port: int) -> list[str]:
        kc = str(self.admin_kubeconfig)
        return [
            f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
            "--bind-address=127.0.0.1", f"--secure-port={port}", "--leader-elect=false", "--v=1",
        ]  # fmt: skip

    def _start_controller_manager(self) -> None:
        d = self.workdir
        assert d is not None
        self._spawn("kube-controller-manager", [
            self.bin("kube-controller-manager"),
            *self._component_common(self.ports["kcm"]),
            f"--cert-dir={d / 'kcm-certs'}",
            f"--service-account-private-key-file={d / 'sa.key'}",
            f"--root-ca-file={d / 'ca.crt'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--controllers=*",
            "--use-service-account-credentials=false",
            # Faster reactions for tests; the node heartbeats via a kwok-managed Lease.
            "--concurrent-deployment-syncs=5", "--concurrent-replicaset-syncs=5",
        ])  # fmt: skip

    def _start_scheduler(self) -> None:
        assert self.workdir is not None
        self._spawn("kube-scheduler", [
            self.bin("kube-scheduler"),
            *self._component_common(self.ports["scheduler"]),
            f"--cert-dir={self.workdir / 'scheduler-certs'}",
        ])  # fmt: skip

    def _start_kwok(self) -> None:
        assert self.workdir is not None
        docs = [p.read_text() for p in sorted(STAGES_DIR.glob("*.yaml"))]
        stages = self.workdir / "kwok-stages.yaml"
        stages.write_text("\n---\n".join(docs))
        self._spawn("kwok", [
            self.bin("kwok"),
            f"--config={stages}",
            f"--kubeconfig={self.admin_kubeconfig}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            # Fake addresses stay on loopback: nothing must ever be sent off-host.
            "--node-ip=127.0.0.1",
            "--cidr=127.10.0.1/16",
            f"--server-address=127.0.0.1:{self.ports['kwok']}",
            f"--node-port={self.ports['kwok']}",
            "--node-lease-duration-seconds=40",
        ])  # fmt: skip

    def _create_node(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            },
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
        }  # fmt: skip
        self.api("POST", "/api/v1/nodes", node)

    def _wait_node_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive()
            node = self.api("GET", f"/api/v1/nodes/{NODE_NAME}")
            conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
            taints = [t["key"] for t in node.get("spec", {}).get("taints", []) or []]
            if conds.get("Ready") == "True" and not any("not-ready" in t for t in taints):
                return
            time.sleep(0.5)
        raise ControlPlaneError(f"node {NODE_NAME} never became Ready\n{self.log_tail('kwok')}")

    def _wait_default_serviceaccount(self, deadline: float) -> None:
        """Pods are rejected by the ServiceAccount admission until this exists."""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                self.api("GET", "/api/v1/namespaces/default/serviceaccounts/default")
                return
            except urllib.error.HTTPError:
                time.sleep(0.5)
        raise ControlPlaneError(f"default service account never appeared\n{self.log_tail('kube-controller-manager')}")


def main(argv: list[str]) -> int:
    """``up``: start a control plane, print its kubeconfig, run until Ctrl-C/SIGTERM."""
    if len(argv) != 2 or argv[1] != "up":
        print(__doc__)
        return 2
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print(f"binaries missing: run tools/k8s-testenv/build.sh (looked in {cache_bin_dir()})", file=sys.stderr)
        return 1
    cp = TestControlPlane(bin_dir)
    stop = False

    def _handler(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    cp.start()
    print(f"export KUBECONFIG={cp.kubeconfig}  # contexts: {TEST_CONTEXT} (current), {PROD_CONTEXT}", flush=True)
    print(f"kubectl: {cp.bin('kubectl')}", flush=True)
    try:
        while not stop:
            time.sleep(0.5)
    finally:
        cp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
