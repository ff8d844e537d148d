"""The war room's remediation buttons, every one of the catalogue (``gameday/remediations.py``): the page offers
the catalogue's labels, each button reaches the drill's target with the catalogue's name, and the journal gets
the catalogue's kind.  A stand-in target records what it is asked (the real targets: tests/k8s and
test_browser.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from warroom_helpers import LiveRoom

from drills.warroom import requests as rq
from drills.warroom.actions import Room
from gameday.errors import InputError
from gameday.journal import EventType, read_journal
from gameday.remediations import CATALOGUE, Remediation


class Recorder:
    def __init__(self, calls: list[tuple[Remediation, dict[str, Any]]]) -> None:
        self.calls = calls

    def remediate(self, action: Remediation, **params: Any) -> str:
        self.calls.append((action, params))
        if params.get("replicas") == 7:
            raise InputError(None, "replicas", "the stand-in refuses 7")
        return f"{action.value} done"

    def close(self) -> None:
        pass


def test_every_catalogued_remediation_is_a_button_that_reaches_the_target(live_room: LiveRoom) -> None:
    calls: list[tuple[Remediation, dict[str, Any]]] = []
    room = Room(live_room.journal, target_factory=lambda active: Recorder(calls))  # type: ignore[arg-type,return-value]
    page = live_room.client().get("/").text
    config = json.loads(page.split('<script id="room-config" type="application/json">')[1].split("</script>")[0])
    assert config["remediations"] == [{"action": s.name.value, "label": s.label} for s in CATALOGUE.values()]

    for button in config["remediations"]:
        replicas = 3 if button["action"] == "scale" else None
        event = room.perform(rq.Remediate(type="remediate", action=button["action"], replicas=replicas, actor="bob"))
        spec = CATALOGUE[Remediation(button["action"])]
        assert (event.type, event.actor, event.data["kind"]) == (EventType.action, "bob", spec.kind)
        assert event.data["deployment"] == spec.acts_on and event.data["via"] == "war room"
    assert calls == [(s.name, {"replicas": 3} if s.name is Remediation.scale else {}) for s in CATALOGUE.values()]
    actions = [e for e in read_journal(live_room.journal) if e.type is EventType.action]
    assert len(actions) == len(CATALOGUE)


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"action": "scale"}, 422, "scale: replicas: required (1-10)"),
    ({"action": "rollback", "replicas": 3}, 422, "rollback: replicas: only scale takes a replica count"),
    ({"action": "scale", "replicas": 7}, 422, "replicas: the stand-in refuses 7"),
])  # fmt: skip
def test_a_remediation_the_catalogue_or_the_target_refuses_is_a_4xx(live_room: LiveRoom, body: dict[str, Any],
                                                                    status: int, message: str) -> None:
    calls: list[tuple[Remediation, dict[str, Any]]] = []
    room = Room(live_room.journal, target_factory=lambda active: Recorder(calls))  # type: ignore[arg-type,return-value]
    with pytest.raises(rq.RequestRefused) as refused:
        room.perform(rq.Remediate(type="remediate", actor="bob", **body))
    assert (refused.value.status, refused.value.message) == (status, message)
    assert not [e for e in read_journal(live_room.journal) if e.type is EventType.action]
