"""The Communicate panel in a real browser (Debian's chromium, Playwright), delivering for real.

A stand-in drill (the test process is its runner, as ``drill run --notify`` is) with its war room and a notifier
whose sinks are a real SMTP server (STARTTLS and a login), a real webhook receiver and the status page gameday
serves.  The communication lead sends an update, the initial notice and a status-page entry from the panel;
the mail, the webhook and the status page get them; deadlines that have passed read "overdue", never a
negative countdown.  No sandbox: it takes seconds, not minutes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from gameday_testkit import require, stand_in_drill, wait_for
from notify_testkit import SmtpServer, WebhookReceiver, notify_env, notify_file, smtp_server, webhook_receiver

from drills.notify.config import load_notify
from drills.notify.dispatch import Notifier
from drills.notify.sinks import StatusPageDelivery
from gameday.journal import EventType, read_journal
from gameday.runbook import load_runbook

CHROMIUM = os.environ.get("GAMEDAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
#: A countdown gone negative, as the issue saw it ("next SEV-1 update in -0:36").
NEGATIVE = re.compile(r"-\s?\d+:\d\d")


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[SmtpServer, WebhookReceiver]]:
    with smtp_server(tmp_path) as smtp, webhook_receiver() as receiver:
        yield smtp, receiver


def test_the_communication_lead_sends_from_the_panel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     receivers: tuple[SmtpServer, WebhookReceiver]) -> None:
    require(Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM} (make system-deps)")
    from playwright.sync_api import expect, sync_playwright

    smtp, receiver = receivers
    monkeypatch.setenv("GAMEDAY_STATE_DIR", str(tmp_path / "state"))
    path = notify_file(tmp_path / "notify.yaml", smtp)
    notifier = Notifier.open(load_notify(path), path, load_runbook(), env=notify_env(receiver))
    status_url = next(s.url for s in notifier.sinks if isinstance(s, StatusPageDelivery))
    try:
        with stand_in_drill(tmp_path, "connection-pool-leak", "connection-pool-leak") as drill, \
                sync_playwright() as pw:
            notifier.attach_to_this_process(poll_s=0.05)
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(drill.server.responder_url)
            page.fill("#actor", "carol")
            page.dispatch_event("#actor", "change")
            expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
            page.click('button[data-act="ack"]')
            page.select_option("#declare-level", "1")
            page.click('button[data-act="declare"]')
            expect(page.locator("#severity")).to_have_text("SEV-1")

            # due times: "immediately" is overdue at once, a passed deadline is never a negative countdown
            told = page.locator("#comm-dues li[data-due='notify:Product Manager'] .when")
            expect(told).to_contain_text(re.compile(r"^ overdue \d+:\d\d$"))
            expect(page.locator("#comm-dues li[data-due='initial-notice'] .when")).to_contain_text("due in")
            rung = page.locator("#ladder li[data-level='4'] .when")  # "or SEV-1": due at once
            expect(rung).to_contain_text(re.compile(r"^overdue \d+:\d\d \("))
            for where in ("#comm-dues", "#ladder", "#next-update"):
                assert not NEGATIVE.search(page.locator(where).inner_text()), page.locator(where).inner_text()

            # the update, prefilled from the runbook's template, to the SEV-1 channels the panel ticked
            page.select_option("#comm-kind", "update")
            page.click("#comm-prefill")
            expect(page.locator("#comm-text")).to_have_value(re.compile(r"\*\*Status\*\*: Investigating"))
            for channel in ("Slack", "Status Page", "Email"):
                expect(page.locator(f'#comm-channels input[value="{channel}"]')).to_be_checked()
            page.click("#comm-send")
            expect(page.locator("#message")).to_contain_text("status_update journaled")

            # the initial notice: to users by email and the status page (Slack unticked by hand)
            page.select_option("#comm-kind", "initial")
            page.click("#comm-prefill")
            expect(page.locator("#comm-text")).to_have_value(re.compile(r"^Subject: Service Issue"))
            page.uncheck('#comm-channels input[value="Slack"]')
            page.click("#comm-send")
            expect(page.locator("#message")).to_contain_text("external_notice journaled")
            expect(page.locator("#comm-dues li[data-due='initial-notice'] .when")).to_contain_text("done at")

            # the status page entry: its channel only, with a status of the runbook's template
            page.select_option("#comm-kind", "status_page")
            expect(page.locator('#comm-channels input[value="Slack"]')).not_to_be_checked()
            expect(page.locator('#comm-channels input[value="Status Page"]')).to_be_checked()
            page.fill("#comm-text", "We found the cause and are rolling back.")
            page.select_option("#comm-status", "Identified")
            page.click("#comm-send")
            expect(page.locator("#message")).to_contain_text("status_page journaled")

            # delivered: two mails, one webhook post, three entries on the status page
            wait_for(lambda: len(smtp.mails) >= 2, "the update and the notice at the SMTP server", 30)
            assert "Service Issue - Hospital ERP System" in smtp.subjects()
            assert any(s.startswith("[SEV-1] Status update") for s in smtp.subjects()), smtp.subjects()
            wait_for(lambda: receiver.texts(), "the webhook's post", 30)
            assert len(receiver.texts()) == 1 and "**Status**: Investigating" in receiver.texts()[0]
            board = browser.new_context().new_page()
            board.goto(status_url)
            expect(board.locator("#current")).to_contain_text("Identified", timeout=15_000)
            expect(board.locator("#entries li")).to_have_count(3)
            expect(board.locator("#entries")).to_contain_text("We found the cause and are rolling back.")
            expect(board.locator("#entries")).to_contain_text("Service Issue - Hospital ERP System")
            browser.close()
            sent = [(e.type, e.data.get("channels")) for e in read_journal(drill.journal) if e.actor == "carol"]
    finally:
        counts = notifier.stop()
    assert sent[-3:] == [(EventType.status_update, ["Slack", "Status Page", "Email"]),
                         (EventType.external_notice, ["Status Page", "Email"]),
                         (EventType.status_page, ["Status Page"])]
    assert (counts.sent, counts.failed) == (6, 0)
