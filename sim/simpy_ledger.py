"""The SimPy engine's bookkeeping: what a run keeps per incident, and the :class:`~sim.kernel.Replication` it becomes.

Flat arrays indexed by incident hold what other processes of an incident read while it runs (detection
and restore times, the "restore confirmed" event, each ladder rung's first page and engagement); the rest of
an incident's results live in its process's locals and are stored once, when it ends, as one row of
:data:`OUT` in ``out``.  No object per incident: float state is ``array('d')`` (collected by one copy,
numpy reads the buffer; nothing for the garbage collector to scan).
"""

from __future__ import annotations

import math
from array import array

import numpy as np
import simpy

from sim.kernel import Replication, count_ladder_pages
from sim.model import CompiledModel
from sim.simpy_draws import IncidentDraws

INF = math.inf
NAN = math.nan

#: per-incident results the incident process keeps in locals and stores once, when it ends
OUT = ("assigned", "acknowledged", "declared", "mitigated", "closed", "reviewed", "wait", "hold", "rounds",
       "investigations", "recurrences")


class Ledger:
    """Per-incident state of one run of ``n`` incidents on a ladder of ``rungs`` rungs.

    ``detected[i]``, ``restored[i]``: absolute minutes (NaN until then); ``page_at[i * rungs + j]``,
    ``engaged[i * rungs + j]``: rung ``j``'s first page and engagement (inf: never); ``out[i * len(OUT) + c]``:
    incident ``i``'s result ``OUT[c]``, written once when its process ends."""

    __slots__ = ("detected", "done", "engaged", "env", "n", "out", "page_at", "restored", "rungs")

    def __init__(self, env: simpy.Environment, n: int, rungs: int) -> None:
        self.env = env
        self.n = n
        self.rungs = rungs
        self.detected = array("d", [NAN]) * n
        self.restored = array("d", [NAN]) * n
        self.done: list[simpy.Event | None] = [None] * n
        self.page_at = array("d", [INF]) * (n * rungs)
        self.engaged = array("d", [INF]) * (n * rungs)
        self.out = [NAN] * (n * len(OUT))

    def done_event(self, i: int) -> simpy.Event:
        """Incident ``i``'s "restore confirmed" event, made only when a watcher needs it."""
        done = self.done[i]
        if done is None:
            done = self.done[i] = self.env.event()
            if self.restored[i] == self.restored[i]:  # already confirmed (not NaN)
                done.succeed()
        return done

    def confirm(self, i: int) -> None:
        """The restore of incident ``i`` is confirmed: wake whoever waits for it."""
        done = self.done[i]
        if done is not None and not done.triggered:
            done.succeed()

    def replication(self, model: CompiledModel, draws: IncidentDraws) -> Replication:
        """The run's results, as the kernel gives them: pages and engagements count when they happened before
        the restore time; an automatically rolled-back incident was mitigated when the rollback finished."""
        n, rungs = self.n, self.rungs
        out = np.fromiter(self.out, dtype=float, count=len(self.out)).reshape(n, len(OUT))
        col = {name: out[:, c] for c, name in enumerate(OUT)}
        detected, restored = np.array(self.detected), np.array(self.restored)
        page_at = np.array(self.page_at).reshape(n, rungs)
        engaged = np.array(self.engaged).reshape(n, rungs)
        before = restored[:, None]
        return Replication(
            severity=np.asarray(draws.sev, dtype=np.int64),
            arrival=np.asarray(draws.arrival),
            detected=detected,
            via_alert=draws.via_alert,
            assigned=col["assigned"].copy(),
            acknowledged=col["acknowledged"].copy(),
            declared=col["declared"].copy(),
            mitigated=np.where(np.asarray(draws.auto), detected + np.asarray(draws.rb_after), col["mitigated"]),
            restored=restored,
            closed=col["closed"].copy(),
            reviewed=col["reviewed"].copy(),
            wait=col["wait"].copy(),
            hold=col["hold"].copy(),
            page_rounds=col["rounds"].astype(np.int64),
            investigations=col["investigations"].astype(np.int64),
            escalation_paged=page_at < before,
            escalation_engaged=np.where(engaged < before, engaged, np.inf),
            escalation_page_at=page_at,
            auto_rolled_back=np.asarray(draws.auto, dtype=bool),
            recurrences=col["recurrences"].astype(np.int64),
            oncall=model.oncall,
            shift=np.zeros(n),
            ladder_pages=count_ladder_pages(model, page_at, draws.fails_by_incident, restored),
        )
