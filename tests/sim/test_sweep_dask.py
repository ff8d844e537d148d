"""The sweep on a real Dask distributed cluster: a ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1, started from this venv.  A worker SIGKILLed mid-sweep must not change a single bit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gameday.errors import InputError
from sim.sweep.execute import DaskExecutor, LocalExecutor, connect
from sim.sweep.plan import make_plan
from sim.sweep.run import run_sweep
from sim.sweep.spec import build_sweep

DASK = Path(sys.executable).with_name("dask")
#: seconds for the scheduler and workers to come up (slow on a busy CI machine)
START_TIMEOUT = float(os.environ.get("GAMEDAY_TEST_DASK_START_TIMEOUT", "60"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Scheduler + two single-threaded workers without nannies (a killed worker stays dead)."""
    logs = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"

    def start(args: list[str], log: str) -> subprocess.Popen:
        with open(logs / log, "w") as out:  # the child keeps its own copy of the descriptor
            return subprocess.Popen([str(DASK), *args], stdout=out, stderr=subprocess.STDOUT)

    procs = [start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], "scheduler.log")]
    workers = {}
    for name in ("w1", "w2"):
        workers[name] = start(["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                               "--no-dashboard", "--memory-limit", "0", "--name", name], f"{name}.log")
        procs.append(workers[name])
    try:
        client = connect(address, timeout=START_TIMEOUT)
        client.wait_for_workers(2, timeout=START_TIMEOUT)
        client.close()
        yield {"address": address, "workers": workers, "logs": logs}
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def plan(policies_dir, seed_runbook_path):
    doc = {"policy": str(policies_dir / "baseline.yaml"), "runbook": str(seed_runbook_path),
           "vary": [{"path": "escalation.levels[0].after_minutes", "values": [10, 20]},
                    {"path": "responders.oncall", "values": [1, 2]}],
           # 5 points x 3 replications x 2 chunks = 30 tasks of 1,500 incidents on the SimPy engine
           "incidents": 9000, "replications": 3, "chunk_incidents": 1500, "engine": "simpy", "seed": 11,
           "minimise": "mttr.p95"}
    return make_plan(build_sweep(doc, Path.cwd()))


@pytest.fixture(scope="module")
def local_table(plan):
    return run_sweep(plan, LocalExecutor(1)).table


def test_dask_run_is_bit_identical_even_when_a_worker_is_killed(cluster, plan, local_table):
    killed: dict = {}
    executor = DaskExecutor(cluster["address"])

    def progress(tick) -> None:
        # after a few results, SIGKILL the worker that is busy with a task right now
        if killed or tick.tasks_done < 4:
            return
        client = executor.client()
        info = client.scheduler_info(n_workers=-1)["workers"]
        busy = [addr for addr, keys in client.processing().items() if keys]
        victim = info[busy[0]] if busy else next(iter(info.values()))
        pid = next(p.pid for name, p in cluster["workers"].items() if name == victim["name"])
        os.kill(pid, signal.SIGKILL)
        killed.update(name=victim["name"], at=tick.tasks_done, busy=bool(busy))

    try:
        result = run_sweep(plan, executor, progress)
        survivors = executor.client().scheduler_info(n_workers=-1)["workers"]
    finally:
        executor.close()
    assert killed, "the sweep finished before a worker could be killed"
    assert killed["busy"], "no worker was processing a task when one was killed"
    assert cluster["workers"][killed["name"]].wait(timeout=10) == -signal.SIGKILL
    assert len(survivors) == 1, "the killed worker should have left the cluster"
    assert killed["at"] < len(plan.points) * len(plan.runs())
    assert result.table.equals(local_table), "the Dask run differs from the local run"


def test_bad_scheduler_address_is_one_clear_error():
    port = free_port()  # nothing listens there
    with pytest.raises(InputError) as err:
        connect(f"tcp://127.0.0.1:{port}", timeout=2)
    assert "--scheduler" in str(err.value) and f"127.0.0.1:{port}" in str(err.value)
    with pytest.raises(InputError, match="cannot reach a Dask scheduler"):
        connect("no-such-scheme://x", timeout=2)


def test_bad_scheduler_on_the_command_line_exits_2(policies_dir, seed_runbook_path):
    port = free_port()
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gameday.cli", "sweep", "--policy",
                           str(policies_dir / "baseline.yaml"), "--runbook", str(seed_runbook_path), "--vary",
                           "responders.oncall=1,2", "--incidents", "100", "--scheduler", f"tcp://127.0.0.1:{port}"],
                          capture_output=True, text=True, env={**os.environ, "GAMEDAY_DASK_TIMEOUT": "2"})
    assert proc.returncode == 2, proc.stderr
    assert "--scheduler" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 60
