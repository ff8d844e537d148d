"""Session-scoped real Kubernetes control plane (etcd + apiserver + controllers + kwok).

The binaries come from ``tools/k8s-testenv/build.sh`` (cached outside the repo) or
``$GAMEDAY_K8S_BIN``. Tests here are skipped only when Go or those binaries are
absent on a developer's machine; with ``CI=true`` that fails the run (CI builds them), and anything
else that goes wrong is a failure everywhere.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from gameday_testkit import require, wait_for

REPO = Path(__file__).resolve().parents[2]
TESTENV_PY = REPO / "tools" / "k8s-testenv" / "k8s_testenv.py"


def _load_testenv() -> ModuleType:
    """Load tools/k8s-testenv/k8s_testenv.py by path (tools/ is not a package)."""
    name = "gameday_k8s_testenv"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TESTENV_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


testenv = _load_testenv()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "k8s: needs the real Kubernetes test control plane (tools/k8s-testenv)")


def _skip_reason() -> str | None:
    if testenv.find_bin_dir() is not None:
        return None
    go = shutil.which("go") or (Path("/usr/local/go/bin/go") if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        return "Go toolchain absent, so the k8s test binaries cannot be built (tools/k8s-testenv/build.sh)"
    return f"k8s test binaries not built: run tools/k8s-testenv/build.sh (looked in {testenv.cache_bin_dir()})"


@pytest.fixture(scope="session")
def k8s_testenv_module() -> ModuleType:
    """The same module for tests of its pure logic (cache paths): nothing needs to be built."""
    return testenv


@pytest.fixture(scope="session")
def k8s_testenv() -> ModuleType:
    """The tools/k8s-testenv/k8s_testenv.py module, for tests that start their own control plane."""
    reason = _skip_reason()
    require(reason is None, reason or "")
    return testenv


@pytest.fixture(scope="session")
def k8s_control_plane() -> Iterator[object]:
    """A running control plane with a Ready kwok node; stopped at session end."""
    reason = _skip_reason()
    require(reason is None, reason or "")
    import yaml

    from drills.k8s import audit

    policy = Path(tempfile.mkdtemp(prefix="gameday-audit-")) / audit.POLICY_NAME
    policy.write_text(yaml.safe_dump(audit.POLICY), encoding="utf-8")
    cp = testenv.TestControlPlane(testenv.find_bin_dir(), audit_policy=policy)
    cp.start()
    # the audit log of pod deletions, as a gameday kind cluster keeps one (drills/k8s/audit.py)
    previous = os.environ.get(audit.AUDIT_LOG_ENV)
    os.environ[audit.AUDIT_LOG_ENV] = str(cp.audit_log)
    try:
        yield cp
    finally:
        if previous is None:
            os.environ.pop(audit.AUDIT_LOG_ENV, None)
        else:
            os.environ[audit.AUDIT_LOG_ENV] = previous
        cp.stop()
        shutil.rmtree(policy.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def erp_stack(k8s_control_plane: Any) -> Iterator[Any]:
    """The Hospital-ERP manifests applied server-side with kubectl, as a person would, and rolled out.

    One per module, on a namespace of its own lifetime: it waits out an earlier module's namespace still
    terminating (an apply into it meets that module's field managers and objects being deleted) and deletes
    its own before the next module starts.
    """
    import yaml

    from drills.k8s.objects import default_world
    from drills.k8s.stack import render

    world = default_world()
    namespaces = (world.namespace, world.monitoring_namespace)
    cp = k8s_control_plane
    wait_for(lambda: all(cp.kubectl("get", "namespace", ns, check=False).returncode != 0 for ns in namespaces),
             "an earlier module's namespaces to finish terminating", timeout=120)  # fmt: skip
    rendered = cp.workdir / "erp-stack.yaml"
    rendered.write_text(yaml.safe_dump_all(render(world), sort_keys=False), encoding="utf-8")
    cp.kubectl("apply", "--server-side", "-f", str(rendered))
    cp.kubectl("rollout", "status", f"deployment/{world.backend_deployment}", "-n", world.namespace, "--timeout=120s")
    yield cp
    cp.kubectl("delete", "namespace", *namespaces, "--timeout=120s", check=False, timeout=150)


@pytest.fixture(scope="session")
def kubeconfig(k8s_control_plane: object) -> Path:
    """Path of a kubeconfig with contexts ``kind-gameday-test`` and ``prod-cluster``."""
    return k8s_control_plane.kubeconfig  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def kube_api_client(kubeconfig: Path) -> Iterator[object]:
    """Official-client ApiClient for the test context."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(kubeconfig), context=testenv.TEST_CONTEXT)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def namespace(kube_api_client: object) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        core.delete_namespace(name)


ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    require(ALERTMANAGER is not None, "Alertmanager not installed (Debian package prometheus-alertmanager)")
    assert ALERTMANAGER is not None
    port = _free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: drill\nreceivers:\n- name: drill\n")
    proc = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
