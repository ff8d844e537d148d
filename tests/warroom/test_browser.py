"""The war room in a real browser (Debian's chromium driven by Playwright) against a real sandbox drill.

One drill (connection-pool-leak, human responders, time scale 120) runs as ``gameday drill run
--war-room``; three browser contexts join it: the incident commander (alice), the technical lead (bob) and
the game master.  Screenshots land in the test's output folder (``tmp_path/screenshots``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from gameday_testkit import require

from gameday.journal import Event, EventType, read_journal

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
CHROMIUM = os.environ.get("GAMEDAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Port offsets for this test's sandbox (the next one when another session holds the first).
PORT_OFFSETS = [int(o) for o in os.environ.get("GAMEDAY_TEST_WARROOM_OFFSETS", "3000,3300,3600").split(",")]
WAIT_S = float(os.environ.get("GAMEDAY_TEST_WAIT", "240"))
#: The issue's bound: an alert is on the page within this many seconds of the webhook's receipt.
ALERT_VISIBLE_S = 2.0
SECRET = "connection-pool-leak"


def _missing() -> list[str]:
    missing = [t for t in ("pgbouncer", "prometheus", "prometheus-alertmanager", "unshare") if not shutil.which(t)]
    if not Path(CHROMIUM).exists():
        missing.append("chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip)")
    return missing


@pytest.fixture
def sandbox_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    missing = _missing()
    require(not missing, f"not installed: {', '.join(missing)} (make system-deps)")
    state = tmp_path_factory.mktemp("wr-state")
    for offset in PORT_OFFSETS:
        env = {**os.environ, "GAMEDAY_STATE_DIR": str(state), "GAMEDAY_SANDBOX_PORT_OFFSET": str(offset)}
        up = subprocess.run([GAMEDAY, "sandbox", "up"], env=env, capture_output=True, text=True, timeout=180)
        if "ports already in use" not in up.stderr:
            break
    assert up.returncode == 0, f"sandbox did not come up: {up.stderr[-2000:]}"
    try:
        yield env
    finally:
        subprocess.run([GAMEDAY, "sandbox", "down", "--purge"], env=env, capture_output=True, timeout=120)


class Drill:
    """The ``drill run --war-room`` subprocess, its output and its journal."""

    def __init__(self, env: dict[str, str], out: Path) -> None:
        self.out = out
        self.log = out / "drill-output.txt"
        out.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [GAMEDAY, "drill", "run", str(REPO / "scenarios" / f"{SECRET}.yaml"), "--target", "local",
             "--responder", "human", "--time-scale", "120", "--out", str(out), "--war-room"],
            env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, text=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def urls(self) -> tuple[str, str]:
        def found() -> tuple[str, str] | None:
            text = self.output()
            responders = re.search(r"war room \(responders\):\s+(\S+)", text)
            gm = re.search(r"war room \(game master\):\s+(\S+)", text)
            return (responders.group(1), gm.group(1)) if responders and gm else None

        return self.wait(found, "the war room URLs printed")

    @property
    def journal(self) -> Path:
        return next(self.out.glob("*/journal.jsonl"))

    def events(self) -> list[Event]:
        found = list(self.out.glob("*/journal.jsonl"))
        return read_journal(found[0]) if found else []

    def first(self, match: Callable[[Event], bool]) -> Event | None:
        return next((e for e in self.events() if match(e)), None)

    def wait(self, check: Callable[[], object], what: str, timeout: float = WAIT_S) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            assert self.proc.poll() is None, f"the drill exited before {what}:\n{self.output()[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"{what} did not happen within {timeout:g} s\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def of(kind: EventType, actor: str | None = None) -> Callable[[Event], bool]:
    return lambda e: e.type is kind and (actor is None or e.actor == actor)


def test_a_team_runs_a_game_day_in_the_war_room(sandbox_env: dict[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    drill = Drill(sandbox_env, tmp_path / "out")
    try:
        responder_url, gm_url = drill.urls()
        assert responder_url != gm_url
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            pages = {}
            for who, url in (("alice", responder_url), ("bob", responder_url), ("gm", gm_url)):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto(url)
                page.fill("#actor", who)
                page.dispatch_event("#actor", "change")
                expect(page.locator("#connection")).to_have_text("live", timeout=15_000)
                pages[who] = page
            ic, tl, gm = pages["alice"], pages["bob"], pages["gm"]

            # the runbook's commands for this target (the sandbox): Phase 1's steps first, with what to type
            phase = ic.locator("#commands .cmd-phase")
            expect(phase).to_have_attribute("data-phase", "1")
            expect(ic.locator("#commands-target")).to_have_text("(on the sandbox)")
            pods = phase.locator("li.cmd", has=ic.locator("code.runbook", has_text=re.compile(
                r"^kubectl get pods -n hospital-erp-system$")))
            expect(pods.locator("code.type")).to_have_text("gameday sandbox status")
            expect(ic.locator("#commands details.cmd-always")).not_to_have_attribute("open", "")
            expect(gm.locator("#commands .cmd-phase li.cmd")).to_have_count(phase.locator("li.cmd").count())

            # blind drill: before the fault is revealed, no responder page names it
            drill.wait(lambda: drill.first(of(EventType.fault_injected)), "the fault injection")
            assert SECRET not in ic.content().lower() and "connection pool leak" not in ic.content().lower()
            expect(gm.locator("#gm-fault")).to_contain_text(SECRET)

            # an alert: on the page within 2 s of the webhook reaching the runner
            alert = drill.wait(lambda: drill.first(of(EventType.alert_firing)), "an alert firing")
            # The row may already be gone when we look (an alert that resolves within a second or two is
            # replaced by its resolved row), so ask the page when it first showed it.
            seen = f"window.__warroom.alertSeen[{alert.seq}]"
            ic.wait_for_function(f"{seen} !== undefined", timeout=10_000)
            seen_ms = ic.evaluate(seen)
            received = datetime.fromisoformat(alert.data["received_at"])
            lag = seen_ms / 1000.0 - received.timestamp()
            assert lag <= ALERT_VISIBLE_S, f"alert {alert.data['alertname']} shown {lag:.2f} s after the webhook"
            ic.screenshot(path=str(shots / "1-alert-firing.png"), full_page=True)

            # the IC and the TL respond from two browsers
            ic.click('button[data-act="ack"]')
            expect(ic.locator("#timeline li[data-type=acknowledged]")).to_have_count(1)
            ic.select_option("#declare-level", "1")
            ic.click('button[data-act="declare"]')
            expect(ic.locator("#severity")).to_have_text("SEV-1")
            expect(tl.locator("#commands .cmd-phase")).to_have_attribute("data-phase", "2")
            expect(tl.locator("#commands .cmd-phase li.cmd[data-step='2.1']").first).to_be_visible()
            expect(tl.locator("#commands .cmd-phase")).to_contain_text("gameday sandbox status")
            for role, person in (("IC", "alice"), ("TL", "bob")):
                ic.select_option("#assign-role", role)
                ic.fill("#assign-person", person)
                ic.click('button[data-act="assign"]')
                expect(tl.locator(f'#roles li[data-role="{role}"] .people')).to_have_text(person)
            ic.click('button[data-act="war_room"]')
            expect(ic.locator("#timeline li[data-type=war_room_created]")).to_have_count(1)
            ic.click('button[data-act="page"]')
            # journaled before the game master's hint below (a loaded CI run journaled the hint first)
            expect(ic.locator("#timeline li[data-type=paged]")).to_have_count(1)
            expect(ic.locator("#next-update")).to_contain_text(re.compile(r"SEV-1 (status )?update"))

            # the game master hints; the responders see it, and still not the fault's name
            gm.fill("#hint-text", "What changed in the last deploy?")
            gm.click('button[data-act="hint"]')
            expect(tl.locator("#hints li.hint")).to_contain_text("What changed in the last deploy?")
            assert SECRET not in tl.content().lower()

            tl.fill("#hypothesis-text", "The last deploy exhausts the database pool; roll it back")
            tl.click('button[data-act="hypothesis"]')
            expect(tl.locator("#timeline li[data-type=hypothesis]")).to_have_count(1)
            tl.click('button[data-act="remediate"][data-action="rollback"]')
            expect(tl.locator("#message")).to_contain_text("action journaled", timeout=120_000)
            drill.wait(lambda: drill.first(of(EventType.mitigated)), "mitigated after the rollback")
            expect(ic.locator("#mitigated")).to_be_visible(timeout=10_000)
            expect(ic.locator("#commands .cmd-phase")).to_have_attribute("data-phase", "3")
            expect(ic.locator("#commands .cmd-phase")).to_contain_text("gameday sandbox rollout undo backend")
            ic.screenshot(path=str(shots / "2-mitigated.png"), full_page=True)

            gm.click('button[data-act="reveal"]')
            expect(ic.locator("#reveal")).to_contain_text(SECRET)

            # the Communicate panel (its own browser test: tests/warroom/test_communicate_browser.py)
            ic.select_option("#comm-kind", "update")
            ic.click("#comm-prefill")
            expect(ic.locator("#comm-text")).to_have_value(re.compile(r"\*\*Status\*\*"))
            expect(ic.locator('#comm-channels input[value="Email"]')).to_be_checked()
            ic.click("#comm-send")
            expect(ic.locator("#timeline li[data-type=status_update]")).to_have_count(1)
            tl.click('button[data-act="verify"]')
            expect(tl.locator("#timeline li[data-type=verified]")).to_have_count(1)
            ic.click('button[data-act="resolve"]')
            expect(ic.locator("#timeline li[data-type=resolved]")).to_have_count(1)
            ic.click('button[data-act="close"]')
            drill.wait(lambda: drill.first(of(EventType.drill_ended)), "the drill's end")
            ic.click('button[data-fill="review"]')
            expect(ic.locator("#review-text")).to_have_value(re.compile("Post-Incident Review"))
            ic.click('button[data-act="postmortem"]')
            expect(ic.locator("#timeline li[data-type=postmortem_filed]")).to_have_count(1)

            # after close: the score the page shows is `gameday score`'s
            expect(ic.locator("#after-close")).to_be_visible(timeout=20_000)
            expect(ic.locator("#report-chart")).to_have_attribute("src", re.compile("timeline.png"), timeout=90_000)
            ic.reload()
            expect(ic.locator("#score-total")).to_have_attribute("data-score", re.compile(r"\d"), timeout=20_000)
            shown = ic.locator("#score-total").get_attribute("data-score")
            ic.screenshot(path=str(shots / "3-closed-score.png"), full_page=True)

            # refused writes from a forged token, without CSRF, oversized, unknown type: journal unchanged
            before = drill.journal.read_bytes()
            csrf = ic.locator('meta[name="csrf-token"]').get_attribute("content")
            base = responder_url.split("/join")[0]
            api = ic.context.request  # alice's cookie
            forged = pw.request.new_context(extra_http_headers={"Cookie": "gameday_warroom=forged-token"})
            refusals = [
                forged.post(f"{base}/api/act", headers={"X-CSRF-Token": csrf}, data={"type": "ack", "actor": "alice"}),
                api.post(f"{base}/api/act", data={"type": "ack", "actor": "alice"}),
                api.post(f"{base}/api/act", headers={"X-CSRF-Token": csrf},
                         data={"type": "hypothesis", "actor": "alice", "text": "x" * 5000}),
                api.post(f"{base}/api/act", headers={"X-CSRF-Token": csrf},
                         data={"type": "delete_journal", "actor": "alice"}),
            ]
            assert [r.status for r in refusals] == [403, 403, 422, 400], [r.text() for r in refusals]
            assert drill.journal.read_bytes() == before
            browser.close()
    finally:
        drill.stop()

    score = subprocess.run([GAMEDAY, "score", str(drill.journal), "--json"], env=sandbox_env,
                           capture_output=True, text=True, timeout=120)
    assert score.returncode == 0, score.stderr
    assert shown == f"{json.loads(score.stdout)['score']:.1f}"

    events = read_journal(drill.journal)
    people = [(e.type.value, e.actor) for e in events if e.actor in ("alice", "bob", "gm")]
    expected_order = [("acknowledged", "alice"), ("severity_declared", "alice"), ("role_assigned", "alice"),
                      ("role_assigned", "alice"), ("war_room_created", "alice"), ("paged", "alice"),
                      ("hint", "gm"), ("hypothesis", "bob"), ("action", "bob"), ("fault_revealed", "gm"),
                      ("status_update", "alice"), ("verified", "bob"), ("resolved", "alice"), ("closed", "alice"),
                      ("postmortem_filed", "alice")]
    assert people == expected_order
    rollback = next(e for e in events if e.type is EventType.action)
    assert rollback.data["kind"] == "rollback" and "rolled back" in rollback.data["detail"]
    injected = next(e for e in events if e.type is EventType.fault_injected)
    mitigated = next(e for e in events if e.type is EventType.mitigated)
    assert injected.seq < rollback.seq < mitigated.seq
    assert any(e.type is EventType.fault_reverted and e.data.get("ok") for e in events)
    assert sorted(p.name for p in shots.iterdir()) == ["1-alert-firing.png", "2-mitigated.png",
                                                       "3-closed-score.png"]
