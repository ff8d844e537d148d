"""Who deleted a pod, from the API server's audit log (drills/k8s/audit.py): a controller's scale-down is never a
person's ``kubectl delete pod``, even once client-go's spam filter has stopped the ReplicaSet's events (25 per
object, then one per 5 minutes), which the event-based inference relied on."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from gameday_testkit import never, wait_for
from test_watch_chaos import DEPLOYMENT

from drills.k8s.audit import AuditTail, log_for, parse
from drills.k8s.watch import KubeWatch
from gameday.journal import EventType, JournalWriter, read_journal


def _line(name: str, agent: str, user: str = "kubernetes-admin", *, code: int = 200, at: datetime | None = None,
          namespace: str = "erp") -> str:  # fmt: skip
    return json.dumps({
        "kind": "Event", "verb": "delete", "userAgent": agent, "user": {"username": user},
        "objectRef": {"resource": "pods", "namespace": namespace, "name": name, "apiVersion": "v1"},
        "responseStatus": {"code": code},
        "requestReceivedTimestamp": (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    })  # fmt: skip


def test_the_agent_and_user_tell_a_person_from_a_component() -> None:
    kubectl = parse(_line("web-1", "kubectl/v1.37.2 (linux/amd64) kubernetes/abc"))
    controller = parse(_line("web-2", "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/abc/system:"
                             "serviceaccount:kube-system:replicaset-controller", "system:serviceaccount:kube-system:"
                             "replicaset-controller"))  # fmt: skip
    kwok_final = parse(_line("web-1", "kwok/v0.8.0", "gameday-admin"))
    ours = parse(_line("web-3", "gameday/0.1.0", "kubernetes-admin"))
    k9s = parse(_line("web-4", "k9s/v0.40", "kubernetes-admin"))
    assert kubectl and kubectl.by_person and k9s and k9s.by_person
    assert controller and not controller.by_person
    assert kwok_final and not kwok_final.by_person and ours and not ours.by_person
    assert parse(_line("web-5", "kubectl/v1.37.2", code=404)) is None  # nothing was deleted
    assert parse('{"verb": "delete", "objectRef": {"resource": "pods", "subresource": "eviction"}}') is None
    assert parse("{torn") is None


def test_the_tail_reads_only_what_comes_after_its_start_and_survives_torn_lines_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text(_line("old", "kubectl/v1") + "\n", encoding="utf-8")
    tail = AuditTail(path, "erp").start()
    try:
        seen = datetime.now(UTC)
        whole = _line("web-1", "kubectl/v1")
        with path.open("a", encoding="utf-8") as handle:  # a line written in two pieces
            handle.write(whole[:40])
            handle.flush()
            time.sleep(0.3)
            handle.write(whole[40:] + "\n" + _line("web-1", "kubectl/v1", namespace="other") + "\n")
        assert tail.by_person("web-1", seen, wait_s=3) is True
        assert tail.by_person("old", seen - timedelta(seconds=60), wait_s=0.3) is None  # before the tail began
        path.rename(tmp_path / "audit.log.1")  # rotated: the new file is read from its start
        path.write_text(_line("web-2", "kube-controller-manager/v1.37.2", "system:serviceaccount:x") + "\n",
                        encoding="utf-8")  # fmt: skip
        assert tail.by_person("web-2", seen, wait_s=3) is False
    finally:
        tail.stop()


def test_a_kind_context_names_the_log_of_the_cluster_gameday_made(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("GAMEDAY_KUBE_AUDIT_LOG", raising=False)
    monkeypatch.setenv("GAMEDAY_CACHE", str(tmp_path))
    assert log_for("kind-drill") is None  # a cluster without a log (made elsewhere, or before gameday kept one)
    (tmp_path / "kind" / "clusters" / "drill" / "audit").mkdir(parents=True)
    assert log_for("kind-drill") == tmp_path / "kind" / "clusters" / "drill" / "audit" / "audit.log"
    assert log_for("prod-cluster") is None
    monkeypatch.setenv("GAMEDAY_KUBE_AUDIT_LOG", str(tmp_path / "x.log"))
    assert log_for("prod-cluster") == tmp_path / "x.log"


@pytest.mark.k8s
def test_scale_downs_past_the_event_spam_filter_stay_the_controllers(
        k8s_control_plane: Any, kube_api_client: Any, namespace: str, tmp_path: Path) -> None:  # fmt: skip
    cp = k8s_control_plane
    assert cp.audit_log is not None

    def kubectl(*args: str) -> str:
        return str(cp.kubectl(*args, "-n", namespace).stdout)

    manifest = tmp_path / "web.json"
    manifest.write_text(json.dumps(DEPLOYMENT), encoding="utf-8")
    kubectl("apply", "-f", str(manifest))
    kubectl("rollout", "status", "deployment/web", "--timeout=120s")
    journal = JournalWriter(tmp_path / "drill.jsonl", "d-audit")
    watch = KubeWatch(kube_api_client, namespace, journal, audit_log=cp.audit_log)
    watch.start()

    def restarts() -> list[dict[str, Any]]:
        actions = (e.data for e in read_journal(journal.path) if e.type is EventType.action)
        return [a for a in actions if a["kind"] == "restart"]

    try:
        assert watch.wait_ready(30)
        cycles = 14  # 28 events about one ReplicaSet: past the filter's burst of 25
        for _ in range(cycles):
            kubectl("scale", "deployment/web", "--replicas=4")
            kubectl("rollout", "status", "deployment/web", "--timeout=120s")
            kubectl("scale", "deployment/web", "--replicas=3")
            wait_for(lambda: len(kubectl("get", "pods", "-l", "app=web", "-o", "name").split()) == 3,
                     "the scale-down's deletion", timeout=60)  # fmt: skip
        events = json.loads(kubectl("get", "events", "--field-selector", "reason=SuccessfulDelete", "-o", "json"))
        named = sum(int(e.get("count") or 1) for e in events["items"])
        assert named < cycles, f"the spam filter let every event through ({named}): the case is not the one tested"
        pod = kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}").strip()
        kubectl("delete", "pod", pod, "--wait=false")
        found = wait_for(restarts, "the person's pod deletion", timeout=20)
        assert found == [{"kind": "restart", "target": f"pod/{pod}", "detail": "pod deleted", "manager": "kubectl"}]
        never(lambda: len(restarts()) > 1, "a controller's deletion journaled as a person's", 3)
    finally:
        watch.stop()
        journal.close()
