"""The war room's remediation buttons on a Kubernetes drill: the button reaches the drill's own cluster (the
context and kubeconfig its runner used, checked against the allowlist again), really changes it, and the
action lands in the journal with the participant as actor."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gameday_testkit import wait_for

from drills.k8s.objects import default_world
from drills.k8s.stack import backend_image
from drills.k8s.target import KubernetesTarget
from drills.warroom import requests as rq
from drills.warroom.actions import Room
from drills.warroom.drill_link import announce, withdraw
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.releases import HEALTHY, LEAKY
from gameday.remediations import Remediation
from gameday.scenario import Fault, FaultType

WORLD = default_world()  # the shipped runbook's names: deployment, selector, namespaces
BACKEND, NAMESPACE = WORLD.backend_deployment, WORLD.namespace

pytestmark = pytest.mark.k8s
CONTEXT = "kind-gameday-test"




@pytest.fixture
def room(erp_stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Room, KubernetesTarget]]:
    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path / "state"))
    target = KubernetesTarget(CONTEXT, kubeconfig=erp_stack.kubeconfig, kubectl=erp_stack.bin("kubectl"))
    target.wait_ready(120)
    started = datetime.now(UTC)
    journal = tmp_path / "out" / "d1" / "journal.jsonl"
    with JournalWriter(journal, "d1", start=started) as writer:
        writer.emit(EventType.journal_started, "runner", at=started, data={"source": "drill", "time_scale": 60.0,
                                                                       "target": "kubernetes", "drill_id": "d1"})
    active = announce(drill_id="d1", incident="d1", journal=str(journal), out_dir=str(journal.parent),
                      target="kubernetes", scenario="connection-pool-leak", time_scale=60.0, started_at=started,
                      runner_pid=os.getpid(),
                      target_options={"context": CONTEXT, "kubeconfig": str(erp_stack.kubeconfig)})
    try:
        yield Room(journal), target
    finally:
        withdraw(active)
        for record in target.pending_injections():
            target.revert(record)
        target.wait_ready(120)
        target.close()


def test_rollback_and_knob_buttons_act_on_the_cluster(room: tuple[Room, KubernetesTarget]) -> None:
    war_room, target = room
    target.inject(Fault(type=FaultType.connection_pool_leak), drill_id="d1")
    wait_for(lambda: target.rollout_history()[-1:] == [LEAKY.version], "the leak's revision", timeout=60)

    event = war_room.perform(rq.Remediate(type="remediate", action=Remediation.rollback, actor="alice"))
    assert (event.type, event.actor, event.data["kind"]) == (EventType.action, "alice", "rollback")
    image = target.apps.read_namespaced_deployment(BACKEND, NAMESPACE).spec.template.spec.containers[0].image
    assert image == backend_image(HEALTHY)

    target.inject(Fault(type=FaultType.slow_queries), drill_id="d1")
    assert target.knobs()["query_latency_s"] == 1.2
    war_room.perform(rq.Remediate(type="remediate", action=Remediation.kill_slow_queries, actor="bob"))
    assert target.knobs()["query_latency_s"] == 0.0
    actions = [(e.actor, e.data["kind"]) for e in read_journal(war_room.journal) if e.type is EventType.action]
    assert actions == [("alice", "rollback"), ("bob", "kill-slow-queries")]


def test_a_marker_naming_a_refused_context_reaches_nothing(room: tuple[Room, KubernetesTarget],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    war_room, _ = room
    monkeypatch.setenv("GAMEDAY_KUBE_ALLOWED_CONTEXTS", "prod-*")
    with pytest.raises(rq.RequestRefused) as refused:
        war_room.perform(rq.Remediate(type="remediate", action="rollback", actor="alice"))
    assert refused.value.status == 409 and "refusing kube context" in refused.value.message
    assert not [e for e in read_journal(war_room.journal) if e.type is EventType.action]
