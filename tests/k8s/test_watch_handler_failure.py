"""A handler of the kubectl watch that raises does not lose the responder's action (issue #20).

Three one-off failures on the test control plane, one per kind of handler step: the Deployment handler's own
code (a bug), the journal refusing the action's write (a full disk), and the pod handler's read of the
ReplicaSet (the API failing mid-judgement).  Each change is handed over again once the watch resumes from the
last change it handled, so each action is journaled exactly once; each failure and its retry are journaled
as notes, and none is taken for an outage.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from gameday_testkit import never, wait_for

from drills.k8s import attribution as attribution_module
from drills.k8s.attribution import Attribution
from drills.k8s.informer import HANDLER_ATTEMPTS
from drills.k8s.watch import KubeWatch
from gameday.errors import JournalError
from gameday.journal import EventType, JournalWriter, read_journal

pytestmark = pytest.mark.k8s
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "example/web:v1"}]}}},
}  # fmt: skip


def once(real: Any, error: BaseException, when: Any = lambda *a, **k: True) -> tuple[Any, threading.Event]:
    """``real`` that raises ``error`` the first time ``when(*args)`` holds; the event says it did."""
    raised = threading.Event()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not raised.is_set() and when(*args, **kwargs):
            raised.set()
            raise error
        return real(*args, **kwargs)

    return wrapper, raised


def test_an_action_whose_handler_raised_once_is_journaled_once(
        k8s_control_plane: Any, kube_api_client: Any, namespace: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cp = k8s_control_plane

    def kubectl(*args: str) -> str:
        return cp.kubectl(*args, "-n", namespace).stdout

    (tmp_path / "web.json").write_text(json.dumps(DEPLOYMENT))
    kubectl("apply", "-f", str(tmp_path / "web.json"))
    kubectl("rollout", "status", "deployment/web", "--timeout=120s")
    path = tmp_path / "journal.jsonl"
    journal = JournalWriter(path, "d-handler")
    watch = KubeWatch(kube_api_client, namespace, journal)

    def actions() -> list[dict[str, Any]]:
        return [e.data for e in read_journal(path) if e.type is EventType.action]

    def journaled(match: Any) -> list[dict[str, Any]]:
        return [a for a in actions() if match(a)]

    watch.start()
    try:
        assert watch.wait_ready(60)
        # 1. The Deployment handler's own code fails (a bug) on the first change it classifies.
        classify, raised = once(attribution_module.classify_deployment_change, RuntimeError("a bug"))
        monkeypatch.setattr(attribution_module, "classify_deployment_change", classify)
        kubectl("scale", "deployment/web", "--replicas=3")
        wait_for(lambda: journaled(lambda a: a.get("replicas") == 3), "scale to 3 in the journal", 60)
        assert raised.is_set()

        # 2. The journal refuses the action's write once (a full disk for a moment).
        emit, raised = once(journal.emit, JournalError(path, None, "no space left on device (test)"),
                            when=lambda kind, *a, **k: kind is EventType.action)  # fmt: skip
        monkeypatch.setattr(journal, "emit", emit)
        kubectl("scale", "deployment/web", "--replicas=4")
        wait_for(lambda: journaled(lambda a: a.get("replicas") == 4), "scale to 4 in the journal", 60)
        assert raised.is_set()
        kubectl("rollout", "status", "deployment/web", "--timeout=120s")

        # 3. The pod handler's read of the ReplicaSet fails mid-judgement.
        judge, raised = once(Attribution._wanted_by_replicaset, ConnectionResetError("the API went away (test)"))
        monkeypatch.setattr(Attribution, "_wanted_by_replicaset", judge)
        victim = kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}").strip()
        kubectl("delete", "pod", victim, "--wait=false")
        wait_for(lambda: journaled(lambda a: a["target"] == f"pod/{victim}"), f"delete pod {victim} in the journal", 60)
        assert raised.is_set()
        never(lambda: len(actions()) > 3 and actions(), "an action journaled twice", window=4)
    finally:
        watch.stop()
        journal.close()

    counts = Counter(a["target"] + (f" -> {a['replicas']}" if "replicas" in a else "") for a in actions())
    assert counts == {"deployment/web -> 3": 1, "deployment/web -> 4": 1, f"pod/{victim}": 1}, actions()
    assert {a["kind"] for a in actions()} == {"scale", "restart"}
    failures = watch.handler_failures
    assert [(f["watch"], f["attempt"], f["gave_up"]) for f in failures] == [
        ("deployments", 1, False), ("deployments", 1, False), ("pods", 1, False)], failures
    notes = [e.data["text"] for e in read_journal(path) if e.type is EventType.note and e.actor == "kubewatch"]
    assert sum("failed (" in n and "handled again" in n for n in notes) == 3, notes
    assert sum("handled on attempt 2" in n for n in notes) == 3, notes
    assert not [n for n in notes if "interrupted" in n or "caught up" in n], "a handler's failure taken for an outage"
    assert watch.recoveries == [] and watch.fatal is None


def test_a_change_whose_handler_always_raises_is_given_up_on_aloud_and_the_watch_goes_on(
        k8s_control_plane: Any, kube_api_client: Any, namespace: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler that fails on one change every time does not stall the watch: after HANDLER_ATTEMPTS the
    change is committed unhandled, a note says so, and the next action is journaled."""
    cp = k8s_control_plane

    def kubectl(*args: str) -> str:
        return cp.kubectl(*args, "-n", namespace).stdout

    (tmp_path / "web.json").write_text(json.dumps(DEPLOYMENT))
    kubectl("apply", "-f", str(tmp_path / "web.json"))
    real = attribution_module.classify_deployment_change

    def classify(old: Any, new: Any, *args: Any) -> Any:
        if new["spec"]["replicas"] == 3:
            raise RuntimeError("a bug that never goes away")
        return real(old, new, *args)

    monkeypatch.setattr(attribution_module, "classify_deployment_change", classify)
    path = tmp_path / "journal.jsonl"
    journal = JournalWriter(path, "d-give-up")
    watch = KubeWatch(kube_api_client, namespace, journal)
    watch.start()
    try:
        assert watch.wait_ready(60)
        kubectl("scale", "deployment/web", "--replicas=3")
        wait_for(lambda: [f for f in watch.handler_failures if f["gave_up"]], "the watch to give up", 60)
        kubectl("scale", "deployment/web", "--replicas=4")
        wait_for(lambda: [e for e in read_journal(path) if e.type is EventType.action], "scale to 4 in the journal",
                 60)  # fmt: skip
    finally:
        watch.stop()
        journal.close()
    assert [e.data["replicas"] for e in read_journal(path) if e.type is EventType.action] == [4]
    attempts = [(f["attempt"], f["gave_up"]) for f in watch.handler_failures]
    assert attempts == [(n, n == HANDLER_ATTEMPTS) for n in range(1, HANDLER_ATTEMPTS + 1)], attempts
    notes = [e.data["text"] for e in read_journal(path) if e.type is EventType.note and e.actor == "kubewatch"]
    assert sum("gave up on that change" in n for n in notes) == 1, notes
