"""The network fault on a real sandbox: each mode's effect as the backend's users and its pool see it, seen
through the same Toxiproxy the backend always talks through, and a revert that leaves no toxic on any link.

Toxiproxy is built from its Go module by ``make setup`` (``sandbox up`` builds it when missing), so nothing here
skips for want of it.  The autopilot's drill and kill -9 of a drill holding the fault are in the chaos lane
(tests/chaos/test_network_chaos.py).
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from gameday_testkit import patient_requests, replica_metric, wait_for
from test_drill_e2e import sandbox, target_of  # noqa: F401 - sandbox is a fixture

from drills.sandbox.toxiproxy import LINKS, Toxiproxy
from drills.service.app import QUERY_DEADLINE_S
from gameday.scenario import Fault

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def probes(target: Any) -> dict[tuple[str, str], float]:
    """The exporter's blackbox probes: ``(metric, target) -> value``."""
    body = httpx.get(f"http://127.0.0.1:{target.config.ports.exporter}/metrics", timeout=5).text
    out = {}
    for line in body.splitlines():
        if line.startswith("probe_"):
            series, value = line.rsplit(" ", 1)
            name, _, label = series.partition('{target="')
            out[(name, label.rstrip('"}'))] = float(value)
    return out


def healed(app: str, timeout: float = 30.0) -> None:
    """After a revert the pools reconnect: every request succeeds again, quickly."""
    deadline = time.monotonic() + timeout
    codes, seconds = patient_requests(app)
    while not (set(codes) == {200} and max(seconds) < 1.0) and time.monotonic() < deadline:
        time.sleep(1.0)
        codes, seconds = patient_requests(app)
    assert set(codes) == {200} and max(seconds) < 1.0, f"not healed after {timeout:g} s: {codes} {seconds}"


def no_toxics(target: Any) -> dict[str, list[dict[str, Any]]]:
    proxy = Toxiproxy(target.sandbox.toxiproxy_url)
    return {link: proxy.toxics(link) for link in LINKS if proxy.toxics(link)}


def test_each_mode_has_its_real_effect_and_the_revert_leaves_no_toxic(sandbox: dict[str, str]) -> None:  # noqa: F811
    target = target_of(sandbox)
    app = target.sandbox.app_url
    assert no_toxics(target) == {}, "a fresh sandbox's links must be healthy"
    codes, seconds = patient_requests(app)
    assert set(codes) == {200} and max(seconds) < 1.0, (codes, seconds)  # the links carry normal traffic

    # latency on the link to PgBouncer: every request slower by a few round trips, the pools busier; no error
    record = target.inject(Fault.model_validate({"type": "network", "params": {"mode": "latency", "latency_ms": 300,
                                                                                  "jitter_ms": 0}}))  # fmt: skip
    try:
        assert [t["type"] for t in Toxiproxy(target.sandbox.toxiproxy_url).toxics("pgbouncer")] == ["latency"]
        codes, seconds = patient_requests(app)
        assert set(codes) == {200}, codes
        assert min(seconds) > 0.6, f"300 ms a round trip did not show in request latency: {seconds}"
        time.sleep(1.0)
        seen = probes(target)
        assert seen[("probe_success", "pgbouncer")] == 1 and seen[("probe_duration_seconds", "pgbouncer")] > 0.25
        assert seen[("probe_duration_seconds", "eligibility")] < 0.25  # the other link is untouched
    finally:
        target.revert(record)
    assert no_toxics(target) == {}
    healed(app)

    # resets: the backend's queries fail fast as "database unavailable" (503), the probe fails
    record = target.inject(Fault.model_validate({"type": "network", "params": {"mode": "reset"}}))
    try:
        codes, seconds = patient_requests(app)
        assert set(codes) == {503}, codes
        time.sleep(1.0)
        assert probes(target)[("probe_success", "pgbouncer")] == 0
    finally:
        target.revert(record)
    assert no_toxics(target) == {}
    healed(app)

    # a partition: connections open, nothing answers; requests wait for the pool and fail, requests pile up. A
    # request that still finds an idle pool connection hangs on it until the client gives up (0: under CI's load
    # the pool had healed from the resets above before the partition); the ones after it wait for the pool: 503
    record = target.inject(Fault.model_validate({"type": "network", "params": {"mode": "partition"}}))
    base, replicas = target.config.ports.backend_base, target.sandbox.deployment().replicas
    try:
        for i in range(replicas):  # each replica's idle connection takes a query the partition swallows
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{base + i}/api/patients/1", timeout=1)
        codes, _ = patient_requests(app, 6)
        assert set(codes) <= {0, 503} and 503 in codes, codes
        time.sleep(2.5)  # past the probe's timeout
        seen = probes(target)
        assert seen[("probe_success", "pgbouncer")] == 0 and seen[("probe_duration_seconds", "pgbouncer")] > 2
        assert seen[("probe_success", "eligibility")] == 1
    finally:
        target.revert(record)
    assert no_toxics(target) == {}
    healed(app)
    # nothing stays checked out: a query the partition swallowed ends at the backend's deadline (then psycopg cancels
    # it or closes the connection) instead of holding its pool connection for ever (chaos CI: in_use=1 for 7 min)
    wait_for(lambda: all(replica_metric(base + i, "db_pool_connections_in_use") == 0 for i in range(replicas)),
             "every backend's pool connections back", timeout=QUERY_DEADLINE_S + 20)

    # a partition of the upstream link: patient records answer 502 (the eligibility call times out)
    fault = Fault.model_validate({"type": "network", "params": {"link": "upstream", "mode": "partition"}})
    assert "link to upstream" in target.describe(fault)
    record = target.inject(fault)
    try:
        codes, _ = patient_requests(app, 4)
        assert set(codes) == {502}, codes
    finally:
        target.revert(record)
    assert no_toxics(target) == {}
    healed(app)

    assert target.pending_injections() == []


def test_the_remediation_clears_every_link_and_a_second_revert_is_harmless(sandbox: dict[str, str]) -> None:  # noqa: F811
    target = target_of(sandbox)
    first = target.inject(Fault.model_validate({"type": "network", "params": {"mode": "reset", "share": 0.5}}))
    second = target.inject(Fault.model_validate({"type": "network", "params": {"link": "upstream",
                                                                                "mode": "partition"}}))  # fmt: skip
    assert set(no_toxics(target)) == {"pgbouncer", "upstream"}
    assert target.remediate("failover-network") == "failed over the network path to pgbouncer, upstream"
    assert no_toxics(target) == {}
    assert target.remediate("failover-network") == "no degraded link found"
    for record in (first, second, first):  # the responder fixed it first: the runner's revert is still safe
        target.revert(record)
    assert target.pending_injections() == [] and no_toxics(target) == {}


def test_a_toxiproxy_restart_loses_no_link_and_a_pending_fault_still_reverts(
    sandbox: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """supervisord restarts Toxiproxy with its links from the config file (and without toxics): the backend's
    traffic flows again, and the fault's record reverts cleanly."""
    target = target_of(sandbox)
    record = target.inject(Fault.model_validate({"type": "network", "params": {"mode": "partition"}}))
    target.sandbox.supervisor.restart("toxiproxy")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and set(patient_requests(target.sandbox.app_url, 3)[0]) != {200}:
        time.sleep(0.5)
    assert set(patient_requests(target.sandbox.app_url, 3)[0]) == {200}
    target.revert(record)
    assert target.pending_injections() == [] and no_toxics(target) == {}


def test_a_cancelled_search_whose_rollback_is_swallowed_still_gives_its_connection_back(
    sandbox: dict[str, str],  # noqa: F811
) -> None:
    """``statement_timeout`` cancels a slow search; the link towards PgBouncer is then cut one way only (the cancel's
    error still comes back), so the search's rollback is swallowed until the request's deadline cuts it short.  The
    connection must go back to the pool: before 10c07e4 the deadline's CancelledError, raised inside the
    ``QueryCanceled`` handler, skipped the give-back and the backend counted it in use for good (chaos CI at abf05d2:
    ``in_use=1`` for 8 minutes after a partition, four tests failing on an unsteady sandbox)."""
    target = target_of(sandbox)
    base, replicas = target.config.ports.backend_base, target.sandbox.deployment().replicas
    proxy = Toxiproxy(target.sandbox.toxiproxy_url)
    slowed = {"query_latency_s": 1.0, "latency_fraction": 1.0}
    slow = target.inject(Fault.model_validate({"type": "slow-queries", "params": slowed}))

    def search(port: int) -> int:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/appointments", timeout=QUERY_DEADLINE_S + 20).status_code
        except httpx.HTTPError:
            return 0

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            sent = []
            for i in range(16):  # spread over the 300 ms between each query and its cancel, so some rollbacks
                sent.append(pool.submit(search, base + i % replicas))  # come after the cut
                time.sleep(0.04)
                if i == 7:
                    proxy.add("pgbouncer", "gameday-test-one-way-cut", "timeout", "upstream", {"timeout": 0})
            codes = [future.result() for future in sent]
    finally:
        proxy.clear("pgbouncer")
        target.revert(slow)
    assert 503 in codes, f"no search met the cut: {codes}"
    healed(target.sandbox.app_url)
    deadline = time.monotonic() + QUERY_DEADLINE_S + 20
    while True:
        in_use = {base + i: replica_metric(base + i, "db_pool_connections_in_use") for i in range(replicas)}
        if all(value == 0 for value in in_use.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert all(value == 0 for value in in_use.values()), f"connections still counted in use: {in_use}"
    assert target.pending_injections() == [] and no_toxics(target) == {}
