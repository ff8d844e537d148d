"""The war room's FastAPI application: the page, its live feed (server-sent events) and its writes.

Routes: ``GET /join?token=`` (sets the session cookie), ``GET /`` (the page), ``GET /api/state``,
``GET /api/stream`` (SSE: a snapshot, then updates as the journal grows), ``POST /api/act`` (every write:
cookie token + ``X-CSRF-Token``), ``GET /api/score``, ``GET /api/draft/{name}``, ``GET /api/report`` and
``GET /report/{file}`` (after close).  Static assets are served from the package; nothing is fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from drills.warroom.actions import Room, remediation_buttons
from drills.warroom.communicate import communicate_config
from drills.warroom.feed import JournalFeed
from drills.warroom.requests import MAX_BODY_BYTES, RequestRefused, parse_request
from drills.warroom.security import COOKIE, CSRF_HEADER, Access, Role
from gameday.journal import EventType, read_journal
from gameday.names import shown
from gameday.runbook.model import Runbook

HERE = Path(__file__).parent
REPORT_DIR = "warroom-report"
REPORT_FILES = {"report.html", "report.md", "timeline.png", "review.html"}  # review: the team's monthly trend
#: SSE keep-alive (seconds): proxies and browsers drop silent connections.
KEEPALIVE_S = 15.0
#: The page pushes at least this often, so countdowns and checklists that depend on time stay true.
PUSH_EVERY_S = 1.0


def create_app(journal: Path, runbook: Runbook, access: Access, room: Room | None = None) -> FastAPI:
    """The war room over ``journal``; ``room`` carries the target (default: from the drill's target name)."""
    journal = Path(journal)
    feed = JournalFeed(journal, runbook)
    room = room or Room(journal)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    score_cache: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(feed.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(title="gameday war room", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.state.feed = feed
    app.state.room = room
    app.state.access = access

    def role_of(request: Request) -> tuple[str, Role] | None:
        token = request.cookies.get(COOKIE)
        role = access.role_of(token)
        return (token, role) if token and role else None  # type: ignore[return-value]

    def refused(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def closed_or_over() -> bool:
        """From the journal itself when the feed has not seen it yet: the feed polls, and a report asked for right
        after ``drill log close`` would be refused as not closed (CI: a loaded machine's poll came late)."""
        over = (EventType.closed, EventType.drill_ended)
        return any(e.type in over for e in feed.events) or any(e.type in over for e in read_journal(journal))

    @app.get("/join")
    def join(token: str = "") -> Response:
        if access.role_of(token) is None:
            return HTMLResponse("<h1>Unknown or expired war-room token</h1>", status_code=403)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> Response:
        who = role_of(request)
        if who is None:
            return HTMLResponse("<h1>War room</h1><p>Open the link with its join token "
                                "(printed by <code>gameday war-room</code>).</p>", status_code=401)
        token, role = who
        return templates.TemplateResponse(request, "room.html.j2", {
            "role": role,
            "csrf": access.csrf_for(token),
            "config": _page_config(runbook, role, feed.card()),
        })

    @app.get("/api/state")
    def state(request: Request) -> Response:
        who = role_of(request)
        if who is None:
            return refused(401, "no valid war-room token")
        return JSONResponse(feed.snapshot(who[1] == "gm"))

    @app.get("/api/stream")
    async def stream(request: Request) -> Response:
        who = role_of(request)
        if who is None:
            return refused(401, "no valid war-room token")
        game_master = who[1] == "gm"

        async def events() -> AsyncIterator[str]:
            sent_seq, sent_revealed, quiet = -2, None, 0.0
            while not await request.is_disconnected():
                version = feed.version
                rendered = feed.rendered(game_master)
                if rendered.revealed != sent_revealed:
                    body = feed.snapshot(game_master)
                elif rendered.last_seq != sent_seq or quiet >= PUSH_EVERY_S:
                    body = feed.update(game_master, sent_seq)
                else:
                    body = None
                if body is not None:
                    sent_seq, sent_revealed, quiet = body["last_seq"], rendered.revealed, 0.0
                    yield f"event: {body['kind']}\ndata: {json.dumps(body, default=str)}\n\n"
                started = asyncio.get_running_loop().time()
                await feed.wait(version, PUSH_EVERY_S)
                quiet += asyncio.get_running_loop().time() - started

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.post("/api/act")
    async def act(request: Request) -> Response:
        who = role_of(request)
        if who is None:
            return refused(403, "no valid war-room token")
        token, role = who
        if not access.csrf_ok(token, request.headers.get(CSRF_HEADER)):
            return refused(403, f"missing or wrong {CSRF_HEADER} header")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            given = shown(media) if media else "no Content-Type"
            return refused(415, f"send the body as application/json, not {given}")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return refused(413, f"request body over {MAX_BODY_BYTES} bytes")
        body = await _read_body(request)
        if body is None:  # chunked, or a Content-Length that understated it: counted as it came
            return refused(413, f"request body over {MAX_BODY_BYTES} bytes")
        try:
            parsed = parse_request(body, game_master=role == "gm")
            event = await run_in_threadpool(room.perform, parsed)
        except RequestRefused as exc:
            return refused(exc.status, exc.message)
        return JSONResponse({"ok": True, "seq": event.seq, "type": event.type.value, "actor": event.actor})

    @app.get("/api/score")
    def score(request: Request) -> Response:
        who = role_of(request)
        if who is None:
            return refused(401, "no valid war-room token")
        if who[1] != "gm" and not closed_or_over():
            return refused(403, "the score is shown to responders after the incident is closed")
        key = f"{feed.version}"
        if score_cache.get("key") != key:
            from gameday.scoring.engine import score_journal

            result = score_journal(journal)
            score_cache.update(key=key, body=json.loads(result.model_dump_json()))
        return JSONResponse(score_cache["body"])

    @app.get("/api/draft/{name}")
    def draft(name: str, request: Request) -> Response:
        who = role_of(request)
        if who is None:
            return refused(401, "no valid war-room token")
        from drills.warroom.drafts import draft_text

        blind = who[1] != "gm" and not feed.rendered(False).revealed
        try:
            text = draft_text(name, journal, runbook, blind=blind)
        except KeyError:
            from drills.warroom.drafts import DRAFTS

            return refused(404, f"no draft {shown(name)}; expected one of {', '.join(DRAFTS)}")
        if blind:
            text = feed.redactor.text(text)  # system-written: may name the fault
        return JSONResponse({"name": name, "text": text})

    @app.get("/api/report")
    def report(request: Request) -> Response:
        who = role_of(request)
        if who is None:
            return refused(401, "no valid war-room token")
        if not closed_or_over():
            return refused(409, "the report is written once the incident is closed")
        out = journal.parent / REPORT_DIR
        if not (out / "report.html").exists() or (out / "report.html").stat().st_mtime < journal.stat().st_mtime:
            from gameday.report import build_report

            build_report(journal=journal, out=out)
        from sim.review_cli import write_team_trend

        trend = write_team_trend(out)
        return JSONResponse({"html": "/report/report.html", "chart": "/report/timeline.png",
                             "trend": "/report/review.html" if trend else None})

    @app.get("/report/{name}")
    def report_file(name: str, request: Request) -> Response:
        if role_of(request) is None:
            return refused(401, "no valid war-room token")
        path = journal.parent / REPORT_DIR / name
        if name not in REPORT_FILES or not path.is_file():
            return refused(404, f"no report file {name!r}")
        return FileResponse(path)

    @app.exception_handler(404)
    async def not_found(_: Request, __: Exception) -> Response:
        return refused(404, "no such page")

    return app


async def _read_body(request: Request) -> bytes | None:
    """The request body, or None once it grows past :data:`MAX_BODY_BYTES` (never held whole in memory)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _page_config(runbook: Runbook, role: str, card: dict[str, Any]) -> dict[str, Any]:
    """What the page's forms offer, from the runbook (severities, roles, channels, ladder), and the runbook's
    command card for the drill's target (text only: the page sets it with textContent)."""
    return {
        "role": role,
        "card": card,
        "severities": [{"level": s.level, "name": s.name, "label": s.label, "definition": s.definition,
                        "channels": s.update_channels} for s in runbook.severities],
        "roles": [{"abbreviation": r.abbreviation, "name": r.name} for r in runbook.roles],
        "ladder": [{"level": lv.level, "role": lv.role} for lv in runbook.escalation.technical],
        "thresholds": {"error_rate": runbook.verification.error_rate_below,
                       "p95_seconds": runbook.verification.p95_below_seconds},
        "remediations": remediation_buttons(),  # the remediation catalogue (gameday.remediations)
        "communicate": communicate_config(runbook),  # the Communicate panel's forms, from the runbook's templates
    }
