"""``gameday sweep``: a grid or an Optuna search over policy fields, locally or on a Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

Opt = typer.Option


def register(app: typer.Typer) -> None:
    @app.command()
    def sweep(
        file: Annotated[Path | None, typer.Argument(
            help="sweep YAML (kind: sweep); command-line options override its fields")] = None,
        policy: Annotated[Path | None, Opt("--policy", help="base policy YAML (kind: policy)")] = None,
        vary: Annotated[list[str] | None, Opt(
            "--vary", help="PATH=v1,v2,... (grid) or PATH=low:high (--search), e.g. "
            "escalation.levels[0].after_minutes=5,10,15; repeatable")] = None,
        incidents: Annotated[int | None, Opt("--incidents", min=1, help="incidents per point")] = None,
        replications: Annotated[int | None, Opt("--replications", min=1)] = None,
        seed: Annotated[int | None, Opt("--seed", help="same seed => bit-identical results anywhere")] = None,
        runbook: Annotated[Path | None, Opt("--runbook", help="runbook markdown (default: shipped)")] = None,
        engine: Annotated[str | None, Opt("--engine", help="vector (default), simpy or auto")] = None,
        chunk_incidents: Annotated[int | None, Opt(
            "--chunk-incidents", help="longer replications run as independent chunks of this size")] = None,
        search: Annotated[int | None, Opt("--search", min=1, help="Optuna trials instead of the full grid")] = None,
        search_batch: Annotated[int | None, Opt("--search-batch", min=1, help="trials proposed at once")] = None,
        minimise: Annotated[str | None, Opt("--minimise", "--minimize",
                                            help="metric, e.g. mttr.SEV-1.p95 (default mttr.mean)")] = None,
        subject_to: Annotated[list[str] | None, Opt(
            "--subject-to", help="constraint, e.g. pages_per_week<=40; repeatable")] = None,
        workers: Annotated[int, Opt("--workers", min=1, help="local processes; results do not depend on it")] = 1,
        scheduler: Annotated[str | None, Opt(
            "--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786 (instead of local processes)")] = None,
        out: Annotated[Path | None, Opt("--out", help="tidy table: .parquet or .csv")] = None,
        plot: Annotated[Path | None, Opt("--plot", help="Pareto plot PNG")] = None,
        best_out: Annotated[Path | None, Opt("--best-out", help="write the best point as a policy YAML")] = None,
        best_name: Annotated[str | None, Opt("--best-name", help="name of that policy")] = None,
        as_json: Annotated[bool, Opt("--json", help="print JSON")] = False,
    ) -> None:
        """Sweep policy fields on common random numbers: every point vs the base with paired 95% CIs."""
        from gameday.errors import InputError
        from sim.sweep.execute import executor_for
        from sim.sweep.plan import make_plan
        from sim.sweep.run import run_sweep
        from sim.sweep.spec import build_sweep, load_sweep, parse_vary

        overrides: dict[str, Any] = {}
        for key, value in (("incidents", incidents), ("replications", replications), ("seed", seed),
                           ("engine", engine), ("chunk_incidents", chunk_incidents), ("search", search),
                           ("search_batch", search_batch), ("minimise", minimise)):
            if value is not None:
                overrides[key] = value
        if policy is not None:
            overrides["policy"] = str(policy.resolve())
        if runbook is not None:
            overrides["runbook"] = str(runbook.resolve())
        if vary:
            overrides["vary"] = [parse_vary(text) for text in vary]
        if subject_to:
            overrides["subject_to"] = list(subject_to)
        if file is not None:
            spec = load_sweep(file, overrides)
        else:
            if policy is None:
                raise InputError(None, "--policy", "give a base policy (or a sweep file)")
            if not vary:
                raise InputError(None, "--vary", "give at least one PATH=v1,v2,... to vary")
            spec = build_sweep({"kind": "sweep", **overrides}, Path.cwd())
        plan = make_plan(spec)
        executor = executor_for(workers, scheduler)
        try:
            with _progress_bar(plan) as progress:
                result = run_sweep(plan, executor, progress)
        finally:
            executor.close()
        written = _write_outputs(result, out, plot, best_out, best_name)
        if as_json:
            typer.echo(json.dumps(_summary(result) | {"written": written}, indent=2, default=str))
            return
        _print(result, written)


def _progress_bar(plan):
    """Points done, incidents/s and ETA on a terminal (stderr); nothing otherwise."""
    import time
    from contextlib import contextmanager

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    @contextmanager
    def bar():
        console = Console(stderr=True)
        total_points = (plan.sweep.search or len(plan.points) - 1) + 1
        started = time.perf_counter()
        if not console.is_terminal:  # a CI log or a pipe: a progress line every 10 s instead of a bar
            from gameday.terminal import ProgressLines

            lines = ProgressLines("sweep", unit="tasks")

            def log(tick) -> None:
                lines.total = tick.tasks_total
                lines.advance(tick.tasks_done - lines.done, f"{tick.points_done}/{total_points} points")

            yield log
            return
        with Progress(TextColumn("sweep"), BarColumn(), TextColumn("{task.fields[points]} points"),
                      TextColumn("{task.fields[rate]} incidents/s"), TimeRemainingColumn(), console=console,
                      transient=True) as progress:
            task = progress.add_task("sweep", total=None, points=f"0/{total_points}", rate="—")

            def update(tick) -> None:
                rate = tick.incidents_done / max(time.perf_counter() - started, 1e-9)
                # a search's total grows batch by batch: the bar counts tasks of the points known so far
                progress.update(task, completed=tick.tasks_done, total=tick.tasks_total,
                                points=f"{tick.points_done}/{total_points}", rate=f"{rate:,.0f}")

            yield update

    return bar()


def _write_outputs(result, out, plot, best_out, best_name) -> dict[str, str]:
    from sim.sweep.output import pareto_plot, write_best, write_table

    written: dict[str, str] = {}
    if out is not None:
        written["table"] = str(write_table(result.table, out))
    if plot is not None:
        written["plot"] = str(pareto_plot(result, plot))
    if best_out is not None:
        path = write_best(result, best_out, best_name)
        if path is not None:
            written["best"] = str(path)
    return written


def _summary(result) -> dict:
    from sim.sweep.metrics import ALL
    from sim.sweep.output import gain_text
    from sim.sweep.run import feasible

    plan, frame = result.plan, result.table
    key, severity = plan.objective
    points = []
    for res in result.points:
        p = res.point.index
        row = frame[(frame["point"] == p) & (frame["severity"] == severity)].iloc[0]
        allrow = frame[(frame["point"] == p) & (frame["severity"] == ALL)].iloc[0]
        points.append({
            "point": p, "label": res.point.label, "changes": res.point.changes,
            "objective": _num(row[key]), "difference": _num(row[f"{key}_diff"]),
            "ci95": [_num(row[f"{key}_diff_low"]), _num(row[f"{key}_diff_high"])],
            "feasible": feasible(plan, frame, p),
            "pages_per_week": _num(allrow["pages_per_week"]),
            "people_hours_per_week": _num(allrow["people_hours_per_week"]),
            "utilisation": _num(allrow["utilisation"]),
        })
    return {
        "sweep": plan.sweep.name, "base": plan.base.name, "mode": "search" if plan.sweep.search else "grid",
        "minimise": plan.sweep.minimise, "subject_to": [c.text for c in plan.constraints],
        "points": points, "incidents": result.incidents, "seconds": round(result.seconds, 3),
        "incidents_per_second": result.incidents / result.seconds if result.seconds else None,
        "where": result.where, "engine": plan.engine, "seed": plan.sweep.seed,
        "best": None if result.best is None else {"point": result.best, "gain": gain_text(result, result.best)},
        "trials": result.trials,
    }


def _num(value) -> float | None:
    value = float(value)
    return None if value != value else value


def _print(result, written: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from sim.sweep.output import gain_text, metric_label

    summary = _summary(result)
    plan = result.plan
    key, severity = plan.objective
    console = Console(highlight=False)
    table = Table(title=f"sweep {plan.sweep.name}: {len(result.points)} policies, {result.incidents:,} incidents, "
                  f"{result.seconds:.1f} s on {result.where}, {plan.engine} engine, seed {plan.sweep.seed}")
    for col in ("point", "changes", metric_label(key, severity), "vs base [95% CI]", "pages/wk", "people-h/wk",
                "on-call util", "ok"):
        table.add_column(col, overflow="fold")
    ranked = sorted(summary["points"], key=lambda p: (p["objective"] is None, p["objective"] or 0.0))
    for p in ranked[:20]:
        lo, hi = p["ci95"]
        diff = "—" if p["difference"] is None else (
            f"{p['difference']:+.2f}" + (f" [{lo:+.2f}, {hi:+.2f}]" if lo is not None else ""))
        util = "—" if p["utilisation"] is None else f"{p['utilisation']:.0%}"
        table.add_row(str(p["point"]), _short(p["changes"]), _fmt(p["objective"]), diff, _fmt(p["pages_per_week"]),
                      _fmt(p["people_hours_per_week"]), util, "yes" if p["feasible"] else "no")
    console.print(table)
    if len(ranked) > 20:
        console.print(f"(best 20 of {len(ranked)} shown; the table file has every point)")
    if result.best is None:
        console.print("No point meets the constraints.")
    else:
        best = next(p for p in summary["points"] if p["point"] == result.best)
        console.print(f"Best: point {result.best} ({best['label']}): {gain_text(result, result.best)}")
    for what, path in written.items():
        console.print(f"Wrote {what}: {path}")


def _short(changes: dict) -> str:
    """``escalation.levels[0].after_minutes=10`` -> ``after_minutes=10`` (the table file keeps full paths)."""
    if not changes:
        return "base"
    return ", ".join(f"{path.rsplit('.', 1)[-1]}={value}" for path, value in changes.items())


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
