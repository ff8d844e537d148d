"""Simulator speed: both engines on the full runbook lifecycle vs bare SimPy, and `compare` on 1e6 incidents.

Run: .venv/bin/python benchmarks/bench_sim.py [--runbook PATH] [--incidents 1000000] [--workers 2] [--simpy-only]
Targets (issue #3, #13): the SimPy engine's events/s >= 50% of bare SimPy's events/s on one core (the vector
kernel's incidents/s is shown against the same yardstick); compare of 1e6 incidents x 2 policies <= 60 s
on 2 cores.  Bare SimPy is 100 processes that only wait (``yield env.timeout(1.0)`` in a loop), made to
process exactly as many events as the engine's replication just did; each round times the engine, then bare
SimPy, in CPU seconds of this process (``time.process_time``), so other work on a shared machine slows both
alike, and the verdict is the median of the rounds' ratios.  Events are what SimPy processed (its event-id
counter), so work the engine does outside SimPy events (draws, routing, the pool's uncontended grants) counts
against it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bare_simpy_events_per_second(processes: int = 100, events: int = 2_000_000) -> float:
    """The cheapest possible SimPy model: ``processes`` processes that only wait, for ``events`` events
    (setting up the environment and the processes included, as the engine's figure includes its setup)."""
    import simpy

    def ticker(env):
        while True:
            yield env.timeout(1.0)

    start = time.process_time()
    env = simpy.Environment()
    for _ in range(processes):
        env.process(ticker(env))
    env.run(until=events // processes)
    return processes * (events // processes) / (time.process_time() - start)


def simpy_engine_vs_bare_simpy(model, m: int = 30_000, rounds: int = 5) -> None:
    """Rounds of: one replication of ``m`` incidents, then bare SimPy for the same number of events."""
    from sim.engine_simpy import simulate

    simulate(model, 500, 99)  # first-use costs (imports, numpy/scipy set-up) are not the engine's
    figures = []
    for seed in range(rounds):
        start = time.process_time()
        _, engine = simulate(model, m, seed)
        cpu = time.process_time() - start
        bare = bare_simpy_events_per_second(events=engine.events)
        figures.append((engine.events / cpu / bare, engine.events / cpu, m / cpu, bare, engine.events / m))
    ratio, sim_ev, sim_inc, bare, per_inc = (statistics.median(f[c] for f in figures) for c in range(5))
    print(f"SimPy engine, one core:        {sim_inc:>12,.0f} incidents/s, {sim_ev:,.0f} events/s per CPU-second "
          f"({per_inc:.1f} SimPy events per incident, {m:,} per replication, setup and collection included)")
    print(f"bare SimPy, same event count:  {bare:>12,.0f} events per CPU-second (100 processes that only wait)")
    verdict = "meets" if ratio >= 0.5 else "does NOT meet"
    print(f"  = {ratio:.0%} of bare SimPy events/s (median of {rounds} rounds, each the engine then bare SimPy; "
          f"range {min(f[0] for f in figures):.0%}-{max(f[0] for f in figures):.0%}) -> {verdict} the >= 50% target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runbook", type=Path, default=None)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--simpy-only", action="store_true", help="only the SimPy engine against bare SimPy")
    args = parser.parse_args()

    from gameday.runbook import DEFAULT_RUNBOOK, load_runbook
    from sim.compare import compare
    from sim.kernel import run_replication
    from sim.model import compile_model
    from sim.policy import load_policy

    runbook_path = args.runbook or (DEFAULT_RUNBOOK if DEFAULT_RUNBOOK.exists()
                                    else REPO.parent / "shared" / "runbooks" / "incident-response.md")
    runbook = load_runbook(runbook_path)
    policies = REPO / "scenarios" / "policies"
    baseline = load_policy(str(policies / "baseline.yaml"))
    other = load_policy(str(policies / "faster-escalation.yaml"))
    model = compile_model(baseline, runbook)

    simpy_engine_vs_bare_simpy(model)
    if args.simpy_only:
        return
    from sim.engine_simpy import simulate

    events = best = 0.0
    n = 200_000
    for seed in range(3):
        events = max(events, bare_simpy_events_per_second())
        start = time.perf_counter()
        run_replication(model, n, seed)
        best = max(best, n / (time.perf_counter() - start))
    print(f"bare SimPy:                    {events:>12,.0f} events/s (best of 3)")
    print(f"vector kernel, one core:       {best:>12,.0f} incidents/s (best of 3, {n:,} per replication)")
    print(f"  = {best / events:.0%} of bare SimPy events/s in incidents/s (target >= 50%)")

    m = 30_000
    start = time.perf_counter()
    _, engine = simulate(model, m, 0, journal=True)
    wall = time.perf_counter() - start
    print(f"SimPy engine with --journal:   {m / wall:>12,.0f} incidents/s, {engine.events / wall:,.0f} events/s "
          f"({len(engine.log):,} journal rows)")

    start = time.perf_counter()
    result = compare(baseline, other, runbook, args.incidents, seed=1, replications=10, workers=args.workers)
    wall = time.perf_counter() - start
    print(f"compare {args.incidents:,} incidents x 2 policies, {args.workers} workers: {wall:.1f} s (target <= 60 s)")
    r = result["mttr"]
    print(f"  MTTR {other.name} - {baseline.name}: {r['difference']:+.2f} min "
          f"[{r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f}] -> {r['verdict']}")


if __name__ == "__main__":
    main()
