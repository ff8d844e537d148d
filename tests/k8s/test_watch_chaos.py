"""The kubectl watch under chaos (issue #12): CPU load, the watch cut off while responders act, the API
server restarted meanwhile, and credentials that stop working.

Every ``kubectl`` action performed must be journaled exactly once (actor ``kubectl``); an outage is
journaled as a note when it starts and when the watch is back; 401/403 stops the watch with an error the
drill runner ends the drill with.  (tests/kind checks the same actions on a real kind cluster.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gameday_testkit import never, wait_for

from drills.k8s.watch import KubeWatch
from gameday.journal import EventType, JournalWriter, read_journal

pytestmark = pytest.mark.k8s
#: Deadline for one action to reach the journal (generous: CI is shared; bench_chaos reports the real lag).
ACTION_DEADLINE_S = float(os.environ.get("GAMEDAY_TEST_WATCH_DEADLINE", "60"))
FIGURES_ENV = "GAMEDAY_CHAOS_FIGURES"
#: How long the test control plane may take to roll a Deployment out (an API server restart slows it).
SETTLE_S = float(os.environ.get("GAMEDAY_TEST_ROLLOUT_WAIT", "300"))
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "example/web:v1"}]}}},
}  # fmt: skip


@pytest.fixture
def cpu_load() -> Iterator[None]:
    """A busy process taking a core (half of CI's), as `make demo` running beside the tests would."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])]
    try:
        yield
    finally:
        for burner in burners:
            burner.send_signal(signal.SIGKILL)
            burner.wait(10)


def kubectl(cp: Any, *args: str, namespace: str) -> str:
    return cp.kubectl(*args, "-n", namespace).stdout


def pods(cp: Any, namespace: str) -> list[str]:
    out = kubectl(cp, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}", namespace=namespace)
    return sorted(out.split())


def settle(cp: Any, namespace: str) -> None:
    kubectl(cp, "rollout", "status", "deployment/web", f"--timeout={SETTLE_S:g}s", namespace=namespace)


def actions_of(path: Path) -> list[dict[str, Any]]:
    return [e.data | {"actor": e.actor} for e in read_journal(path) if e.type is EventType.action]


class Recorder:
    """Performs kubectl actions and remembers what each should look like in the journal, and when."""

    def __init__(self, cp: Any, namespace: str, journal: Path) -> None:
        self.cp, self.namespace, self.journal = cp, namespace, journal
        self.expected: list[tuple[str, str, Callable[[dict[str, Any]], bool]]] = []
        self.lags: list[float] = []

    def act(self, what: str, args: list[str], match: Callable[[dict[str, Any]], bool], *, wait: bool = True) -> None:
        before = len([a for a in actions_of(self.journal) if match(a)])
        started = time.monotonic()
        kubectl(self.cp, *args, namespace=self.namespace)
        self.expected.append((what, " ".join(args), match))
        if wait:
            wait_for(lambda: len([a for a in actions_of(self.journal) if match(a)]) > before,
                     f"{what} in the journal", ACTION_DEADLINE_S, period=0.05)  # fmt: skip
            self.lags.append(time.monotonic() - started)


class PausableProxy:
    """A TCP relay between the watch and the API server that the test can cut: ``pause()`` drops every
    connection and refuses new ones while ``kubectl`` (which talks to the API server directly) goes on
    acting.  That is the window in which a watch that re-lists silently loses changes."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.paused = threading.Event()
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.paused.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()
                with self.lock:
                    self.open.discard(sock)

    def pause(self) -> None:
        self.paused.set()
        with self.lock:
            socks, self.open = list(self.open), set()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def resume(self) -> None:
        self.paused.clear()

    def close(self) -> None:
        self.pause()
        with contextlib.suppress(OSError):  # wakes the blocked accept(); close() alone does not on Linux
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._acceptor.join(5)


def proxied_client(cp: Any, proxy: PausableProxy) -> Any:
    """The admin client of the test kubeconfig, sent through ``proxy``."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(cp.kubeconfig), context="kind-gameday-test",
                            client_configuration=configuration)  # fmt: skip
    configuration.host = f"https://127.0.0.1:{proxy.port}"
    return client.ApiClient(configuration)


def test_every_kubectl_action_is_journaled_once_across_outages(
    k8s_control_plane: Any, namespace: str, tmp_path: Path, cpu_load: None
) -> None:
    """Live actions, actions made while the watch is cut off (it resumes from its resourceVersion), and
    actions made while it is cut off across an API server restart (its version is gone: 410, re-list and
    diff): each journaled once, under CPU load."""
    cp = k8s_control_plane
    (tmp_path / "web.json").write_text(json.dumps(DEPLOYMENT))
    kubectl(cp, "apply", "-f", str(tmp_path / "web.json"), namespace=namespace)
    settle(cp, namespace)
    kubectl(cp, "set", "image", "deployment/web", "web=example/web:v2", namespace=namespace)  # revision 2
    settle(cp, namespace)
    proxy = PausableProxy(cp.ports["apiserver"])
    api = proxied_client(cp, proxy)
    path = tmp_path / "journal.jsonl"
    journal = JournalWriter(path, "d-watch")
    watch = KubeWatch(api, namespace, journal)
    watch.start()
    rec = Recorder(cp, namespace, path)

    def caught_up() -> None:
        for what, _, match in rec.expected:
            wait_for(lambda m=match: [a for a in actions_of(path) if m(a)], f"{what} in the journal",
                     ACTION_DEADLINE_S, period=0.1)  # fmt: skip

    def delete_a_pod(what: str, *, wait: bool) -> None:
        victim = pods(cp, namespace)[0]
        rec.act(what, ["delete", "pod", victim, "--wait=false"],
                lambda a, v=victim: a["kind"] == "restart" and a["target"] == f"pod/{v}", wait=wait)

    try:
        assert watch.wait_ready(60), "the watch did not list its resources"
        rec.act("scale to 4", ["scale", "deployment/web", "--replicas=4"],
                lambda a: a["kind"] == "scale" and a.get("replicas") == 4)
        delete_a_pod("delete pod", wait=True)
        settle(cp, namespace)

        proxy.pause()  # the watch is cut off; kubectl is not
        delete_a_pod("delete pod while the watch is cut off", wait=False)
        rec.act("scale to 3 while the watch is cut off", ["scale", "deployment/web", "--replicas=3"],
                lambda a: a["kind"] == "scale" and a.get("replicas") == 3, wait=False)
        time.sleep(2)
        proxy.resume()
        caught_up()
        settle(cp, namespace)

        proxy.pause()
        delete_a_pod("delete pod while the watch is cut off, then an API server restart", wait=False)
        rec.act("rollout undo while the watch is cut off", ["rollout", "undo", "deployment/web"],
                lambda a: a["kind"] == "rollback" and a["target"] == "deployment/web", wait=False)
        settle(cp, namespace)  # the undo replaces every pod: the deleted one's ReplicaSet ends at 0
        cp.restart_apiserver()  # the watch's resourceVersions are gone from the new watch cache: 410
        proxy.resume()
        caught_up()
        settle(cp, namespace)

        rec.act("rollout restart", ["rollout", "restart", "deployment/web"],
                lambda a: a["kind"] == "restart" and a["target"] == "deployment/web")
        settle(cp, namespace)
        delete_a_pod("delete pod after it all", wait=True)
        settle(cp, namespace)
        never(lambda: len(actions_of(path)) > len(rec.expected) and actions_of(path),
              "an action journaled twice or one nobody made", window=6)  # fmt: skip
    finally:
        watch.stop()
        journal.close()
        api.close()
        proxy.close()

    actions = actions_of(path)
    counts = Counter(what for what, _, match in rec.expected for a in actions if match(a))
    assert all(counts[what] == 1 for what, _, _ in rec.expected), f"not exactly once: {counts}\n{actions}"
    assert len(actions) == len(rec.expected), f"unexpected actions: {actions}"
    assert {a["actor"] for a in actions} == {"kubectl"}
    notes = [e.data for e in read_journal(path) if e.type is EventType.note and e.actor == "kubewatch"]
    assert any("interrupted" in n["text"] for n in notes), f"the outage was not journaled: {notes}"
    assert any("is back" in n["text"] for n in notes), f"the recovery was not journaled: {notes}"
    assert watch.fatal is None and watch.recoveries, watch.recoveries
    figures = {"watch": "cut off twice (once across an API server restart), under CPU load",
               "actions": len(rec.expected), "missed": 0, "doubled": 0, "live_lag_s_max": round(max(rec.lags), 2),
               "live_lag_s": sorted(round(x, 2) for x in rec.lags), "outages": len(watch.recoveries)}  # fmt: skip
    if os.environ.get(FIGURES_ENV):
        with open(os.environ[FIGURES_ENV], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(figures) + "\n")


def token_client(cp: Any, token: str) -> Any:
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = cp.server
    configuration.ssl_ca_cert = str(cp.workdir / "ca.crt")
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


def test_refused_credentials_stop_the_watch_with_a_clear_error(
    k8s_control_plane: Any, namespace: str, tmp_path: Path
) -> None:
    """RBAC taken away mid-drill (403), and a token the server does not know (401)."""
    cp = k8s_control_plane
    kubectl(cp, "create", "serviceaccount", "watcher", namespace=namespace)
    kubectl(cp, "create", "role", "watcher", "--verb=get,list,watch",
            "--resource=deployments,replicasets,pods,events", namespace=namespace)  # fmt: skip
    kubectl(cp, "create", "rolebinding", "watcher", "--role=watcher", f"--serviceaccount={namespace}:watcher",
            namespace=namespace)  # fmt: skip
    token = kubectl(cp, "create", "token", "watcher", namespace=namespace).strip()

    path = tmp_path / "journal.jsonl"
    journal = JournalWriter(path, "d-rbac")
    api = token_client(cp, token)
    watch = KubeWatch(api, namespace, journal)
    watch.start()
    try:
        assert watch.wait_ready(60) and watch.fatal is None
        kubectl(cp, "delete", "rolebinding", "watcher", namespace=namespace)
        wait_for(lambda: watch.fatal, "the watch to give up on 403", 60)
    finally:
        watch.stop()
        api.close()
        journal.close()
    message = str(watch.fatal)
    assert "403" in message and namespace in message and "\n" not in message, message
    notes = [e.data["text"] for e in read_journal(path) if e.type is EventType.note]
    assert any("refused" in n for n in notes), notes

    bogus = token_client(cp, "not-a-token")
    watch = KubeWatch(bogus, namespace, JournalWriter(tmp_path / "bogus.jsonl", "d-401"))
    watch.start()
    try:
        assert not watch.wait_ready(60), "a watch with a bogus token claims to be ready"
        assert watch.fatal is not None and "401" in str(watch.fatal), watch.fatal
    finally:
        watch.stop()
        bogus.close()
