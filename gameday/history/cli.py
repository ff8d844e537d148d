"""``gameday history list | add | import | export | action done``: the store's commands (core, no plug-in)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

HistoryOpt = Annotated[Path | None, typer.Option(
    "--history", help="the store; default $GAMEDAY_HISTORY, else $GAMEDAY_STATE_DIR/history.duckdb")]
RunbookOpt = Annotated[Path | None, typer.Option(
    "--runbook", help="score against this runbook; default: the one each journal names, else the shipped one")]


def register(app: typer.Typer) -> None:
    history_app = typer.Typer(help="The incident history: drills, past incidents, reviews, action items.",
                              no_args_is_help=True)
    action_app = typer.Typer(help="Post-incident action items.", no_args_is_help=True)
    history_app.add_typer(action_app, name="action")
    app.add_typer(history_app, name="history")

    @history_app.command("add")
    def add(
        journals: Annotated[list[Path], typer.Argument(help="journal .jsonl files (drills, simulated baselines)")],
        history: HistoryOpt = None,
        runbook: RunbookOpt = None,
    ) -> None:
        """Store journals (and the review each names); the same journal twice is stored once."""
        from gameday.history.ingest import read_journal_file, read_review_file
        from gameday.history.store import HistoryStore

        rb = _runbook(runbook)
        records = [read_journal_file(path, rb) for path in journals]  # every file read before anything is written
        reviews = [read_review_file(r.review, r.name) for r in records if r.review is not None]
        _print(HistoryStore(history).add(records, reviews))

    @history_app.command("import")
    def import_(
        files: Annotated[list[Path], typer.Argument(help="past incidents' timelines (the runbook's 'Incident "
                                                         "Timeline' table) and post-incident reviews (.md)")],
        date: Annotated[str | None, typer.Option("--date", help="the timelines' date when their heading "
                                                                "names none (YYYY-MM-DD)")] = None,
        history: HistoryOpt = None,
        runbook: RunbookOpt = None,
    ) -> None:
        """Import past incidents through the timeline importer, and their reviews with their action items."""
        from gameday.history.ingest import is_review, read_review_file, read_timeline_file
        from gameday.history.store import HistoryStore

        rb = _runbook(runbook)
        reviews = [read_review_file(p) for p in files if is_review(p)]
        timelines = [read_timeline_file(p, rb, date) for p in files if not is_review(p)]
        _print(HistoryStore(history).add(timelines, reviews))

    @history_app.command("list")
    def list_(history: HistoryOpt = None,
              as_json: Annotated[bool, typer.Option("--json", help="print the rows as JSON")] = False) -> None:
        """What the store holds: one line per incident (drills, past incidents, baselines)."""
        from gameday.history.store import HistoryStore

        store = HistoryStore(history)
        frame = store.frame(
            "SELECT i.month, i.started_at, i.kind, i.incident, i.severity, i.team, i.scenario, i.score, j.name "
            "AS journal FROM incidents i JOIN journals j USING (key) WHERE i.kind <> 'sim' "
            "ORDER BY i.started_at, i.incident")
        sims = store.frame("SELECT j.name, count(*) AS n FROM incidents i JOIN journals j USING (key) "
                           "WHERE i.kind = 'sim' GROUP BY j.name ORDER BY j.name")
        actions = store.frame("SELECT status, count(*) AS n FROM action_items GROUP BY status")
        if as_json:
            frame["started_at"] = frame["started_at"].map(lambda v: v.isoformat())
            frame = frame.astype(object).where(frame.notna(), None)  # JSON null, not NaN
            typer.echo(json.dumps({"incidents": frame.to_dict("records"), "baselines": sims.to_dict("records"),
                                   "action_items": dict(zip(actions["status"], actions["n"].astype(int),
                                                            strict=True))}, indent=2, default=str))
            return
        typer.echo(f"{store.path}: {len(frame)} incident(s) and drill(s), {int(sims['n'].sum())} simulated")
        for row in frame.itertuples(index=False):
            score = "" if row.score != row.score or row.score is None else f" score {row.score:.0f}"
            who = f" team {row.team}" if isinstance(row.team, str) else ""
            typer.echo(f"  {row.started_at:%Y-%m-%d} {row.kind:<9} {row.incident} {row.severity or '—'}{who}{score}")
        for row in sims.itertuples(index=False):
            typer.echo(f"  baseline  {row.name}: {row.n} simulated incidents")
        for row in actions.itertuples(index=False):
            typer.echo(f"  action items {row.status}: {row.n}")

    @history_app.command("export")
    def export(
        parquet: Annotated[Path, typer.Option("--parquet", help="folder for one .parquet file per table")],
        history: HistoryOpt = None,
    ) -> None:
        """Write every table of the store as Parquet (for notebooks, spreadsheets, other tools)."""
        from gameday.history.store import HistoryStore

        for path in HistoryStore(history).export_parquet(parquet):
            typer.echo(str(path))

    @action_app.command("done")
    def action_done(
        ids: Annotated[list[str], typer.Argument(help="action item ids (gameday review weekly lists them)")],
        history: HistoryOpt = None,
    ) -> None:
        """Close action items: they leave the weekly and monthly reviews' open lists."""
        from gameday.history.actions import mark_done
        from gameday.history.store import HistoryStore

        now = datetime.now(UTC)
        with HistoryStore(history).writing() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                said = [mark_done(con, ident, now) for ident in ids]
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        for line in said:
            typer.echo(line)


def _runbook(path: Path | None) -> object | None:
    if path is None:
        return None
    from gameday.runbook import load_runbook

    return load_runbook(path)


def _print(done: list) -> None:
    for item in done:
        typer.echo(f"{item.path}: {item.what} ({item.detail})")
