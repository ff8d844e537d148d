"""Prometheus HTTP API: instant queries, scenario probes, and the ~1 s metric sampler of a drill."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from drills.observers.periodic import Periodic
from gameday.errors import TargetError
from gameday.journal import EventType, JournalWriter
from gameday.scenario import Probe

_RANGE = re.compile(r"\[(\d+(?:\.\d+)?)(ms|s|m|h)\]")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def compress_windows(promql: str, time_scale: float, floor_seconds: float) -> str:
    """Shrink every ``[1m]``-style range by ``time_scale`` (never below ``floor_seconds``).

    The runbook's queries speak runbook time like its clocks do: at ``--time-scale 60`` a 1-minute
    rate window would otherwise lag a 30-second stability watch by a whole wall minute.  The floor
    keeps enough scrapes inside the window for ``rate()`` to have two points.
    """

    def shrink(match: re.Match[str]) -> str:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)] / max(time_scale, 1e-9)
        return f"[{max(seconds, floor_seconds):g}s]"

    return _RANGE.sub(shrink, promql)


class PrometheusUnreachable(TargetError):
    """Prometheus did not answer at all (connection refused, timed out): every other query now would too."""


class Prometheus:
    """A thin client of ``/api/v1/query``; one instant value per query (sum() your vectors)."""

    def __init__(self, url: str, timeout: float = 3.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def query(self, promql: str) -> float | None:
        """The value of a scalar or one-element vector; ``None`` when empty or NaN (no traffic yet)."""
        try:
            response = self._client.get("/api/v1/query", params={"query": promql})
        except httpx.HTTPError as exc:
            raise PrometheusUnreachable(f"Prometheus at {self.url} did not answer: {exc}") from None
        try:
            body: dict[str, Any] = response.json() if response.content else {}
        except ValueError:  # a Prometheus shutting down (or a proxy before it) answers with a page, not JSON
            raise PrometheusUnreachable(f"Prometheus at {self.url} did not answer: HTTP {response.status_code}, "
                              "not the query API's JSON") from None  # fmt: skip
        if response.status_code != 200 or body.get("status") != "success":
            raise TargetError(f"Prometheus rejected {promql!r}: {body.get('error', response.status_code)}")
        result = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            raw = result[1]
        elif result:
            raw = result[0]["value"][1]
        else:
            return None
        value = float(raw)
        return None if math.isnan(value) else value

    def ready(self) -> bool:
        try:
            return self._client.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class ProbeResult:
    name: str
    promql: str
    op: str
    threshold: float
    value: float | None
    holds: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "op": self.op,
            "threshold": self.threshold,
            "holds": self.holds,
        }


_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def evaluate(prom: Prometheus, probe: Probe) -> ProbeResult:
    """A probe with no data does not hold: "unknown" is neither steady nor a reason to abort."""
    value = prom.query(probe.promql)
    holds = value is not None and _OPS[probe.op](value, probe.threshold)
    return ProbeResult(probe.name, probe.promql, probe.op, probe.threshold, value, holds)


#: Used only when a runbook gives no error-rate query of its own.
DEFAULT_ERROR_RATE = 'sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'


@dataclass(frozen=True)
class MetricQueries:
    """What ``metric_sample`` records; defaults match the demo backend's metric names."""

    error_rate: str = DEFAULT_ERROR_RATE
    p95_seconds: str = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))"
    request_rate: str = "sum(rate(http_requests_total[1m]))"
    pool_in_use: str = "sum(db_pool_connections_in_use)"
    pool_size: str = "sum(db_pool_size)"
    pool_waiting: str = "sum(db_pool_waiting)"
    #: PostgreSQL seen directly (the runbook's "Database connections normal"; absent where nothing exports it)
    database_up: str = "min(last_over_time(pg_up[1m]))"  # the latest reading, a missed scrape is no news
    #: the data invariant's violations, read from the real tables (drills/exporters/database.py)
    integrity_violations: str = "max(last_over_time(erp_integrity_violations[1m]))"
    #: the backend's network paths to its dependencies answer (the blackbox probes, drills/exporters/probes.py)
    network_ok: str = "min(last_over_time(probe_success[1m]))"
    #: backend pods whose container last died OOMKilled (a new pod has no last state: 0 after a rollback)
    oom_killed: str = ('sum(kube_pod_container_status_last_terminated_reason{container="backend",'
                       'reason="OOMKilled"}) or vector(0)')

    def compressed(self, time_scale: float, floor_seconds: float,
                   quantile_floor_seconds: float | None = None) -> MetricQueries:
        """Windows shrunk by ``time_scale``; quantiles never below ``quantile_floor_seconds``: a p95 needs
        enough requests in its window (at ~12 req/s a 10 s window holds ~120, of which the slowest 5 % are
        ~6 requests, so the estimate flips between the fast and the slow mode from one sample to the next)."""
        floors = {"p95_seconds": max(floor_seconds, quantile_floor_seconds or 0.0)}
        return MetricQueries(**{name: compress_windows(q, time_scale, floors.get(name, floor_seconds))
                                for name, q in self.__dict__.items()})

    def windows(self) -> dict[str, float]:
        """Wall seconds each windowed query looks back (its first ``[...]`` range): what a sample covers."""
        out = {}
        for name, promql in self.__dict__.items():
            match = _RANGE.search(promql)
            if match:
                out[name] = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        return out


class MetricSampler(Periodic):
    """Journals one ``metric_sample`` per interval and keeps the latest one for the runner and autopilot.

    ``extras`` adds non-Prometheus readings to each sample (replicas ready/desired from the target).
    """

    def __init__(
        self,
        prom: Prometheus,
        queries: MetricQueries,
        journal: JournalWriter,
        interval: float = 1.0,
        extras: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__("metric-sampler", interval)
        self.prom = prom
        self.queries = queries
        self.journal = journal
        self.extras = extras
        self._lock = threading.Lock()
        self._latest: dict[str, Any] = {}
        self._latest_at: datetime | None = None
        self._latest_blind = False
        self._windows = queries.windows()
        #: Why the last sample had no reading at all (Prometheus did not answer any query); ``None`` once
        #: one query answers again.  The runner notes the outage and ends the drill past its grace period.
        self.outage: TargetError | None = None

    def sample(self) -> dict[str, Any]:
        """One reading of every query; a failing query reads as ``None`` rather than losing the sample.

        Once Prometheus does not answer, the remaining queries are not sent: each would wait out the client's
        timeout, and a sample taking a timeout per query (half a minute) kept the drill blind long after
        Prometheus was back (CI at 529e601, kind, x120: a 36 s outage)."""
        values: dict[str, Any] = dict.fromkeys(self.queries.__dict__)
        failures: list[TargetError] = []
        unreachable: PrometheusUnreachable | None = None
        for name, promql in self.queries.__dict__.items():
            try:
                values[name] = self.prom.query(promql)
            except PrometheusUnreachable as exc:
                unreachable = exc
                break
            except TargetError as exc:
                failures.append(exc)
        self.outage = unreachable or (failures[0] if failures and len(failures) == len(values) else None)
        if self.extras is not None:
            values.update(self.extras())
        return values

    def tick(self) -> None:
        taken = datetime.now(UTC)
        values = self.sample()
        values["windows_s"] = self._windows  # what each windowed reading covers (charts say so)
        self.journal.emit(EventType.metric_sample, "prometheus", values, at=taken)
        with self._lock:
            self._latest, self._latest_at, self._latest_blind = values, taken, self.outage is not None

    @property
    def latest(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._latest)

    @property
    def blind(self) -> bool:
        """The latest sample got no answer from Prometheus: nothing can be told about the service now."""
        with self._lock:
            return self._latest_blind

    def fresh_since(self, moment: datetime) -> bool:
        """Whether the latest sample was taken after ``moment`` (an action's timestamp)."""
        with self._lock:
            return self._latest_at is not None and self._latest_at > moment
