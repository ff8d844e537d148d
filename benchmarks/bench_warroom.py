"""War room latency: Alertmanager's webhook reaching the runner -> the alert visible in a real browser.

One real drill (connection-pool-leak, human responders, ``--war-room``) on a throwaway sandbox, watched by
headless chromium (Playwright).  Besides the drill's own alerts, the script posts ``PROBES`` extra
Alertmanager notifications to the drill's webhook (the same receiver, journal, feed and page path) at
irregular intervals, so the percentile has enough samples.  For each ``alert_firing`` event: the page's
first render time (``window.__warroom.alertSeen``) minus the webhook's receipt time (``received_at``).
Target: p95 <= 1 s.  Ports are offset (``GAMEDAY_BENCH_WARROOM_OFFSET``, default 8600).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from gameday.journal import EventType, read_journal

REPO = Path(__file__).resolve().parents[1]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
SCENARIO = REPO / "scenarios" / "connection-pool-leak.yaml"
PORT_OFFSET = int(os.environ.get("GAMEDAY_BENCH_WARROOM_OFFSET", "8600"))
PROBES = int(os.environ.get("GAMEDAY_BENCH_WARROOM_PROBES", "40"))
CHROMIUM = os.environ.get("GAMEDAY_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
TARGET_P95_S = 1.0
WAIT_S = 240.0


def wait(check, what: str, proc: subprocess.Popen, timeout: float = WAIT_S):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc.poll() is not None:
            raise SystemExit(f"the drill ended before {what}")
        time.sleep(0.2)
    raise SystemExit(f"{what} did not happen within {timeout:g} s")


def probe(url: str, number: int) -> None:
    """One Alertmanager-shaped notification, as the real Alertmanager would post it."""
    now = datetime.now(UTC).isoformat()
    alert = {"status": "firing", "labels": {"alertname": "WarRoomBenchProbe", "probe": str(number),
                                            "severity": "info"},
             "annotations": {"summary": f"bench probe {number}"}, "startsAt": now, "fingerprint": f"bench{number}"}
    httpx.post(url, json={"receiver": "bench", "status": "firing", "alerts": [alert]}, timeout=5).raise_for_status()


def main() -> int:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"no browser at {CHROMIUM} (apt-get install chromium)")
        return 1
    with tempfile.TemporaryDirectory(prefix="gameday-bench-wr-") as tmp:
        env = {**os.environ, "GAMEDAY_STATE_DIR": f"{tmp}/state", "GAMEDAY_SANDBOX_PORT_OFFSET": str(PORT_OFFSET),
               "GAMEDAY_ACTOR": "bench"}
        up = subprocess.run([GAMEDAY, "sandbox", "up"], env=env, capture_output=True, text=True)
        if up.returncode != 0:
            print(f"cannot start the sandbox: {up.stderr.strip()}")
            return 1
        out = Path(tmp) / "out"
        out.mkdir()
        log = out / "drill.txt"
        proc = subprocess.Popen([GAMEDAY, "drill", "run", str(SCENARIO), "--responder", "human", "--time-scale",
                                 "120", "--out", str(out), "--war-room"], env=env, stdout=log.open("w"),
                                stderr=subprocess.STDOUT)
        try:
            with sync_playwright() as pw:
                return measure(pw, proc, env, out, log)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(120)
            subprocess.run([GAMEDAY, "sandbox", "down", "--purge"], env=env, capture_output=True)


def measure(pw, proc, env, out: Path, log: Path) -> int:  # type: ignore[no-untyped-def]
    from drills.sandbox.config import SandboxConfig

    url = wait(lambda: (m := re.search(r"war room \(responders\):\s+(\S+)", log.read_text())) and m.group(1),
               "the war room URL", proc)
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector("#connection.live", timeout=20_000)
    journal = wait(lambda: next(out.glob("*/journal.jsonl"), None), "the journal", proc)
    wait(lambda: any(e.type is EventType.alert_firing for e in read_journal(journal)), "the drill's first alert",
         proc)
    os.environ["GAMEDAY_SANDBOX_PORT_OFFSET"] = env["GAMEDAY_SANDBOX_PORT_OFFSET"]
    webhook = f"http://127.0.0.1:{SandboxConfig.from_env().ports.webhook}/bench"
    rng = random.Random(1)
    for number in range(PROBES):
        probe(webhook, number)
        time.sleep(rng.uniform(0.2, 0.8))
    subprocess.run([GAMEDAY, "sandbox", "rollout", "undo", "backend"], env=env, capture_output=True, check=True)
    wait(lambda: any(e.type is EventType.mitigated for e in read_journal(journal)), "mitigated", proc)
    time.sleep(2.0)
    firing = [e for e in read_journal(journal) if e.type is EventType.alert_firing]
    seen = page.evaluate("window.__warroom.alertSeen")
    lags = []
    for event in firing:
        shown = seen.get(str(event.seq))
        if shown is None:
            print(f"alert {event.data.get('alertname')} #{event.seq} never shown")
            continue
        lags.append(shown / 1000.0 - datetime.fromisoformat(event.data["received_at"]).timestamp())
    subprocess.run([GAMEDAY, "drill", "log", "close"], env=env, capture_output=True)
    browser.close()
    if len(lags) < 2:
        print("too few alerts to measure")
        return 1
    lags.sort()
    p95 = statistics.quantiles(lags, n=20, method="inclusive")[18]
    real = sum(1 for e in firing if e.data.get("alertname") != "WarRoomBenchProbe")
    print(f"alerts measured: {len(lags)} ({real} from the drill, {len(lags) - real} probes); "
          f"webhook receipt -> visible in the browser:")
    print(f"  p50 {statistics.median(lags) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   max {lags[-1] * 1000:7.1f} ms")
    print(f"  target p95 <= {TARGET_P95_S:g} s: {'met' if p95 <= TARGET_P95_S else 'NOT met'}")
    print(json.dumps({"bench": "warroom_alert_visible", "n": len(lags), "p50_s": round(statistics.median(lags), 4),
                      "p95_s": round(p95, 4), "max_s": round(lags[-1], 4)}))
    return 0 if p95 <= TARGET_P95_S else 1


if __name__ == "__main__":
    sys.exit(main())
