"""The war room's "Runbook commands" panel over real HTTP: the card for the drill's own target (from the
journal's ``journal_started``), the phase the incident is in (from the journal), text never markup."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from warroom_helpers import LiveRoom

from gameday.journal import EventType, JournalWriter
from gameday.runbook import load_runbook

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "runbooks" / "incident-response.md"
PODS = "kubectl get pods -n hospital-erp-system"
HOSTILE = "kubectl get pods -n hospital-erp-system -l 'app=</script><img src=x onerror=alert(1)>'"


def page_config(client: httpx.Client) -> dict:
    page = client.get("/").text
    return json.loads(page.split('<script id="room-config" type="application/json">')[1].split("</script>")[0])


def commands_panel(client: httpx.Client) -> dict:
    return client.get("/api/state").json()["panels"]["commands"]


def rows_of(config: dict, step: str | None) -> list[dict]:
    return [r for r in config["card"]["rows"] if r["step"] == step]


@pytest.fixture
def kubernetes_room(tmp_path: Path) -> Iterator[tuple[Path, object, dict[str, object]]]:
    """A finished-looking kubernetes drill's journal served read-only (no runner needed to read it)."""
    from drills.warroom.server import start_war_room

    journal = tmp_path / "out" / "k8s-drill" / "journal.jsonl"
    opened = {"source": "drill", "time_scale": 60.0, "runbook": str(SHIPPED), "target": "kubernetes",
              "responder": "human", "drill_id": "k8s-drill"}
    with JournalWriter(journal, "k8s-drill", start=datetime.now(UTC)) as writer:
        writer.emit(EventType.journal_started, "runner", data=opened)
        writer.emit(EventType.fault_injected, "runner", {"fault": "bad-deploy", "params": {}})
    server = start_war_room(journal)
    try:
        yield journal, server, opened
    finally:
        server.stop()


def join(server: object, gm: bool = False) -> httpx.Client:
    client = httpx.Client(base_url=server.base_url, timeout=30)  # type: ignore[attr-defined]
    url = server.game_master_url if gm else server.responder_url  # type: ignore[attr-defined]
    assert client.get(url).status_code == 303
    return client


def append(journal: Path, kind: EventType, actor: str, data: dict) -> None:
    with JournalWriter(journal, "k8s-drill") as writer:
        writer.emit(kind, actor, data)


def test_a_kubernetes_drill_gets_the_runbook_commands_verbatim(kubernetes_room) -> None:
    journal, server, _ = kubernetes_room
    config = page_config(join(server))
    card = config["card"]
    assert card["target"] == "kubernetes"
    runbook = load_runbook(SHIPPED)
    assert [r["command"] for r in card["rows"]] == [c.text for c in runbook.commands]
    for row in card["rows"]:
        if row["tool"] == "kubectl":
            assert row["do"] == row["command"], row  # typed as written on a cluster
    assert {r["command"] for r in rows_of(config, "2.1")} >= {
        "kubectl get pods -n hospital-erp-system -w",
        "kubectl logs -n hospital-erp-system -l app=backend --tail=100 -f",
        "kubectl port-forward -n monitoring svc/prometheus-operated 9090:9090"}
    useful = rows_of(config, None)
    assert useful and {r["section"] for r in useful} == {"Useful Commands"}
    assert page_config(join(server, gm=True))["card"] == card  # the game master sees the same card

    # the phase follows the journal: detection, then investigation once a severity is declared
    panel = commands_panel(join(server))
    assert panel["target"] == "kubernetes" and panel["phase"]["number"] == 1
    assert panel["phase"]["steps"] == ["1.1", "1.2", "1.3"]
    append(journal, EventType.severity_declared, "alice", {"severity": "SEV-2"})
    panel = wait_panel(join(server), lambda p: p["phase"]["number"] == 2)
    assert panel["phase"] == {"number": 2, "title": "Phase 2: Investigation & Diagnosis",
                              "steps": ["2.1", "2.2", "2.3"]}
    append(journal, EventType.action, "bob", {"kind": "rollback", "detail": "rolled back"})
    assert wait_panel(join(server), lambda p: p["phase"]["number"] == 3)["phase"]["steps"] == ["3.1", "3.2", "3.3"]
    append(journal, EventType.closed, "alice", {})
    assert wait_panel(join(server), lambda p: p["phase"]["number"] == 6)["stage"] == "review"


def wait_panel(client: httpx.Client, ready, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        panel = commands_panel(client)
        if ready(panel) or time.monotonic() > deadline:
            return panel
        time.sleep(0.05)


def test_a_local_drill_gets_the_sandbox_equivalents(live_room: LiveRoom) -> None:
    responder = live_room.client()
    config = page_config(responder)
    card = config["card"]
    assert card["target"] == "local"
    by_command = {r["command"]: r for r in rows_of(config, "1.1")}
    assert by_command[PODS]["do"] == "gameday sandbox status"
    assert "kubectl get pods" in by_command[PODS]["note"]
    step_31 = {r["command"]: r["do"] for r in rows_of(config, "3.1")}
    assert step_31["kubectl rollout undo deployment/backend -n hospital-erp-system"] == \
        "gameday sandbox rollout undo backend"
    no_equivalent = next(r for r in rows_of(config, None) if r["command"] == "kubectl top nodes")
    assert no_equivalent["do"] is None and "metrics-server" in no_equivalent["note"]
    assert not any(r["do"] and r["do"].startswith("kubectl") for r in card["rows"])
    panel = commands_panel(responder)
    assert panel["target"] == "local" and panel["phase"]["number"] == 1  # nothing declared yet


def test_runbook_text_reaches_the_page_as_text_not_markup(tmp_path: Path) -> None:
    from drills.warroom.server import start_war_room

    hostile = tmp_path / "hostile-runbook.md"
    text = SHIPPED.read_text()
    anchor = "kubectl get pods -n hospital-erp-system -w\n"
    assert anchor in text
    hostile.write_text(text.replace(anchor, anchor + HOSTILE + "\n", 1))
    journal = tmp_path / "out" / "x" / "journal.jsonl"
    with JournalWriter(journal, "x", start=datetime.now(UTC)) as writer:
        writer.emit(EventType.journal_started, "runner", data={"source": "drill", "time_scale": 60.0,
                                                               "runbook": str(hostile), "target": "kubernetes"})
    server = start_war_room(journal)
    try:
        client = join(server)
        page = client.get("/").text
        assert "<img src=x" not in page and page.count("</script>") == 2  # the config and room.js, no other
        assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page
        row = next(r for r in page_config(client)["card"]["rows"] if r["command"] == HOSTILE)
        assert row["do"] == HOSTILE and row["step"] == "2.1"  # the exact text, for textContent
        js = client.get("/static/room.js").text
        assert "innerHTML" not in js and "insertAdjacentHTML" not in js
    finally:
        server.stop()
