"""What the SimPy engine precomputes once per replication, so that no simulated event pays for it.

- **routing**: per workflow node its code (an int compared on every visit), its successor, its Yes/No
  targets, whether the on-call is needed for it, and the threshold of a generic decision;
- **draws**: every random number an incident can read, as float arrays (one value per incident) per
  (node, visit) column, made from the kernel's uniforms (:class:`sim.streams.Streams`) by the same
  ``ppf``/helper code in vectorised numpy blocks: visit 0 of every column up front, later visits (the
  investigation loop, recurrences) as a block for all incidents the first time any incident needs them.
  The values are the kernel's, column for column, so both engines see the same incidents.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence

import numpy as np

from sim.kernel import _role_delays
from sim.model import ROLE_ACTIVITY, CompiledModel, slug
from sim.streams import Streams

# node codes (ints: compared on every visit); the plain-duration steps come first (code <= WAR_ROOM)
(ZERO, GENERIC, SEVERITY, DECLARE, TICKET, ASSIGN, WAR_ROOM, INVESTIGATE, ROOT_CAUSE, ESCALATE, FIX,
 FIX_WORKED, VERIFY, MONITOR, STABLE, CLOSE, ASSEMBLE, REVIEW, DECISION) = range(19)
CODES = {"severity": SEVERITY, "declare": DECLARE, "ticket": TICKET, "assign": ASSIGN, "assemble": ASSEMBLE,
         "war_room": WAR_ROOM, "investigate": INVESTIGATE, "root_cause": ROOT_CAUSE, "escalate": ESCALATE,
         "fix": FIX, "fix_worked": FIX_WORKED, "verify": VERIFY, "monitor": MONITOR, "stable": STABLE, "close": CLOSE,
         "review": REVIEW, "decision": DECISION, "detect": ZERO, "other": ZERO}
#: nodes worked without the on-call responder once it has been released (watch, close, review, hand-off)
FREE = frozenset({ZERO, GENERIC, ASSIGN, MONITOR, STABLE, CLOSE, REVIEW, DECISION, FIX_WORKED})


def column(values: np.ndarray) -> array:
    """One float per incident as an ``array('d')``: the same doubles as ``tolist()`` gives, made by one copy
    instead of a float object each, and no container for the garbage collector to scan (a run makes
    ~150 columns of n values; scanning them cost more than reading a value from an array)."""
    return array("d", np.ascontiguousarray(values, dtype=np.float64).tobytes())


class Draws:
    """The kernel's uniforms and quantiles as float arrays, one per (purpose, visit) column, cached."""

    __slots__ = ("_cache", "n", "streams")

    def __init__(self, streams: Streams) -> None:
        self.streams = streams
        self.n = streams.n
        self._cache: dict[tuple, Sequence[float]] = {}

    def u(self, activity: str, purpose: str, visit: int) -> Sequence[float]:
        key = (activity, purpose, visit)
        col = self._cache.get(key)
        if col is None:
            col = self._cache[key] = column(self.streams.u(activity, purpose).col(visit))
        return col

    def q(self, dist, activity: str, purpose: str, visit: int) -> Sequence[float]:
        """``dist.ppf`` of the column (vectorised once for all incidents)."""
        key = (id(dist), activity, purpose, visit)
        col = self._cache.get(key)
        if col is None:
            col = self._cache[key] = column(dist.ppf(self.streams.u(activity, purpose).col(visit)))
        return col

    def role(self, role, activity: str, name: str, visit: int) -> Sequence[float]:
        """:func:`sim.kernel._role_delays` for every incident at this visit."""
        key = ("role", id(role), activity, name, visit)
        col = self._cache.get(key)
        if col is None:
            idx = np.arange(self.n)
            col = self._cache[key] = column(_role_delays(role, self.streams, activity, name, idx, visit))
        return col


Maker = Callable[[int], Sequence[float]]


class Table:
    """One draw per node: ``cols[k][v][i]`` is incident ``i``'s value at its ``v``-th visit of node ``k``
    (``cols[k]`` is None for a node that never reads it).  An ``IndexError`` on ``cols[k][v]`` means the
    visit's column is not made yet: :meth:`grow` makes it for every incident."""

    __slots__ = ("cols", "make")

    def __init__(self, makers: list[Maker | None]) -> None:
        self.make = makers
        self.cols: list[list[Sequence[float]] | None] = [None if m is None else [m(0)] for m in makers]

    def grow(self, k: int, v: int) -> Sequence[float]:
        cols, make = self.cols[k], self.make[k]
        while len(cols) <= v:
            cols.append(make(len(cols)))
        return cols[v]


class Plan:
    """Routing and draw tables of one replication (see the module docstring)."""

    def __init__(self, model: CompiledModel, draws: Draws) -> None:
        steps, dec = model.policy.steps, model.policy.decisions
        n_nodes = len(model.roles)
        self.codes: list[int] = []
        self.nexts: list[int] = []
        self.yes: list[int] = []
        self.no: list[int] = []
        self.free: list[bool] = []
        self.logged: list[bool] = []
        self.other_p: Sequence[float] = []
        self.labels = list(model.labels)
        self.ids = list(model.node_ids)
        main: list[Maker | None] = [None] * n_nodes
        second: list[Maker | None] = [None] * n_nodes
        aux: list[Maker | None] = [None] * n_nodes
        watch: list[Maker | None] = [None] * n_nodes
        recur: list[Maker | None] = [None] * n_nodes
        sme: list[Maker | None] = [None] * n_nodes
        q, u = draws.q, draws.u

        def quantile(dist, act: str, purpose: str) -> Maker:
            return lambda v: q(dist, act, purpose, v)

        def uniform(act: str, purpose: str) -> Maker:
            return lambda v: u(act, purpose, v)

        for k, role in enumerate(model.roles):
            code = CODES.get(role, GENERIC)
            nid = model.node_ids[k]
            act = ROLE_ACTIVITY.get(role, "process")
            purpose = f"{role}:{nid}"  # the kernel's stream names, so both engines read the same uniforms
            dist = model.duration(role)
            if code == ZERO and dist is not None:
                code = GENERIC
            nxt = model.next_node[k]
            yes_no = model.yes_no[k]
            self.codes.append(code)
            self.nexts.append(nxt)
            self.yes.append(nxt if yes_no is None else yes_no[0])
            self.no.append(nxt if yes_no is None else yes_no[1])
            self.free.append(code in FREE)
            self.logged.append(model.kinds[k] != "decision" or code == SEVERITY)
            self.other_p.append(dec.other.get(slug(model.labels[k]), 1.0) if code == DECISION else 1.0)
            if code == INVESTIGATE:
                main[k] = quantile(steps.hypothesis, act, purpose)
                second[k] = quantile(steps.investigate, act, f"test:{nid}")
            elif code == FIX:
                main[k] = quantile(steps.rollback, act, purpose)
                second[k] = quantile(steps.hotfix, act, purpose)
                aux[k] = uniform(act, f"choice:{nid}")
            elif code in (ROOT_CAUSE, FIX_WORKED, DECISION):
                aux[k] = uniform(act, f"decide:{nid}")
            elif code == MONITOR:
                recur[k] = uniform(act, "recur")
                watch[k] = uniform(act, purpose)
            elif code <= WAR_ROOM:
                if dist is not None:  # else the step takes no time
                    main[k] = quantile(dist, act, purpose)
            elif code in (ESCALATE, VERIFY, CLOSE, ASSEMBLE, REVIEW):
                main[k] = quantile(dist, act, purpose) if dist is not None else uniform(act, purpose)
                if code == ESCALATE:
                    sme[k] = lambda v, a=act, r=model.policy.responders.sme: draws.role(r, a, "sme", v)
        self.main, self.second, self.aux = Table(main), Table(second), Table(aux)
        self.watch, self.recur, self.sme = Table(watch), Table(recur), Table(sme)
        roles = model.policy.responders.roles
        #: per staffed role (IC, TL, CL...), its ack delay at the k-th assembly: one table column per visit
        self.role_names = list(roles)
        self.roles = Table([(lambda v, r=rp, name=name: draws.role(r, "ack", f"role:{name}", v))
                            for name, rp in roles.items()])

        self.route_sev = [int(x) for x in model.severity_route]
        self.prob_root = model.sev_array(dec.root_cause_probability).tolist()
        self.prob_rollback = model.sev_array(dec.rollback_probability).tolist()
        self.prob_recur = model.sev_array(dec.recurrence_probability).tolist()
        self.rung_root = [(j, r.root_cause_probability.tolist()) for j, r in enumerate(model.ladder)
                          if r.root_cause_probability is not None]
        self.climbs = [bool(model.ladder) and bool(c) for c in model.climbs]
        #: per severity, the rungs in paging order: (minutes after acknowledgement, rung index)
        self.ladder = [sorted((0.0 if bool(rung.immediate[s]) else float(rung.after_minutes), j)
                              for j, rung in enumerate(model.ladder)) for s in range(len(model.severities))]
        self.release_code = CLOSE if model.policy.release_at == "closed" else VERIFY
