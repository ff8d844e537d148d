"""The demo Hospital-ERP backend: patient records and appointments in PostgreSQL *through PgBouncer*.

Release behaviour (the release catalogue, :mod:`gameday.releases`):

- appointment searches sometimes hit a slow plan and are cancelled by ``statement_timeout``; the healthy
  release rolls back and returns the connection, the leaky one's timeout handler keeps it (the
  2026-01-24-001 leak), so under load the pool empties and requests turn into 503s after ``pool_timeout``;
- the knob file adds query latency (``slow-queries``) and upstream 5xx (``error-burst``);
- the memory-leaking release keeps memory it never frees until its container is OOM-killed (``memleak.py``).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict

from drills.service.knobs import KnobReader
from drills.service.memleak import MemoryLeak
from drills.service.metrics import Metrics
from drills.service.pool import BackendPool
from drills.service.schema import DEPARTMENTS, REPAIR_SQL, ward_column
from gameday.releases import Release

STATEMENT_TIMEOUT_MS = 300
#: Wall seconds a database call may take, beyond the latency a knob adds, before its request gives up with a 503.
#: A query whose bytes a network partition swallowed (a proxy acknowledges them and never answers: neither TCP nor the
#: client's disconnect ends the wait) would otherwise keep its pool connection until something drops the link.
#: psycopg then cancels the query (5 s) or closes the connection.
QUERY_DEADLINE_S = 10.0
#: /ready's deadline: a readiness probe must learn quickly that no connection answers
READY_DEADLINE_S = 1.0
#: What maintenance mode refuses.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SLOW_PLAN_SECONDS = 1.0


@dataclass
class Settings:
    database_url: str
    release: Release
    pool_size: int = 4
    pool_timeout_s: float = 2.0
    upstream_url: str | None = None
    knobs_file: str | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class NewAppointment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: int
    department: str
    starts_at: datetime


class MetricsMiddleware:
    """Counts every response by route template (not raw path, to keep label cardinality bounded)."""

    def __init__(self, app: Any, metrics: Metrics, knobs: KnobReader | None = None) -> None:
        self.app = app
        self.metrics = metrics
        #: maintenance mode (the runbook's "take the system offline"): writes are refused here, counted as 503s
        self.knobs = knobs

    async def _refuse(self, scope: dict, receive: Any, send: Any, start: float) -> None:
        response = JSONResponse({"error": "maintenance: writes are refused while the data is repaired"},
                                status_code=503)
        await response(scope, receive, send)
        self.metrics.requests.labels(scope["method"], "maintenance", "503").inc()
        self.metrics.latency.labels(scope["method"], "maintenance").observe(time.perf_counter() - start)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}
        if self.knobs is not None and scope["method"] in WRITES and scope["path"].startswith("/api/") \
                and self.knobs.get().maintenance:
            await self._refuse(scope, receive, send, start)
            return

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status["code"])).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)


def create_app(settings: Settings) -> FastAPI:
    metrics = Metrics(settings.release.version)
    knobs = KnobReader(settings.knobs_file)
    rng = random.Random(settings.seed)
    # prepare_threshold=None: PgBouncer in transaction pooling cannot keep prepared statements
    pool = BackendPool(
        settings.database_url, min_size=settings.pool_size, max_size=settings.pool_size,
        timeout=settings.pool_timeout_s, open=False, name="erp",
        kwargs={"prepare_threshold": None, "row_factory": dict_row, "connect_timeout": 3},
    )
    leaked: list[psycopg.AsyncConnection] = []
    # the last slot of the knob's schedule (slot n: from + n * every) in which a search hit the slow plan;
    # slots, not "every since the last one", so a search that comes late in its slot does not push the rest of
    # the schedule back (at a high time scale a slot is a fraction of a second, close to the gap between searches)
    paced = {"slot": -1}
    metrics.pool_size.set(settings.pool_size)

    metrics.pool_in_use.set_function(lambda: pool.checked_out)
    metrics.pool_waiting.set_function(lambda: pool.get_stats().get("requests_waiting", 0))
    metrics.leaked.set_function(lambda: len(leaked))
    http = httpx.AsyncClient(timeout=2.0)

    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        await pool.open(wait=False)
        # the memory-leaking release's never-evicted cache (kept referenced by the task until the process dies)
        leak = asyncio.create_task(MemoryLeak(knobs).run()) if settings.release.leaks_memory else None
        yield
        if leak is not None:
            leak.cancel()
        await http.aclose()
        await pool.close(timeout=1.0)

    app = FastAPI(title="hospital-erp-backend", version=settings.release.version, lifespan=lifespan)

    def _latency_sql() -> str:
        k = knobs.get()
        if k.query_latency_s > 0 and rng.random() < k.latency_fraction:
            return f", pg_sleep({k.query_latency_s:.3f})"
        return ""

    def deadline() -> asyncio.Timeout:
        return asyncio.timeout(QUERY_DEADLINE_S + knobs.get().query_latency_s)

    async def fetch(sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        async with deadline(), pool.held() as conn:
            cur = await conn.execute(sql, params or {})
            return await cur.fetchall()

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(_: Any, exc: PoolTimeout) -> JSONResponse:
        return JSONResponse({"error": "database connection pool exhausted"}, status_code=503)

    @app.exception_handler(psycopg.OperationalError)
    async def _db_down(_: Any, exc: psycopg.OperationalError) -> JSONResponse:
        return JSONResponse({"error": f"database unavailable: {str(exc).splitlines()[0][:120]}"},
                            status_code=503)

    @app.exception_handler(TimeoutError)
    async def _db_silent(_: Any, exc: TimeoutError) -> JSONResponse:
        return JSONResponse({"error": "database did not answer in time"}, status_code=503)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers; says nothing about the database."""
        return {"status": "ok", "version": settings.release.version}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: a pool connection can be had quickly and answers.  The connection goes back to the pool
        whatever ends the check (a cancelled probe too), or a probe held by a partition would keep it for ever."""
        try:
            async with asyncio.timeout(READY_DEADLINE_S), pool.held(timeout=0.5) as conn:
                await conn.execute("SELECT 1")
        except PoolTimeout:
            return JSONResponse({"ready": False, "reason": "no database connection"}, status_code=503)
        except TimeoutError:
            return JSONResponse({"ready": False, "reason": "the database did not answer"}, status_code=503)
        except psycopg.Error as exc:
            return JSONResponse({"ready": False, "reason": str(exc)[:120]}, status_code=503)
        return JSONResponse({"ready": True, "version": settings.release.version})

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # the column this release's schema has (an older release on a newer schema fails here: unsafe rollback)
    ward_col = ward_column(settings.release.schema)
    ward_order = "unit_name" if settings.release.broken_ward_list else "id"  # the care-unit bug: no such column

    @app.get("/api/patients")
    async def list_patients(ward: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        return await fetch(
            f"SELECT id, mrn, name, {ward_col} AS ward" + _latency_sql() + " FROM patients"
            f" WHERE (%(ward)s::text IS NULL OR {ward_col} = %(ward)s) ORDER BY {ward_order} LIMIT %(limit)s",
            {"ward": ward, "limit": min(max(limit, 1), 100)},
        )

    @app.get("/api/patients/{patient_id}")
    async def get_patient(patient_id: int) -> dict[str, Any]:
        rows = await fetch(
            f"SELECT id, mrn, name, birth_date, {ward_col} AS ward" + _latency_sql()
            + " FROM patients WHERE id = %(id)s",
            {"id": patient_id},
        )
        if not rows:
            raise HTTPException(404, "no such patient")
        record = {k: v for k, v in rows[0].items() if k != "pg_sleep"}
        if settings.upstream_url:
            # insurance eligibility: a dependency whose 5xx we pass on as 502 (error-burst drill)
            try:
                answer = await http.get(f"{settings.upstream_url}/eligibility/{patient_id}",
                                        timeout=knobs.get().upstream_timeout_s)
            except httpx.HTTPError as exc:
                raise HTTPException(502, f"eligibility service unreachable: {type(exc).__name__}") from None
            if answer.status_code >= 500:
                raise HTTPException(502, f"eligibility service answered {answer.status_code}")
            record["eligibility"] = answer.json().get("status")
        return record

    @app.get("/api/patients/{patient_id}/appointments")
    async def patient_appointments(patient_id: int) -> list[dict[str, Any]]:
        return await fetch(
            "SELECT id, starts_at, department, status" + _latency_sql() + " FROM appointments"
            " WHERE patient_id = %(id)s ORDER BY starts_at LIMIT 50",
            {"id": patient_id},
        )

    @app.get("/api/appointments")
    async def search_appointments(department: str = "radiology", limit: int = 20) -> dict[str, Any]:
        """The search whose occasional slow plan is cancelled by ``statement_timeout``."""
        k = knobs.get()
        slow = rng.random() < k.slow_plan_fraction
        now = time.time()  # wall clock: the schedule is shared by every replica through the knob file
        if k.slow_plan_every_s > 0 and now >= k.slow_plan_from:  # a paced fault progression (drills/faults/local.py)
            slot = int((now - k.slow_plan_from) // k.slow_plan_every_s)
            if slot > paced["slot"]:
                slow, paced["slot"] = True, slot
        sleep = f", pg_sleep({SLOW_PLAN_SECONDS})" if slow else _latency_sql()
        async with deadline():
            return await _search(department, limit, sleep)

    async def _search(department: str, limit: int, sleep: str) -> dict[str, Any]:
        conn = await pool.take()
        kept = False  # by the leaky release: never given back
        try:
            # an implicit transaction (autocommit off), so SET LOCAL is safe under transaction pooling
            await conn.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
            cur = await conn.execute(
                "SELECT id, patient_id, starts_at, status" + sleep + " FROM appointments"
                " WHERE department = %(d)s ORDER BY starts_at DESC LIMIT %(limit)s",
                {"d": department, "limit": min(max(limit, 1), 100)},
            )
            rows = await cur.fetchall()
            await conn.commit()
        except pg_errors.QueryCanceled:
            if settings.release.releases_on_timeout:
                await conn.rollback()
            else:
                # the leaky release's bug: this path returns without rollback()/putconn(), so the connection stays
                # checked out *inside an aborted transaction*, pinning a PgBouncer server connection too
                leaked.append(conn)
                kept = True
            return {"degraded": True, "appointments": []}
        finally:  # every other path gives it back, a rollback cut short by the request's deadline included
            if not kept:
                await pool.give_back(conn)
        return {"degraded": False, "appointments": [{k: v for k, v in r.items() if k != "pg_sleep"}
                                                    for r in rows]}

    @app.post("/api/appointments", status_code=201)
    async def book(appointment: NewAppointment) -> dict[str, Any]:
        if appointment.department not in DEPARTMENTS:
            raise HTTPException(422, f"unknown department {appointment.department!r}")
        slot = {"p": appointment.patient_id, "s": appointment.starts_at, "d": appointment.department}
        insert = ("INSERT INTO appointments (patient_id, starts_at, department) SELECT %(p)s, %(s)s, %(d)s"
                  " WHERE EXISTS (SELECT 1 FROM patients WHERE id = %(p)s)")
        if settings.release.double_booking:  # the bug: a retry that books again without looking
            rows = await fetch(insert + " RETURNING id", slot)
            if rows:
                await fetch(insert + " RETURNING id", slot)
        else:  # an appointment is booked once (the invariant drills/exporters/database.py checks)
            rows = await fetch(insert + " AND NOT EXISTS (SELECT 1 FROM appointments WHERE patient_id = %(p)s"
                               " AND starts_at = %(s)s AND department = %(d)s) RETURNING id", slot)
        if not rows:
            taken = await fetch("SELECT 1 FROM appointments WHERE patient_id = %(p)s AND starts_at = %(s)s"
                                " AND department = %(d)s", slot)
            raise HTTPException(409 if taken else 404, "already booked" if taken else "no such patient")
        return {"id": rows[0]["id"]}

    @app.post("/admin/repair-appointments")
    async def repair_appointments() -> dict[str, Any]:
        """The repair remediation: remove the appointments booked more than once (works in maintenance mode)."""
        async with deadline(), pool.held() as conn:
            cur = await conn.execute(REPAIR_SQL)
            return {"removed": cur.rowcount}

    # zero-initialise the 5xx series, so the runbook's error-rate ratio is 0 (not "no data") when healthy
    for route in app.routes:
        path = getattr(route, "path", None)
        for method in sorted(getattr(route, "methods", None) or ()):
            if path and path not in ("/metrics", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
                for status in ("500", "502", "503"):
                    metrics.requests.labels(method, path, status)
    return MetricsMiddleware(app, metrics, knobs)  # type: ignore[return-value]
