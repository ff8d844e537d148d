"""Delivery to real receivers: an SMTP server wanting STARTTLS and a login (aiosmtpd), a Slack-style webhook
receiver (http.server), the status page gameday serves, a dead port and a port that never answers.

The drill is a stand-in (the test process is its runner, as ``drill run`` is for ``--notify``), so the notifier
attaches the way it does in a real drill; messages are written through ``gameday drill log``'s validated path
(:class:`~drills.drill_log.ResponderLog`) or, for events that path does not take, as the autopilot writes them.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gameday_testkit import stand_in_drill, wait_for
from notify_testkit import (
    SMTP_PASSWORD,
    WEBHOOK_TOKEN,
    SmtpServer,
    WebhookReceiver,
    free_port,
    notify_env,
    notify_file,
    smtp_server,
    webhook_receiver,
)

from drills.drill_log import ResponderLog
from drills.notify.config import load_notify
from drills.notify.dispatch import Notifier
from drills.notify.sinks import StatusPageDelivery
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.runbook import load_runbook


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def _status_page(notifier: Notifier) -> str:
    return next(s.url for s in notifier.sinks if isinstance(s, StatusPageDelivery))


def test_every_channel_delivered_and_a_dead_sink_is_journaled(state: Path, smtp: SmtpServer,
                                                              receiver: WebhookReceiver) -> None:
    dead = free_port()
    path = notify_file(state / "notify.yaml", smtp, dead_port=dead)
    notifier = Notifier.open(load_notify(path), path, load_runbook(), env=notify_env(receiver, dead))
    page = _status_page(notifier)
    try:
        with stand_in_drill(state, "connection-pool-leak", "connection-pool-leak") as drill:
            notifier.attach_to_this_process(poll_s=0.05)
            log = ResponderLog.of(drill.active)
            log.log("severity_declared", "alice", {"level": 1})
            log.log("status_update", "carol", {"message": "Update #1: rolling back v1.2.3",
                                               "channels": ["Slack", "Status Page", "Email"]})
            with JournalWriter(drill.journal, drill.drill_id) as writer:  # as the autopilot writes it
                writer.emit(EventType.external_notice, "carol", {
                    "kind": "initial", "channels": ["Email", "Status Page"],
                    "message": "Subject: Service Issue - Hospital ERP System\n\nWe are investigating."})
                # a declaration naming only its chat room goes where its template's name says (Slack); a notice
                # with fields only takes its subject from them
                writer.emit(EventType.declaration_posted, "alice", {"channel": "#incidents", "fields": {
                    "severity": "SEV-1", "summary": "Backend errors after v1.2.3"}})
                writer.emit(EventType.external_notice, "carol", {
                    "kind": "resolution", "channels": ["Email"],
                    "fields": {"subject": "Service Restored - Hospital ERP System",
                               "root_cause": "Pool leak in v1.2.3"}})
                writer.emit(EventType.status_page, "carol", {"status": "Identified",
                                                             "fields": {"title": "Hospital ERP errors",
                                                                        "message": "Cause found; fix rolling"}})

            # the SMTP server (after STARTTLS and a login) has both mails
            wait_for(lambda: len(smtp.mails) >= 3, "three mails at the SMTP server", 30)
            assert any("[SEV-1] Status update" in s for s in smtp.subjects()), smtp.subjects()
            assert "Service Issue - Hospital ERP System" in smtp.subjects()
            assert "We are investigating." in (smtp.body("Service Issue") or "")
            assert (smtp.body("Service Restored") or "").strip() == "Root Cause: Pool leak in v1.2.3"
            assert all(m["To"] == "oncall@example.com, support-lead@example.com" for m in smtp.mails)
            # the live webhook got the update and the declaration (the notices named Email and Status Page)
            wait_for(lambda: len(receiver.texts()) >= 2, "the webhook's posts", 30)
            update, declaration = receiver.texts()
            assert "rolling back v1.2.3" in update and "Severity: SEV-1\nSummary: Backend errors" in declaration
            # the status page shows the update, the notice and its own entry, newest first
            shown = wait_for(lambda: (s := httpx.get(page + "api/status").json())["entries"][2:] and s,
                             "three entries on the status page", 30)
            assert shown["status"] == "Identified"
            assert [e["kind"] for e in shown["entries"]] == ["status_page", "external_notice", "status_update"]
            html = httpx.get(page).text
            assert "Cause found; fix rolling" in html and "Current status: <strong>Identified" in html

            # the dead Slack sink: journaled for each message it was given, the others went on
            failures = wait_for(lambda: (found := [e for e in read_journal(drill.journal) if e.type is EventType.note
                                                   and e.data.get("delivery") == "failed"])[1:] and found,
                                "the dead sink's failures in the journal", 30)
            assert [e.data["event_type"] for e in failures] == ["status_update", "declaration_posted"]
            failed = failures[0]
            assert failed.actor == "notify" and failed.data["channel"] == "Slack" and failed.data["sink"] == 2
            assert "Slack (webhook, sink 2) could not deliver status_update" in failed.data["text"]
            assert "ConnectError" in failed.data["reason"]
            # and the drill goes on: a later update reaches the live webhook too
            log.log("status_update", "carol", {"message": "Update #2: recovering", "channels": ["Slack"]})
            wait_for(lambda: len(receiver.texts()) == 3, "the later webhook post", 30)
    finally:
        counts = notifier.stop()
    assert (counts.sent, counts.failed) == (3 + 3 + 3, 3)  # smtp 3, status page 3, webhook 3; dead sink 3 times
    journal = drill.journal.read_text()
    for secret in (WEBHOOK_TOKEN, SMTP_PASSWORD, receiver.url, f"127.0.0.1:{dead}/hooks"):
        assert secret not in journal


def test_a_sink_that_never_answers_delays_nobody(state: Path, smtp: SmtpServer, receiver: WebhookReceiver) -> None:
    """A webhook that accepts the connection and never answers: the drill's write returns at once, the other
    sinks deliver within a second, and the hung one is journaled when its timeout runs out."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)  # connections queue in the backlog; nobody ever reads them
        path = notify_file(state / "notify.yaml", smtp, dead_port=hung.getsockname()[1], timeout=2.0)
        env = notify_env(receiver, hung.getsockname()[1])
        notifier = Notifier.open(load_notify(path), path, load_runbook(), env=env)
        try:
            with stand_in_drill(state, "connection-pool-leak", "connection-pool-leak") as drill:
                notifier.attach_to_this_process(poll_s=0.05)
                wait_for(lambda: any(e.actor == "notify" for e in read_journal(drill.journal)), "the notifier", 10)
                log = ResponderLog.of(drill.active)
                started = time.monotonic()
                log.log("status_update", "carol", {"message": "Update #1", "channels": ["Slack", "Email"]})
                assert time.monotonic() - started < 1.0
                wait_for(lambda: receiver.texts() and len(smtp.mails) == 1, "the live sinks", 10)
                assert time.monotonic() - started < 1.5, "a hung sink held the others up"
                assert not any(e.data.get("delivery") == "failed" for e in read_journal(drill.journal))
                failed = wait_for(lambda: next((e for e in read_journal(drill.journal)
                                                if e.data.get("delivery") == "failed"), None), "the timeout", 15)
                assert "ReadTimeout" in failed.data["reason"] and failed.data["sink"] == 2
        finally:
            notifier.stop(drain_s=3)
