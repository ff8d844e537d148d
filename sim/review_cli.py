"""``gameday review monthly | weekly``: the runbook's monthly incident review and the weekly action-item list.

The review itself is the core's (:mod:`gameday.history.review`); it lives on the simulator's side of the CLI
because it judges the incident-count trend with the simulator's detectability test (Davidovič 2021) and sets a
simulated baseline (the stored one, else one simulated for the review) beside what was observed.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from gameday.errors import InputError

HistoryOpt = Annotated[Path | None, typer.Option(
    "--history", help="the store; default $GAMEDAY_HISTORY, else $GAMEDAY_STATE_DIR/history.duckdb")]
TodayOpt = Annotated[str | None, typer.Option("--today", help="judge due dates as of this day (YYYY-MM-DD); "
                                                              "default: today")]


def register(app: typer.Typer) -> None:
    review_app = typer.Typer(help="The runbook's monthly incident review and weekly action-item list.",
                             no_args_is_help=True)
    app.add_typer(review_app, name="review")

    @review_app.command("monthly")
    def monthly(
        month: Annotated[str | None, typer.Option("--month", help="YYYY-MM; default: the latest stored")] = None,
        out: Annotated[Path | None, typer.Option("--out", help="folder for review.html and review.md; default "
                                                               "out/review/<month>")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the review's data as JSON instead")] = False,
        runbook: Annotated[Path | None, typer.Option("--runbook", help="targets from this runbook; default: "
                                                                       "the shipped one")] = None,
        window_days: Annotated[int, typer.Option("--repeat-window-days", min=1, help="same fault or root cause "
                                                 "within this many days is a repeat")] = 90,
        baseline_policy: Annotated[Path | None, typer.Option(
            "--baseline-policy", help="with no simulated journal stored, simulate this policy as the baseline; "
                                      "default: the shipped scenarios/policies/baseline.yaml")] = None,
        baseline_seed: Annotated[int, typer.Option("--baseline-seed", min=0, help="that simulation's seed")] = 1,
        history: HistoryOpt = None,
        today: TodayOpt = None,
    ) -> None:
        """Incident count and trend, MTTD/MTTA/MTTR against targets beside a simulated baseline, repeats, drill
        scores, failed checks and open action items (overdue first)."""
        from gameday.history.ingest import parse_month
        from gameday.history.render import write_monthly
        from gameday.history.review import monthly_review
        from gameday.history.store import HistoryStore
        from gameday.runbook import load_runbook
        from sim.detectability import count_trend_noise
        from sim.review_baseline import simulated_baseline

        if month is not None:
            parse_month(month)  # a bad --month is refused before the store is opened
        day = _day(today)
        rb = load_runbook(runbook)
        if baseline_policy is not None and not baseline_policy.is_file():
            raise InputError(baseline_policy, "--baseline-policy", "no such file")
        store = HistoryStore(history)
        review = monthly_review(store, rb, month, today=day, count_noise=count_trend_noise, window_days=window_days,
                                simulate=lambda: simulated_baseline(rb, baseline_policy, seed=baseline_seed))
        if as_json:
            typer.echo(json.dumps(review, indent=2, default=str))
            return
        for path in write_monthly(review, out or Path("out") / "review" / review["month"], store.path):
            typer.echo(str(path))

    @review_app.command("weekly")
    def weekly(
        history: HistoryOpt = None,
        today: TodayOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the items as JSON")] = False,
    ) -> None:
        """The open action items for the weekly team meeting, overdue first."""
        from gameday.history.render import weekly_markdown
        from gameday.history.review import weekly_review
        from gameday.history.store import HistoryStore

        review = weekly_review(HistoryStore(history), _day(today))
        typer.echo(json.dumps(review, indent=2, default=str) if as_json else weekly_markdown(review), nl=not as_json)


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(None, "--today", f"not a date: {text!r} (YYYY-MM-DD)") from None


def write_team_trend(out: Path, history: Path | None = None) -> Path | None:
    """The monthly review (``review.html``) in ``out`` for the war room's after-close view; None when there is no
    store to read (a first drill on this machine, ``GAMEDAY_HISTORY=off``): the view then shows no link."""
    from gameday.errors import GamedayError
    from gameday.history.render import write_monthly
    from gameday.history.review import monthly_review
    from gameday.history.store import HistoryStore
    from gameday.runbook import load_runbook
    from sim.detectability import count_trend_noise
    from sim.review_baseline import simulated_baseline

    store = HistoryStore(history, lock_timeout=10.0)
    if not store.path.is_file():
        return None
    try:
        runbook = load_runbook()
        review = monthly_review(store, runbook, count_noise=count_trend_noise,
                                simulate=lambda: simulated_baseline(runbook))
        return write_monthly(review, out, store.path)[0]
    except GamedayError:
        return None
