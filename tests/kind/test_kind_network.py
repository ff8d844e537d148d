"""The network fault on kind: the backend really talks to PgBouncer through the cluster's Toxiproxy, so latency on
that link really slows every request (no error), the cluster exporter's probe through the link sees it in
Prometheus, and the revert leaves no toxic and fast requests.  (The partition's game day with the autopilot is in
test_kind_drills.py's SYMPTOMS table.)
"""

from __future__ import annotations

import time

import httpx
import pytest
from conftest import Kind
from gameday_testkit import patient_requests

from drills.k8s.toxiproxy import ClusterToxiproxy
from drills.sandbox.toxiproxy import LINKS
from gameday.scenario import Fault

pytestmark = [pytest.mark.kind, pytest.mark.slow]


def probe_seconds(kind: Kind, link: str) -> float | None:
    answer = httpx.get(f"{kind.target.endpoints().prometheus_url}/api/v1/query",
                       params={"query": f'max(probe_duration_seconds{{target="{link}"}})'}, timeout=10)  # fmt: skip
    result = answer.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def no_toxics(kind: Kind) -> dict[str, list[dict]]:
    proxy = ClusterToxiproxy(kind.target)
    return {link: toxics for link in LINKS if (toxics := proxy.toxics(link))}


def test_latency_on_the_link_to_pgbouncer_really_slows_every_request_and_the_revert_heals_it(kind: Kind) -> None:
    target = kind.target
    app = target.endpoints().app_url
    assert no_toxics(kind) == {}, "a fresh cluster's links must be healthy"
    codes, before = patient_requests(app)
    assert set(codes) == {200} and max(before) < 1.0, (codes, before)

    record = target.inject(Fault.model_validate({"type": "network", "params": {
        "link": "pgbouncer", "mode": "latency", "latency_ms": 300, "jitter_ms": 0}}), drill_id="kind-network")
    try:
        assert [t["type"] for t in ClusterToxiproxy(target).toxics("pgbouncer")] == ["latency"]
        assert [r.fault.value for r in target.pending_injections()] == ["network"]  # the undo is on the cluster
        codes, during = patient_requests(app)
        assert set(codes) == {200}, codes  # slower, not failing
        assert min(during) > 0.3, f"300 ms a round trip did not show in request latency: {during}"
        deadline, seen = time.monotonic() + 90, None
        while time.monotonic() < deadline and not (seen and seen > 0.25):
            seen = probe_seconds(kind, "pgbouncer")
            time.sleep(2)
        assert seen and seen > 0.25, f"the exporter's probe through the link never saw the latency: {seen}"
    finally:
        target.revert(record)
    assert no_toxics(kind) == {} and target.pending_injections() == []
    deadline = time.monotonic() + 60
    codes, after = patient_requests(app)
    while not (set(codes) == {200} and max(after) < 1.0) and time.monotonic() < deadline:
        time.sleep(1)
        codes, after = patient_requests(app)
    assert set(codes) == {200} and max(after) < 1.0, f"not healed: {codes} {after}"


def test_a_restarted_pgbouncer_is_reached_through_toxiproxy_within_seconds(kind: Kind) -> None:
    """Toxiproxy dials its upstream inside its accept loop, without a timeout.  A dial that lands on the pod just
    gone (the Service's endpoints follow a moment later) used to hold every new connection on the link for the
    kernel's SYN retries, a minute or two: the kind pgbouncer-down drill stayed at 96% errors after PgBouncer
    was back.  With one SYN retry in Toxiproxy's pod, the link serves again within seconds of PgBouncer."""
    target = kind.target
    app = target.endpoints().app_url
    assert set(patient_requests(app, 4)[0]) == {200}
    record = target.inject(Fault.model_validate({"type": "pgbouncer-down"}), drill_id="kind-toxiproxy-dial")
    try:
        time.sleep(5)  # requests keep dialing through the link while PgBouncer's pod goes and stays away
        assert 200 not in patient_requests(app, 4)[0]
        target.remediate("restart-pgbouncer")
        back = time.monotonic()
        codes: list[int] = []
        while time.monotonic() - back < 120 and set(codes) != {200}:
            codes = patient_requests(app, 4)[0]
        waited = time.monotonic() - back
    finally:
        target.revert(record)
    assert set(codes) == {200}, f"no answer through the link 2 min after PgBouncer's restart: {codes}"
    # the kernel's default SYN retries kept the link shut for a minute or more after the restart
    assert waited < 40, f"requests through the link failed for {waited:.0f} s after PgBouncer's restart"
