"""The war room over real HTTP: tokens, CSRF, bad input, concurrency, blind drills, the live feed.

Every refused write must leave the journal byte-for-byte unchanged.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from warroom_helpers import LiveRoom

from gameday.journal import EventType, read_journal


def post(client: httpx.Client, body: dict) -> httpx.Response:
    return client.post("/api/act", json=body)


def test_responder_actions_reach_the_journal_with_the_participant_as_actor(live_room: LiveRoom) -> None:
    ic = live_room.client()
    assert post(ic, {"type": "ack", "actor": "alice"}).status_code == 200
    assert post(ic, {"type": "declare", "actor": "alice", "level": 1}).status_code == 200
    assert post(ic, {"type": "assign", "actor": "alice", "role": "tl", "person": "bob"}).status_code == 200
    answer = post(ic, {"type": "hypothesis", "actor": "bob", "text": "<b>pool</b> exhausted"})
    assert answer.status_code == 200, answer.text
    events = read_journal(live_room.journal)
    ours = [(e.type, e.actor) for e in events if e.actor in ("alice", "bob")]
    assert ours[-4:] == [(EventType.acknowledged, "alice"), (EventType.severity_declared, "alice"),
                         (EventType.role_assigned, "alice"), (EventType.hypothesis, "bob")]
    declared = next(e for e in events if e.type is EventType.severity_declared)
    assert declared.data["severity"] == "SEV-1"  # the runbook's name, as `drill log declare --sev 1` writes it
    assigned = next(e for e in events if e.type is EventType.role_assigned)
    assert assigned.data == {"role": "TL", "person": "bob"}
    assert answer.json()["seq"] == events[-1].seq


@pytest.mark.parametrize(
    ("how", "status", "fragment"),
    [
        ("forged token", 403, "token"),
        ("no csrf", 403, "X-CSRF-Token"),
        ("wrong csrf", 403, "X-CSRF-Token"),
        ("unknown type", 400, "unknown event type 'delete_everything'"),
        ("not json", 400, "not JSON"),
        ("oversized text", 422, "at most 2000 characters"),
        ("oversized body", 413, "request body over"),
        ("extra field", 422, "Extra inputs are not permitted"),
        ("bad severity", 422, "SEV-7"),
        ("no actor", 422, "actor"),
        ("markup in name", 422, "actor"),
        ("gm only", 403, "only the game master"),
    ],
)
def test_bad_writes_are_refused_and_the_journal_is_unchanged(
    live_room: LiveRoom, how: str, status: int, fragment: str
) -> None:
    client = live_room.client()
    before = live_room.lines()
    body: object = {"type": "hypothesis", "actor": "alice", "text": "fine"}
    content: bytes | None = None
    if how == "forged token":
        client.cookies.set("gameday_warroom", "forged-" + "x" * 20)
    elif how == "no csrf":
        del client.headers["X-CSRF-Token"]
    elif how == "wrong csrf":
        client.headers["X-CSRF-Token"] = "0" * 64
    elif how == "unknown type":
        body = {"type": "delete_everything", "actor": "alice"}
    elif how == "not json":
        content = b"type=ack"
    elif how == "oversized text":
        body = {"type": "hypothesis", "actor": "alice", "text": "x" * 2001}
    elif how == "oversized body":
        content = json.dumps({"type": "postmortem", "actor": "alice", "text": "x" * 300_000}).encode()
    elif how == "extra field":
        body = {"type": "ack", "actor": "alice", "seq": 0}
    elif how == "bad severity":
        body = {"type": "declare", "actor": "alice", "level": 7}
    elif how == "no actor":
        body = {"type": "ack"}
    elif how == "markup in name":
        body = {"type": "ack", "actor": "<script>alert(1)</script>"}
    elif how == "gm only":
        body = {"type": "hint", "actor": "alice", "text": "it is the pool"}
    if content is not None:
        response = client.post("/api/act", content=content, headers={"Content-Type": "application/json"})
    else:
        response = post(client, body)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]
    assert live_room.lines() == before, f"{how}: the journal changed"


def test_fifty_participants_posting_at_once_lose_and_duplicate_nothing(live_room: LiveRoom) -> None:
    clients = [live_room.client() for _ in range(50)]
    before = len(read_journal(live_room.journal))
    barrier = threading.Barrier(len(clients))
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def one(index: int, client: httpx.Client) -> None:
        barrier.wait()
        answer = post(client, {"type": "hypothesis", "actor": f"p{index:02d}", "text": f"idea {index}"})
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=one, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [a.status_code for a in answers] == [200] * 50, [a.text for a in answers if a.status_code != 200]
    events = read_journal(live_room.journal)
    assert len(events) == before + 50
    assert [e.seq for e in events] == list(range(len(events))), "seq numbers are not unique and in file order"
    ideas = sorted(e.data["text"] for e in events if e.type is EventType.hypothesis)
    assert ideas == sorted(f"idea {i}" for i in range(50))
    assert sorted(a.json()["seq"] for a in answers) == [e.seq for e in events[before:]]


def test_blind_drill_until_the_game_master_reveals(live_room: LiveRoom) -> None:
    responder, gm = live_room.client(), live_room.client(gm=True)
    secret = "connection-pool-leak"

    def responder_sees() -> str:
        return (responder.get("/").text + responder.get("/api/state").text
                + responder.get("/api/draft/status-update").text).lower()

    text = responder_sees()
    assert secret not in text and "connection pool leak" not in text and live_room.drill_id not in text
    assert "#incident-inc" in text  # the channel is shown, with the id replaced
    assert secret in gm.get("/api/state").text  # the game master sees the fault
    assert post(gm, {"type": "hint", "actor": "gm", "text": "What changed just before?"}).status_code == 200
    state = wait_state(responder, lambda s: s["panels"]["hints"])
    assert state["panels"]["hints"][0]["text"] == "What changed just before?"
    assert secret not in responder_sees()
    assert post(gm, {"type": "reveal", "actor": "gm"}).status_code == 200
    state = wait_state(responder, lambda s: s["panels"]["reveal"])
    assert state["panels"]["reveal"]["fault"] == secret
    assert post(gm, {"type": "reveal", "actor": "gm"}).status_code == 409  # once
    hint = next(e for e in read_journal(live_room.journal) if e.type is EventType.hint)
    assert hint.actor == "gm" and hint.data == {"text": "What changed just before?"}


def wait_state(client: httpx.Client, ready, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = client.get("/api/state").json()
        if ready(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_stream_pushes_new_events_and_writes_stop_when_the_drill_is_over(live_room: LiveRoom) -> None:
    from drills.warroom.drill_link import withdraw

    client = live_room.client()
    seen: list[dict] = []
    with client.stream("GET", "/api/stream") as stream:
        lines = stream.iter_lines()
        for line in lines:
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                break
        assert seen[0]["kind"] == "snapshot"
        assert post(live_room.client(), {"type": "ack", "actor": "carol"}).status_code == 200
        for line in lines:
            if line.startswith("data: "):
                body = json.loads(line[6:])
                if any(i["actor"] == "carol" for i in body["timeline"]):
                    seen.append(body)
                    break
    assert seen[-1]["kind"] == "update" and seen[-1]["timeline"][-1]["type"] == "acknowledged"
    withdraw(live_room.active)
    before = live_room.lines()
    answer = post(client, {"type": "ack", "actor": "carol"})
    assert answer.status_code == 409 and "read-only" in answer.json()["error"]
    assert live_room.lines() == before


def test_pages_need_a_token(live_room: LiveRoom) -> None:
    anonymous = httpx.Client(base_url=live_room.server.base_url)  # type: ignore[attr-defined]
    assert anonymous.get("/").status_code == 401
    assert anonymous.get("/api/state").status_code == 401
    assert anonymous.get("/join", params={"token": "nope"}).status_code == 403
    assert live_room.client().get("/api/score").status_code == 403  # responders: only after close
    assert live_room.client(gm=True).get("/api/score").json()["incidents"]
    assert anonymous.get("/static/room.js").status_code == 200  # assets ship in the package
