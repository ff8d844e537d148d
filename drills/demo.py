"""``gameday demo``: the whole pipeline once, unattended — what ``make demo`` runs on a fresh machine.

runbook → scenario → autopilot drill on the local sandbox (real services, real load, real alerts)
→ journal → score → report.  The drill always reverts its fault, whatever happens.  It lives with the drills
(it is a drill plus the core's scoring and report) and reaches the CLI as a ``gameday.commands`` entry point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = REPO / "scenarios" / "connection-pool-leak.yaml"


def demo(
    out: Annotated[Path, typer.Option("--out", help="journal, score and report go here")] = Path("out/demo"),
    scenario: Annotated[Path, typer.Option("--scenario", help="drill scenario")] = DEFAULT_SCENARIO,
    time_scale: Annotated[float | None, typer.Option("--time-scale", help="runbook s per wall s")] = None,
    seed: Annotated[int, typer.Option("--seed", help="blind delay and autopilot draws")] = 1,
    runbook: Annotated[Path | None, typer.Option("--runbook", help="default: the shipped runbook")] = None,
) -> None:
    """Run an autopilot game day on the local sandbox, then score it and write the report."""
    from drills.runner import DrillOptions, run_drill
    from gameday.report import build_report
    from gameday.scoring.engine import score_journal
    from gameday.scoring.junit import write_junit
    from gameday.scoring.render_text import print_score
    from gameday.terminal import make_console

    console = make_console()
    console.rule("gameday demo: autopilot drill on the local sandbox")
    summary = run_drill(
        DrillOptions(
            scenario_path=scenario,
            target="local",
            responder="autopilot",
            time_scale=time_scale,
            out_dir=out,
            seed=seed,
            runbook=runbook,
        ),
        console,
    )
    journal = Path(summary.journal)
    console.rule("score against the runbook")
    result = score_journal(journal, runbook, None)
    print_score(result, console)
    drill_dir = journal.parent
    write_junit(result, drill_dir / "score.xml")
    (drill_dir / "score.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")
    written = build_report(journal=journal, out=drill_dir / "report", runbook=runbook)
    html = next((p for p in written if p.suffix == ".html"), None)
    console.rule("done")
    console.print(f"journal: {journal}\nscore:   {drill_dir / 'score.json'} (JUnit: {drill_dir / 'score.xml'})")
    console.print(f"report:  {html}")
    console.print("The sandbox is still up for you to explore: `gameday sandbox status`, `gameday sandbox down`.")
    if summary.outcome != "closed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
