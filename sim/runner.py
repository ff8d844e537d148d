"""Replications, chunked across processes deterministically, and their tidy per-incident outcome.

Replication ``r`` depends only on (policy, runbook, seed, r, its incident count, engine): which process
runs it does not matter, and results are reassembled in replication order, so ``--workers 1`` and
``--workers 2`` give bit-identical numbers.  Two engines produce the same :class:`Replication`:
``"vector"`` (:mod:`sim.kernel`, numpy over all incidents, the fast path) and ``"simpy"``
(:mod:`sim.engine_simpy`, one SimPy process per incident); see :func:`choose_engine`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from gameday.metrics import METRICS, complies, metric_values
from gameday.runbook import Runbook
from sim.kernel import Replication, run_replication
from sim.milestones import incident_targets, milestones
from sim.model import CompiledModel, compile_model
from sim.policy import Policy

ENGINES = ("simpy", "vector")
#: ``auto`` picks the SimPy engine up to this many incidents per policy (seconds of work on one core)
SIMPY_AUTO_MAX_INCIDENTS = 20_000


def choose_engine(engine: str, incidents: int, journal: bool = False) -> str:
    """``simpy`` or ``vector``; ``auto`` = SimPy for journaled runs and small N, the vector kernel otherwise."""
    if engine in ENGINES:
        return engine
    if engine != "auto":
        from gameday.errors import InputError

        raise InputError(None, "--engine", f"expected auto, simpy or vector, not {engine!r}")
    return "simpy" if journal or incidents <= SIMPY_AUTO_MAX_INCIDENTS else "vector"


def replicate(model: CompiledModel, n: int, seed: int, replication: int, *, salt: int = 0,
              engine: str = "vector", chunk: int = 0) -> Replication:
    """One replication (or one chunk of it) with the chosen engine."""
    if engine == "simpy":
        from sim.engine_simpy import run_replication as run_simpy

        return run_simpy(model, n, seed, replication, salt=salt, chunk=chunk)
    return run_replication(model, n, seed, replication, salt=salt, chunk=chunk)


@dataclass
class Outcome:
    """Per-incident metrics of one replication (minutes), small enough to ship between processes."""

    replication: int
    severity: np.ndarray
    metric_minutes: np.ndarray  # (n, len(gameday.metrics.METRICS)) minutes; nan: end milestone never reached
    compliant: np.ndarray  # bool: met every runbook target that applies to it (gameday.metrics.complies)
    wait: np.ndarray  # detected -> a responder is free
    via_alert: np.ndarray
    escalation_paged: np.ndarray  # (n, rungs)
    escalation_engaged: np.ndarray  # (n, rungs) engaged before the restore
    notified: np.ndarray  # (n, business notifications)
    auto_rolled_back: np.ndarray
    recurrences: np.ndarray
    busy_minutes: float
    span_minutes: float
    oncall: int | None

    @classmethod
    def of(cls, model: CompiledModel, rep: Replication, replication: int) -> Outcome:
        business = model.runbook.escalation
        notified = np.zeros((len(rep), len(business.business)), dtype=bool)
        outage = rep.restored - rep.detected
        in_scope = np.isin(np.array(model.severities)[rep.severity], business.business_severities)
        for j, note in enumerate(business.business):
            notified[:, j] = in_scope & ((outage > note.after_minutes) | (note.after_minutes <= 0))
        values = metric_values(milestones(model, rep))
        return cls(
            replication=replication,
            severity=rep.severity.astype(np.int8),
            metric_minutes=_metric_columns(values),
            compliant=np.broadcast_to(complies(values, incident_targets(model, rep.severity)), rep.severity.shape),
            wait=rep.wait,
            via_alert=rep.via_alert,
            escalation_paged=rep.escalation_paged,
            escalation_engaged=np.isfinite(rep.escalation_engaged),
            notified=notified,
            auto_rolled_back=rep.auto_rolled_back,
            recurrences=rep.recurrences.astype(np.int32),
            busy_minutes=float(rep.hold.sum()),
            span_minutes=float(max(rep.restored.max(), rep.arrival.max())) if len(rep) else 0.0,
            oncall=rep.oncall,
        )

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        """Metric id (``gameday.metrics``) -> minutes per incident."""
        return {m.id: self.metric_minutes[:, j] for j, m in enumerate(METRICS)}

    @property
    def ttd(self) -> np.ndarray:
        """Time to detect (started -> detected)."""
        return self.metrics["mttd"]

    @property
    def tta(self) -> np.ndarray:
        """Time to acknowledge (detected -> acknowledged)."""
        return self.metrics["mtta"]

    @property
    def ttr(self) -> np.ndarray:
        """Time to resolve (started -> resolved: after the stability watch held)."""
        return self.metrics["mttr"]


def _metric_columns(values: dict[str, np.ndarray]) -> np.ndarray:
    """One float column per metric, in ``METRICS`` order (one array ships faster than a dict of them)."""
    return np.column_stack([np.asarray(values[m.id], dtype=float) for m in METRICS])


def split(incidents: int, replications: int) -> list[int]:
    """Incident counts per replication: as equal as possible, the first ones one larger."""
    replications = max(1, min(replications, incidents))
    base, extra = divmod(incidents, replications)
    return [base + (1 if r < extra else 0) for r in range(replications)]


def _run_chunk(args: tuple) -> list[Outcome]:
    policy, runbook, seed, jobs, salt, engine = args
    model = compile_model(policy, runbook)
    return [Outcome.of(model, replicate(model, n, seed, r, salt=salt, engine=engine), r) for r, n in jobs]


def run(policy: Policy, runbook: Runbook, incidents: int, seed: int, *, replications: int = 10, workers: int = 1,
        salt: int = 0, progress: Callable[[int], None] | None = None, engine: str = "vector") -> list[Outcome]:
    """All replications of one policy, in replication order (``engine``: vector, simpy or auto)."""
    compile_model(policy, runbook)  # fail fast, in this process, on a policy the runbook cannot take
    engine = choose_engine(engine, incidents)
    jobs = list(enumerate(split(incidents, replications)))
    if workers <= 1 or len(jobs) == 1:
        outcomes = []
        for job in jobs:
            outcomes.extend(_run_chunk((policy, runbook, seed, [job], salt, engine)))
            if progress:
                progress(job[1])
        return outcomes
    outcomes = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_run_chunk, (policy, runbook, seed, [job], salt, engine)) for job in jobs]
        for job, future in zip(jobs, futures, strict=True):
            outcomes.extend(future.result())
            if progress:
                progress(job[1])
    return outcomes
