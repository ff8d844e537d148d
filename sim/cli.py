"""``gameday simulate | compare | detectability | calibrate | sweep`` (heavy imports stay inside the commands)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

PolicyOpt = Annotated[Path, typer.Option("--policy", help="policy YAML (kind: policy)")]
RunbookOpt = Annotated[
    Path | None, typer.Option("--runbook", help="runbook markdown; default: the runbook gameday ships")
]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="random seed; same seed => bit-identical results")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, help="processes; results do not depend on it")]
RepsOpt = Annotated[int, typer.Option("--replications", min=1, help="independent replications (CIs over them)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
EngineOpt = Annotated[str, typer.Option(
    "--engine", help="simpy (one SimPy process per incident), vector (numpy kernel, fast) or auto: simpy for "
    "--journal runs and up to 20,000 incidents per policy, vector otherwise")]


def _progress(total: int, enabled: bool):
    """A rich progress bar on stderr for long runs; a no-op context otherwise."""
    from contextlib import nullcontext

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not enabled:
        return nullcontext(None)
    if not console.is_terminal:  # a CI log or a pipe: a line every 10 s instead of a bar
        from gameday.terminal import ProgressLines

        return nullcontext(ProgressLines("simulating", total, unit="incidents"))
    return Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)


def _advance(bar, total: int):
    if bar is None:
        return None
    if not hasattr(bar, "add_task"):  # ProgressLines
        return bar.advance
    task = bar.add_task("incidents", total=total)
    return lambda n: bar.advance(task, n)


def _fmt(block: dict) -> str:
    if block.get("mean") is None:
        return "—"
    lo, hi = block["ci95"]
    ci = f" [{lo:.1f}–{hi:.1f}]" if lo == lo else ""
    return f"{block['mean']:.1f}{ci}"


def register(app: typer.Typer) -> None:
    from sim.review_cli import register as register_review
    from sim.sweep.cli import register as register_sweep

    register_sweep(app)
    register_review(app)

    @app.command()
    def simulate(
        policy: PolicyOpt,
        incidents: Annotated[int, typer.Option("--incidents", min=1, help="incidents to simulate")] = 10_000,
        seed: SeedOpt = 1,
        runbook: RunbookOpt = None,
        workers: WorkersOpt = 1,
        replications: RepsOpt = 10,
        journal: Annotated[Path | None, typer.Option("--journal", help="write every incident's events")] = None,
        engine: EngineOpt = "auto",
        as_json: JsonOpt = False,
    ) -> None:
        """Simulate incidents through the runbook's workflow under a policy: MTTD/MTTA/MTTR, compliance."""
        from rich.table import Table

        from gameday.runbook import load_runbook
        from sim.model import compile_named
        from sim.policy import load_policy
        from sim.runner import Outcome, choose_engine, run, split
        from sim.stats import summarise

        pol = load_policy(str(policy))
        rb = load_runbook(runbook)
        model = compile_named(pol, rb, policy)
        engine = choose_engine(engine, incidents, journal is not None)
        rows = []
        if journal is not None and engine == "simpy":
            # one pass, in this process: the engine logs while it runs (numbers are the same at any --workers)
            from sim.engine_simpy import simulate as simulate_simpy

            outcomes = []
            for r, n in enumerate(split(incidents, replications)):
                rep, eng = simulate_simpy(model, n, seed, r, journal=True)
                outcomes.append(Outcome.of(model, rep, r))
                rows.append(eng.journal_rows(rep))
        else:
            with _progress(incidents, incidents >= 200_000) as bar:
                outcomes = run(pol, rb, incidents, seed, replications=replications, workers=workers,
                               progress=_advance(bar, incidents), engine=engine)
        result = summarise(model, outcomes) | {"seed": seed, "engine": engine}
        if journal is not None:
            from sim.journal_out import write_journal, write_rows

            if engine == "simpy":
                events = write_rows(journal, model, rows)
            else:
                from sim.kernel import run_replication

                reps = [(r, run_replication(model, n, seed, r, trace=True))
                        for r, n in enumerate(split(incidents, replications))]
                events = write_journal(journal, model, reps)
            result["journal"] = {"path": str(journal), "events": events}
        if as_json:
            typer.echo(json.dumps(result, indent=2))
            return
        from gameday.terminal import make_console

        console = make_console()
        table = Table(title=f"{pol.name}: {result['incidents']} incidents, seed {seed}, {engine} engine "
                      "(minutes, mean [95% CI])")
        for col in ("severity", "n", "MTTD", "MTTA", "MTTR", "MTTR p95", "MTTR target met", "compliant"):
            table.add_column(col)
        for sev, block in [*result["by_severity"].items(), ("all", result)]:
            mttr_c = block.get("within_target", {}).get("mttr")
            met = "—"  # also when no incident of this severity has an MTTR target
            if mttr_c:
                goal = mttr_c["target_minutes"]
                met = f"{mttr_c['within']:.0%}" + ("" if goal is None else f" ≤ {goal:g}")
            p95 = block["mttr"]["p95"]
            compliant = block.get("compliance")
            table.add_row(sev, str(block["mttr"]["count"]), _fmt(block["mttd"]), _fmt(block["mtta"]),
                          _fmt(block["mttr"]), "—" if p95 is None else f"{p95:.0f}", met,
                          "—" if compliant is None else f"{compliant:.0%}")
        console.print(table)
        console.print("compliant: met every runbook target that applies (MTTD, MTTA, the severity's response time "
                      "for the time to declare, its MTTR target)", style="dim")
        util = result["utilisation"]["oncall"]
        console.print(f"On-call utilisation: {util:.1%}" if util is not None else "On-call: unlimited")
        if journal is not None:
            console.print(f"Journal: {journal} ({result['journal']['events']} events)")

    @app.command()
    def compare(
        policy: Annotated[list[Path], typer.Option("--policy", help="exactly two policy YAMLs: A then B")],
        incidents: Annotated[int, typer.Option("--incidents", min=2)] = 10_000,
        seed: SeedOpt = 1,
        runbook: RunbookOpt = None,
        workers: WorkersOpt = 1,
        replications: RepsOpt = 10,
        plot: Annotated[Path | None, typer.Option("--plot", help="write a PNG of the paired differences")] = None,
        engine: EngineOpt = "auto",
        as_json: JsonOpt = False,
    ) -> None:
        """Policy A vs B on common random numbers: paired differences (B - A) with 95% CIs."""
        from gameday.errors import InputError
        from gameday.runbook import load_runbook
        from sim.compare import compare as run_compare
        from sim.model import compile_named
        from sim.policy import load_policy

        if len(policy) != 2:
            raise InputError(None, "--policy", f"give exactly two policies (got {len(policy)})")
        pa, pb = (load_policy(str(p)) for p in policy)
        rb = load_runbook(runbook)
        for pol, path in ((pa, policy[0]), (pb, policy[1])):
            compile_named(pol, rb, path)  # fail fast, naming the file
        with _progress(2 * incidents, incidents >= 100_000) as bar:
            result = run_compare(pa, pb, rb, incidents, seed, replications=replications, workers=workers,
                                 progress=_advance(bar, 2 * incidents), engine=engine)
        if plot is not None:
            from sim.plots import compare_plot

            result["plot"] = str(compare_plot(result, plot))
        if as_json:
            typer.echo(json.dumps(result, indent=2))
            return
        typer.echo(f"A = {pa.name}, B = {pb.name}; {incidents} incidents each, seed {seed}, common random numbers, "
                   f"{result['engine']} engine")
        for name in ("mttd", "mtta", "mttr"):
            r = result[name]
            lo, hi = r["ci95"]
            typer.echo(f"{name.upper()}: A {r['a']:.1f}  B {r['b']:.1f}  B-A {r['difference']:+.2f} min "
                       f"[{lo:+.2f}, {hi:+.2f}]  {r['verdict']}")
        r = result["compliance"]
        lo, hi = r["ci95"]
        typer.echo(f"Compliance (every runbook target met): A {r['a']:.1%}  B {r['b']:.1%}  "
                   f"B-A {100 * r['difference']:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]  {r['verdict']}")
        for sev, block in result["by_severity"].items():
            r = block["mttr"]
            if r["difference"] is not None:
                lo, hi = r["ci95"]
                typer.echo(f"  {sev} MTTR B-A {r['difference']:+.2f} [{lo:+.2f}, {hi:+.2f}]  {r['verdict']}")

    @app.command()
    def detectability(
        incidents: Annotated[list[int], typer.Option("--incidents", help="incidents per group (repeatable)")] = [  # noqa: B006
            20, 100, 500],
        improvement: Annotated[float, typer.Option(
            "--improvement", help="true MTTR reduction, 0.1 = 10%; 0 = no change (how often noise looks like a gain)")
        ] = 0.1,
        durations: Annotated[Path | None, typer.Option("--durations", help="CSV of incident durations")] = None,
        column: Annotated[str | None, typer.Option("--column", help="CSV column (default: first numeric)")] = None,
        median: Annotated[float, typer.Option("--median", help="lognormal median minutes")] = 60.0,
        sigma: Annotated[float, typer.Option("--sigma", help="lognormal sigma")] = 1.2,
        threshold: Annotated[float, typer.Option("--threshold", help="'improved by at least X minutes'")] = 5.0,
        trials: Annotated[int, typer.Option("--trials", min=100)] = 2000,
        seed: SeedOpt = 0,
        as_json: JsonOpt = False,
    ) -> None:
        """Would you even notice an MTTR improvement?  Monte Carlo after Davidovič (Google, 2021)."""
        import numpy as np

        from gameday.errors import InputError
        from sim.detectability import experiment, incidents_needed

        sample = None
        if durations is not None:
            from sim.dists import Empirical

            try:
                sample = Empirical(path=str(durations), column=column)._values
            except ValueError as exc:
                raise InputError(durations, column, str(exc).splitlines()[-1]) from None
        if improvement < 0:
            raise InputError(None, "--improvement", f"{improvement:g} would mean MTTR got worse; this asks how a "
                             "real improvement (or none: 0) looks, so give 0 <= X < 1 (0.1 = 10% faster)")
        if improvement >= 1:
            raise InputError(None, "--improvement", "must be below 1 (1 = incidents take no time at all)")
        kw = {"sample": sample, "median": median, "sigma": sigma}
        rows = [experiment(n, improvement, trials=trials, seed=seed, threshold_minutes=threshold, **kw)
                for n in incidents]
        # with no true change no N ever shows one: the question is how often noise looks like a gain
        needed = incidents_needed(improvement, trials=min(trials, 1000), seed=seed, **kw) if improvement else None
        source = (f"{durations} ({sample.size} values)" if sample is not None
                  else f"lognormal(median {median:g}, σ {sigma:g})")
        result = {"durations": source, "improvement": improvement, "results": rows,
                  "incidents_needed": needed,
                  "incidents_needed_rule": "smallest N whose 90% interval of the observed MTTR difference excludes 0"
                  + ("" if improvement else " (none: with no true change no N shows one)")}
        if as_json:
            typer.echo(json.dumps(result, indent=2))
            return
        change = f"true improvement {improvement:.0%}" if improvement else "no true change (improvement 0)"
        typer.echo(f"Durations: {source}; {change}; {trials} trials per N")
        for r in rows:
            lo, hi = r["ci90_mean_difference"]
            typer.echo(f"N={r['incidents_per_group']:>6}: looked worse {r['p_worse']:.0%}, improved ≥{threshold:g} min "
                       f"{r['p_improved_by_threshold']:.0%}, 90% CI of MTTR change [{lo:+.1f}, {hi:+.1f}] min")
        if not improvement:
            typer.echo(f"Nothing changed: every 'improved ≥{threshold:g} min' above is noise that looks like a gain.")
        else:
            typer.echo(f"Incidents needed per group to see it reliably: {needed if needed else '> ' + str(50000)}")
        _ = np

    @app.command()
    def calibrate(
        out: Annotated[Path, typer.Option("--out", help="policy YAML to write")],
        inputs: Annotated[list[Path] | None, typer.Argument(
            help="drill journals (.jsonl), past incidents' timelines (.md) and/or incident-history CSVs")] = None,
        base: Annotated[Path | None, typer.Option("--base", help="policy to start from; default: the shipped "
                                                                 "baseline")] = None,
        figure: Annotated[Path | None, typer.Option("--figure", help="goodness-of-fit PNG (default: OUT.png)")] = None,
        history: Annotated[bool, typer.Option("--history", help="also fit from the history store's drills and past "
                                                                "incidents (gameday history)")] = False,
        store: Annotated[Path | None, typer.Option("--store", help="the history store for --history; default "
                                                                   "$GAMEDAY_STATE_DIR/history.duckdb")] = None,
        seed: Annotated[int, typer.Option("--seed", min=0, help="the simulations' seed; same seed => same "
                                                                "policy")] = 1,
        as_json: JsonOpt = False,
    ) -> None:
        """Fit decision odds and step durations from journals, timelines, incident history or the history store,
        each weighted by what it can tell; write a policy and say what was fitted and what kept the base."""
        from gameday.errors import InputError
        from sim.calibrate import calibrate as run_calibrate
        from sim.calibrate_text import lines

        if not inputs and not history:
            raise InputError(None, "INPUTS", "give journals, timelines or CSVs, or --history")
        result = run_calibrate(list(inputs or []), out, base, figure, history=(store or True) if history else False,
                               seed=seed)
        if as_json:
            typer.echo(json.dumps(result, indent=2, default=str))
            return
        for line in lines(result):
            typer.echo(line)
