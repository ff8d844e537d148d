"""A pod deletion the ReplicaSet counts attribute to the controller (a rollout's scale-down) is the controller's
only if its ``SuccessfulDelete`` event names the pod within the grace, else a person's ``kubectl delete pod``.

On a busy machine the controller manager's events came 1-2 s after its deletions; a 1.2 s grace journaled the
controller's rollout as a person's action (tests/kind, a loaded run).  Events here are real objects on the test
API server, created when a late controller would have recorded them.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from drills.k8s import watch as watch_module
from drills.k8s.watch import KubeWatch
from gameday.journal import EventType, JournalWriter, read_journal

pytestmark = pytest.mark.k8s


def _record_successful_delete(api: Any, namespace: str, pod: str) -> None:
    """What the ReplicaSet controller records after deleting ``pod``."""
    from kubernetes import client

    client.CoreV1Api(api).create_namespaced_event(namespace, client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name="web-rs."),
        involved_object=client.V1ObjectReference(kind="ReplicaSet", name="web-rs", namespace=namespace),
        reason="SuccessfulDelete", message=f"Deleted pod: {pod}", type="Normal",
        source=client.V1EventSource(component="replicaset-controller"),
    ))  # fmt: skip


def _judged(api: Any, namespace: str, tmp_path: Path, pod: str, event_after: float | None) -> tuple[list, float]:
    """Judge one deletion; the controller's event (if any) arrives ``event_after`` seconds later."""
    journal = JournalWriter(tmp_path / f"{pod}.jsonl", "d-judge")
    watch = KubeWatch(api, namespace, journal)
    watch.start()
    try:
        assert watch.wait_ready(30)
        start = time.monotonic()
        judge = threading.Thread(target=watch.attribution.unless_controller_deleted, args=(pod,))
        judge.start()
        if event_after is not None:
            time.sleep(event_after)
            _record_successful_delete(api, namespace, pod)
        judge.join(watch_module.CONTROLLER_EVENT_GRACE_S + 15)
        assert not judge.is_alive()
        took = time.monotonic() - start
    finally:
        watch.stop()
        journal.close()
    return [e.data for e in read_journal(journal.path) if e.type is EventType.action], took


def test_a_controller_event_two_seconds_late_still_makes_the_deletion_the_controllers(
        kube_api_client: Any, namespace: str, tmp_path: Path) -> None:
    actions, took = _judged(kube_api_client, namespace, tmp_path, "web-rs-late1", event_after=2.0)
    assert actions == [], "the controller's deletion was journaled as a person's"
    assert took < watch_module.CONTROLLER_EVENT_GRACE_S, "the verdict waited out the grace despite the event"


def test_no_controller_event_makes_the_deletion_a_persons(
        kube_api_client: Any, namespace: str, tmp_path: Path) -> None:
    actions, took = _judged(kube_api_client, namespace, tmp_path, "web-rs-person1", event_after=None)
    assert actions == [{"kind": "restart", "target": "pod/web-rs-person1", "detail": "pod deleted",
                        "manager": "kubectl"}]  # fmt: skip
    assert took >= watch_module.CONTROLLER_EVENT_GRACE_S
