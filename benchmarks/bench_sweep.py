"""Sweep speed: points x incidents per second on 1 and 2 local workers and on a 2-worker Dask cluster.

Run: .venv/bin/python benchmarks/bench_sweep.py [--incidents 100000] [--replications 4] [--skip-target]
Targets (issue #13, vector engine, this 2-core machine): 50 points x 100,000 incidents x 10 replications
(5e7 lifecycles) in <= 3 minutes, and >= 80% scaling efficiency from 1 to 2 workers.  The Dask cluster is
a real `dask scheduler` and two `dask worker` processes on 127.0.0.1 started by this script.  Every executor
must give the same table (printed).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
L2 = "escalation.levels[0].after_minutes"


def plan_for(after: list[float], oncall: list[int], incidents: int, replications: int):
    from sim.sweep.plan import make_plan
    from sim.sweep.spec import build_sweep

    doc = {"policy": str(REPO / "scenarios" / "policies" / "baseline.yaml"), "incidents": incidents,
           "replications": replications, "engine": "vector", "seed": 1,
           "vary": [{"path": L2, "values": after}, {"path": "responders.oncall", "values": oncall}]}
    return make_plan(build_sweep(doc, REPO))


def timed(plan, executor) -> tuple[float, object]:
    from sim.sweep.run import run_sweep

    start = time.perf_counter()
    result = run_sweep(plan, executor)
    return time.perf_counter() - start, result


def warm(executor, plan) -> None:
    """Start the executor's processes (and their imports) before the clock runs."""
    from sim.sweep.points import run_points

    run_points(plan, plan.points[:1], executor)


def _cpu(result) -> float:
    """CPU seconds the workers spent on the sweep's tasks (each task measures itself)."""
    return sum(run.cpu_seconds for point in result.points for run in point.runs)


def dask_cluster():
    """A scheduler and two single-threaded workers on 127.0.0.1; returns (address, processes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dask = str(Path(sys.executable).with_name("dask"))
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              **quiet)]
    procs += [subprocess.Popen([dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                                "--no-dashboard", "--memory-limit", "0"], **quiet) for _ in range(2)]
    return address, procs


def stop(procs: list[subprocess.Popen]) -> None:
    """Workers first, then the scheduler; whatever does not leave within 20 s is killed."""
    for proc in reversed(procs):
        proc.terminate()
    for proc in reversed(procs):
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000, help="incidents per point (scaling runs)")
    parser.add_argument("--replications", type=int, default=4)
    parser.add_argument("--skip-target", action="store_true", help="skip the 50 x 100,000 x 10 run")
    parser.add_argument("--only-target", action="store_true", help="only the 50 x 100,000 x 10 run")
    args = parser.parse_args()
    if not args.only_target:
        scaling(args)
    if not args.skip_target:
        target()


def scaling(args: argparse.Namespace) -> None:
    """1 and 2 local workers and the Dask cluster on the same workload; identical tables."""
    from sim.sweep.execute import DaskExecutor, LocalExecutor, connect

    plan = plan_for([5, 15, 30, 60], [1, 2], args.incidents, args.replications)
    points, per_point = len(plan.points), args.incidents
    small = plan_for([5], [1], 2000, 2)
    print(f"workload: {points} points x {per_point:,} incidents ({args.replications} replications), vector engine; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (others' work slows every figure)")
    rates, tables, cpu_rates = {}, {}, {}
    for workers in (1, 2):
        with LocalExecutor(workers) as executor:
            warm(executor, small)
            wall, result = timed(plan, executor)
        cpu = _cpu(result)
        rates[f"{workers} local"] = points * per_point / wall
        cpu_rates[workers] = points * per_point / cpu if cpu > 0 else float("nan")
        tables[f"{workers} local"] = result.table
        print(f"{workers} local worker{'s' if workers > 1 else ' '}:       {rates[f'{workers} local']:>12,.0f} "
              f"point-incidents/s ({wall:.1f} s wall; {cpu_rates[workers]:,.0f} per CPU-second)")
    efficiency = rates["2 local"] / (2 * rates["1 local"])
    verdict = "meets" if efficiency >= 0.8 else "does NOT meet"
    print(f"  scaling 1 -> 2 workers (wall): {efficiency:.0%} -> {verdict} the >= 80% target")
    print(f"  CPU per incident, 1 worker vs 2: {cpu_rates[2] / cpu_rates[1]:.0%} (the scaling the work itself "
          "allows; the wall-clock figure also counts what else runs on the machine)")

    address, procs = dask_cluster()
    try:
        client = connect(address, timeout=60)
        client.wait_for_workers(2, timeout=60)
        client.close()
        with DaskExecutor(address) as executor:
            warm(executor, small)
            wall, result = timed(plan, executor)
        rates["dask"] = points * per_point / wall
        tables["dask"] = result.table
        print(f"Dask, 2 workers:        {rates['dask']:>12,.0f} point-incidents/s ({wall:.1f} s wall, "
              f"{rates['dask'] / rates['2 local']:.0%} of 2 local workers; "
              f"{points * per_point / _cpu(result):,.0f} per CPU-second)")
    finally:
        stop(procs)
    same = all(t.equals(tables["1 local"]) for t in tables.values())
    print(f"  tables identical across executors: {'yes' if same else 'NO'}")


def target() -> None:
    """The issue's target: 50 points x 100,000 incidents x 10 replications on 2 local workers."""
    from sim.sweep.execute import LocalExecutor

    small = plan_for([5], [1], 2000, 2)
    plan = plan_for([5, 10, 15, 20, 30, 45, 60], [1, 2, 3, 4, 5, 6, 7], 1_000_000, 10)
    lifecycles = len(plan.points) * 1_000_000
    with LocalExecutor(2) as executor:
        warm(executor, small)
        cpu = time.process_time()
        wall, result = timed(plan, executor)
    worker_cpu = _cpu(result)
    verdict = "meets" if wall <= 180 else "does NOT meet"
    print(f"target: {len(plan.points)} points x 100,000 incidents x 10 replications ({lifecycles:.0e} lifecycles), "
          f"2 local workers: {wall:.0f} s ({lifecycles / wall:,.0f} incidents/s; workers {worker_cpu:.0f} CPU-s, "
          f"client {time.process_time() - cpu:.0f} CPU-s; load average {os.getloadavg()[0]:.1f}) -> {verdict} "
          "the <= 180 s target")

if __name__ == "__main__":
    main()
