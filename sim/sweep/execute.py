"""Where a sweep's tasks run: local processes or a Dask distributed cluster, behind one small interface.

An executor takes the tasks and calls ``on_result(index, stats)`` in the caller's thread as each one
finishes, in any order; the caller files results by index, so the order of completion never shows in
the numbers.  A task is a pure function of its inputs (:func:`run_task`), so a task lost with a killed
Dask worker is simply run again elsewhere and gives the same bits.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Protocol

from gameday.errors import GamedayError, InputError
from sim.model import compile_model
from sim.runner import replicate
from sim.sweep.metrics import TaskStats, reduce_task
from sim.sweep.plan import Task

OnResult = Callable[[int, TaskStats], None]
#: seconds to reach a scheduler, and to wait for its first worker (GAMEDAY_DASK_TIMEOUT overrides)
DASK_TIMEOUT_SECONDS = float(os.environ.get("GAMEDAY_DASK_TIMEOUT", "10"))


class SweepError(GamedayError):
    """The sweep could not finish (its cluster lost every worker, ...)."""


def run_task(task: Task) -> TaskStats:
    """Simulate one run and reduce it to numbers (runs in a worker process)."""
    started = time.process_time()
    model = compile_model(task.policy, task.runbook)
    rep = replicate(model, task.incidents, task.seed, task.replication, engine=task.engine, chunk=task.chunk)
    stats = reduce_task(model, rep, task.rows, task.point, task.replication, task.chunk, seed=task.seed)
    stats.cpu_seconds = time.process_time() - started
    return stats


class Executor(Protocol):
    """Runs tasks; ``describe`` says where, for the progress line and the result."""

    def map(self, tasks: Sequence[Task], on_result: OnResult) -> None: ...

    def describe(self) -> str: ...


class LocalExecutor:
    """This process (``workers=1``) or a pool of ``workers`` local processes.

    The pool starts its processes from a fork server (never a fork of a process that may run threads, such
    as a progress bar's), which imports the calling script again: a script that runs a sweep needs the
    usual ``if __name__ == "__main__":`` guard (the ``gameday`` command and notebooks have nothing to do)."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def describe(self) -> str:
        return f"{self.workers} local worker{'s' if self.workers > 1 else ''}"

    def map(self, tasks: Sequence[Task], on_result: OnResult) -> None:
        if self.workers == 1:
            for i, task in enumerate(tasks):
                on_result(i, run_task(task))
            return
        pool = self._pool_for_run()
        pending: dict[Future, int] = {}
        queue = list(enumerate(tasks))
        queue.reverse()
        # keep a few tasks per worker in flight: enough to stay busy, few enough to stop early on an error
        while queue or pending:
            while queue and len(pending) < 4 * self.workers:
                i, task = queue.pop()
                pending[pool.submit(run_task, task)] = i
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                on_result(pending.pop(future), future.result())

    def _pool_for_run(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: never fork a process that runs a progress-bar thread
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("forkserver"))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskExecutor:
    """A Dask distributed scheduler (``tcp://HOST:8786``) and whatever workers it has.

    The workers need this version of gameday installed (they import :mod:`sim`).  Each task gets its own
    key, so the scheduler can run it again when a worker dies."""

    def __init__(self, address: str, timeout: float = DASK_TIMEOUT_SECONDS) -> None:
        self.address = address
        self.timeout = timeout
        self._client = None

    def describe(self) -> str:
        workers = self.client().scheduler_info(n_workers=-1).get("workers", {})
        return f"Dask scheduler {self.address} ({len(workers)} worker{'s' if len(workers) != 1 else ''})"

    def client(self):
        if self._client is None:
            self._client = connect(self.address, self.timeout)
        return self._client

    def map(self, tasks: Sequence[Task], on_result: OnResult) -> None:
        from distributed import as_completed

        client = self.client()
        run = uuid.uuid4().hex[:12]
        keys = [f"gameday-sweep-{run}-{t.point}-{t.replication}-{t.chunk}" for t in tasks]
        index = {key: i for i, key in enumerate(keys)}
        futures = client.map(run_task, list(tasks), key=keys, pure=False)
        try:
            for future, result in as_completed(futures, loop=client.loop, with_results=True):
                on_result(index[future.key], result)
                future.release()
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker":
                raise SweepError(f"Dask scheduler {self.address}: a task killed too many workers ({exc})") from None
            raise
        finally:
            for future in futures:
                future.release()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(address: str, timeout: float = DASK_TIMEOUT_SECONDS):
    """A client of the scheduler at ``address`` with at least one worker; one clear error otherwise."""
    from distributed import Client

    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(None, "--scheduler", f"cannot reach a Dask scheduler at {address!r}: {reason}") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        client.close()
        raise InputError(None, "--scheduler", f"the Dask scheduler at {address!r} has no workers "
                         f"(waited {timeout:g} s)") from None
    return client


def executor_for(workers: int, scheduler: str | None) -> LocalExecutor | DaskExecutor:
    return DaskExecutor(scheduler) if scheduler else LocalExecutor(workers)
