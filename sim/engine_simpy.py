"""The SimPy process engine: each incident's lifecycle as a SimPy process over the runbook's workflow.

Same inputs (a :class:`~sim.model.CompiledModel` from Policy + ``runbook.workflow``) and the same output
(a :class:`~sim.kernel.Replication`, aggregated by :class:`sim.runner.Outcome`) as the vectorised kernel,
and the same random inputs: every draw is the kernel's uniform for (activity, purpose, visit, incident)
from :class:`sim.streams.Streams`, turned into minutes by the same ``ppf``/helper code, so for a given
seed and replication both engines see the same incidents (common random numbers hold here too).

What SimPy adds is the dynamics, written the idiomatic way:

- the on-call pool is a :class:`simpy.Resource` held with ``with pool.request() as req`` from assignment
  to resolution (``release_at: resolved``: the end of verification), to the hand-off on the ticket path,
  or to close (``release_at: closed``); a recurrence re-requests it (FIFO), so under contention the
  engine differs slightly from the kernel, which keeps the responder through a failed watch;
- IC/TL/CL (the policy's roles) and the SME are resources too (unlimited capacity: the policy gives no
  head-count), requested with ``with`` so they are released however the process ends;
- the technical ladder is a process that waits ``done | env.timeout(after)`` per rung ("unresolved after
  X min"), then pages the rung: ``done | env.timeout(timeout_minutes)`` per unanswered page, and the
  answered page's ack delay before the rung is engaged (an answering person is not cut off by the
  timeout, as in the kernel);
- the stability watch's recurrence is an interrupt carrying a :class:`Recurrence` cause that sends the
  incident back along the workflow's "not stable" edge (to investigation);
- business notifications are timed processes (``done | env.timeout(after)``), and, when journaling,
  status updates are a process on the severity's cadence.

``done`` is triggered when resolution is confirmed (the stability watch held, or the workflow ended);
pages, engagements and notifications are counted when they happened before the resolution time, exactly
as the kernel counts them.  Clocks are minutes.
"""

from __future__ import annotations

import math
import re
from contextlib import ExitStack, nullcontext

import numpy as np
import simpy

from gameday.journal import EventType
from sim.kernel import (
    Replication,
    _arrivals,
    _detection,
    _role_delays,
    auto_rollback_draws,
    ladder_draws,
    page_round_draws,
)
from sim.model import ROLE_ACTIVITY, CompiledModel, slug
from sim.streams import Streams

INF = math.inf
E = EventType

# node codes (ints: compared on every visit)
(_ZERO, _GENERIC, _SEVERITY, _DECLARE, _TICKET, _ASSIGN, _WAR_ROOM, _INVESTIGATE, _ROOT_CAUSE, _ESCALATE, _FIX,
 _RESOLVED, _VERIFY, _MONITOR, _STABLE, _CLOSE, _ASSEMBLE, _REVIEW, _DECISION) = range(19)
_CODES = {"severity": _SEVERITY, "declare": _DECLARE, "ticket": _TICKET, "assign": _ASSIGN,
          "assemble": _ASSEMBLE, "war_room": _WAR_ROOM, "investigate": _INVESTIGATE, "root_cause": _ROOT_CAUSE,
          "escalate": _ESCALATE, "fix": _FIX, "resolved": _RESOLVED, "verify": _VERIFY, "monitor": _MONITOR,
          "stable": _STABLE, "close": _CLOSE, "review": _REVIEW, "decision": _DECISION, "detect": _ZERO,
          "other": _ZERO}
#: nodes worked without the on-call responder once it has been released (watch, close, review, hand-off)
_FREE = frozenset({_ZERO, _GENERIC, _ASSIGN, _MONITOR, _STABLE, _CLOSE, _REVIEW, _DECISION, _RESOLVED})

Row = tuple[float, str, EventType, str, dict]
_NULL = nullcontext()


class Recurrence:
    """Interrupt cause: the problem came back during the stability watch."""

    __slots__ = ("at", "watch")

    def __init__(self, at: float, watch: int) -> None:
        self.at = at
        self.watch = watch


class _Draws:
    """The kernel's uniforms and quantiles, one Python list per (purpose, visit) column, made lazily."""

    __slots__ = ("_cache", "n", "streams")

    def __init__(self, streams: Streams) -> None:
        self.streams = streams
        self.n = streams.n
        self._cache: dict[tuple, list[float]] = {}

    def u(self, activity: str, purpose: str, visit: int) -> list[float]:
        key = (activity, purpose, visit)
        col = self._cache.get(key)
        if col is None:
            col = self._cache[key] = self.streams.u(activity, purpose).col(visit).tolist()
        return col

    def q(self, dist, activity: str, purpose: str, visit: int) -> list[float]:
        """``dist.ppf`` of the column (vectorised once for all incidents)."""
        key = (id(dist), activity, purpose, visit)
        col = self._cache.get(key)
        if col is None:
            col = self._cache[key] = dist.ppf(self.streams.u(activity, purpose).col(visit)).tolist()
        return col

    def role(self, role, activity: str, name: str, visit: int) -> list[float]:
        """:func:`sim.kernel._role_delays` for every incident at this visit."""
        key = ("role", id(role), activity, name, visit)
        col = self._cache.get(key)
        if col is None:
            idx = np.arange(self.n)
            col = self._cache[key] = _role_delays(role, self.streams, activity, name, idx, visit).tolist()
        return col


class _Incident:
    """Mutable state of one incident's process."""

    __slots__ = (
        "acknowledged",
        "assigned",
        "closed",
        "declared",
        "detected",
        "done",
        "engaged",
        "fix_rollback",
        "hold",
        "i",
        "investigations",
        "last_verify",
        "mitigated",
        "name",
        "page_at",
        "proc",
        "recur",
        "recurrences",
        "resolved",
        "reviewed",
        "rounds",
        "sev",
        "visits",
        "wait",
        "watching",
    )

    def __init__(self, i: int, sev: int, rungs: int, nodes: int) -> None:
        self.i = i
        self.sev = sev
        self.name = ""
        self.detected = self.assigned = self.acknowledged = 0.0
        self.wait = self.hold = 0.0
        self.declared = self.mitigated = self.resolved = self.closed = self.reviewed = math.nan
        self.last_verify = math.nan
        self.rounds = self.investigations = self.recurrences = 0
        self.fix_rollback = self.recur = self.watching = False
        self.engaged = [INF] * rungs
        self.page_at = [INF] * rungs
        self.visits = [0] * nodes
        self.done: simpy.Event | None = None
        self.proc: simpy.Process | None = None


def declaration_roles(model: CompiledModel) -> list[str]:
    """Roles the runbook's declaration template names (IC, TL); else its first two roles."""
    runbook = model.runbook
    template = next((text for name, text in runbook.templates.items() if "declar" in name.lower()), "")
    named = [r.abbreviation for r in runbook.roles if re.search(rf"\b{re.escape(r.abbreviation)}\b", template)]
    return named or [r.abbreviation for r in runbook.roles[:2]]


class SimPyEngine:
    """One replication of ``n`` incidents as SimPy processes; deterministic in (model, n, seed, r, salt)."""

    __slots__ = (
        "_auto",
        "_business",
        "_c_aux",
        "_c_main",
        "_c_second",
        "_climbs",
        "_decl_roles",
        "_draws",
        "_fails",
        "_ladder_delay",
        "_manager",
        "_nodes",
        "_prob_recur",
        "_prob_rollback",
        "_prob_root",
        "_rb_after",
        "_round_best",
        "_route_sev",
        "_rung_root",
        "_specs",
        "arrival",
        "detect_gap",
        "env",
        "events",
        "incidents",
        "log",
        "model",
        "n",
        "pool",
        "replication",
        "roles",
        "sev",
        "sme",
        "via_alert",
    )

    def __init__(self, model: CompiledModel, n: int, seed: int, replication: int = 0, *, salt: int = 0,
                 journal: bool = False) -> None:
        self.model = model
        self.n = n
        self.replication = replication
        streams = Streams(seed, replication, n, salt)
        self._draws = _Draws(streams)
        arrival, sev = _arrivals(model, streams, n)
        ttd, via_alert = _detection(model, streams, sev)
        self.arrival = arrival.tolist()
        self.sev = sev.tolist()
        self.detect_gap = ttd.tolist()
        self.via_alert = via_alert
        best, manager = page_round_draws(model, streams, n)
        self._round_best = [b.tolist() for b in best]
        self._manager = manager.tolist()
        fails, delays = ladder_draws(model, streams, n)
        self._fails = fails.T.tolist()
        self._ladder_delay = delays.T.tolist()
        auto, rb_after = auto_rollback_draws(model, streams, sev)
        self._auto = auto.tolist()
        self._rb_after = rb_after.tolist()
        self.env = simpy.Environment()
        oncall = model.oncall
        self.pool = None if oncall is None else simpy.Resource(self.env, capacity=oncall)
        self.roles = {name: simpy.Resource(self.env, capacity=math.inf) for name in model.policy.responders.roles}
        self.sme = simpy.Resource(self.env, capacity=math.inf)
        self.log: list[Row] | None = [] if journal else None
        self.incidents: list[_Incident] = []
        self.events = 0
        dec = model.policy.decisions
        self._prob_root = model.sev_array(dec.root_cause_probability).tolist()
        self._prob_rollback = model.sev_array(dec.rollback_probability).tolist()
        self._prob_recur = model.sev_array(dec.recurrence_probability).tolist()
        self._rung_root = [(j, r.root_cause_probability.tolist()) for j, r in enumerate(model.ladder)
                           if r.root_cause_probability is not None]
        self._route_sev = [int(x) for x in model.severity_route]
        self._nodes = _node_table(model)
        self._climbs = [bool(model.ladder) and bool(c) for c in model.climbs]
        self._c_main: list[list[list[float]]] = [[] for _ in model.roles]
        self._c_second: list[list[list[float]]] = [[] for _ in model.roles]
        self._c_aux: list[list[list[float]]] = [[] for _ in model.roles]
        self._specs = {id(self._c_main): [], id(self._c_second): [], id(self._c_aux): []}
        steps = model.policy.steps
        for code, _nxt, act, main, aux, dist, *_ in self._nodes:
            first = {_INVESTIGATE: steps.hypothesis, _FIX: steps.rollback}.get(code, dist)
            second = {_INVESTIGATE: (steps.investigate, aux), _FIX: (steps.hotfix, main)}.get(code)
            self._specs[id(self._c_main)].append((first, act, main))
            self._specs[id(self._c_second)].append((second[0], act, second[1]) if second else (None, act, main))
            self._specs[id(self._c_aux)].append((None, act, aux))
        self._decl_roles = declaration_roles(model)
        business = model.runbook.escalation.business_severities
        self._business = {k for k, s in enumerate(model.severities) if s in business} if \
            model.runbook.escalation.business else set()

    # -- processes -------------------------------------------------------------------------------------

    def _source(self):
        """Poisson arrivals (the kernel's merged stream), one incident process each."""
        env = self.env
        timeout, process, incident = env.timeout, env.process, self._incident
        rungs, nodes = len(self.model.ladder), len(self.model.roles)
        sev, incidents, prefix = self.sev, self.incidents, f"sim-{self.replication}-"
        journal = self.log is not None
        for i, at in enumerate(self.arrival):
            gap = at - env.now
            if gap > 0:
                yield timeout(gap)
            st = _Incident(i, sev[i], rungs, nodes)
            if journal:
                st.name = f"{prefix}{i:06d}"
            incidents.append(st)
            st.proc = process(incident(st))

    def _incident(self, st: _Incident):
        """One incident: detection, then the workflow walked node by node.  Each stretch that needs the
        on-call runs inside ``with pool.request()``; the stretch ends at a release point (hand-off,
        resolution, close) and a recurrence opens a new one."""
        env, model, log = self.env, self.model, self.log
        policy = model.policy
        dec = policy.decisions
        timeout = env.timeout
        i, sev = st.i, st.sev
        name, visits = st.name, st.visits
        if log is not None:
            self._log_start(st)
        yield timeout(self.detect_gap[i])
        st.detected = env.now
        rollback = timeout(self._rb_after[i]) if self._auto[i] else None
        if log is not None:
            self._log_detected(st)
        if sev in self._business:
            env.process(self._notify(st))
        nodes, pool, null = self._nodes, self.pool, _NULL
        c_main, c_second, c_aux, grow = self._c_main, self._c_second, self._c_aux, self._grow
        release_code = _CLOSE if policy.release_at == "closed" else _VERIFY
        k = model.first_node
        first = True
        round1 = self._round_best[0]
        team = None  # an ExitStack of IC/TL/CL requests: released at close, or however the process ends
        try:
            while k >= 0:
                held = first or nodes[k][0] not in _FREE
                with (pool.request() if held and pool is not None else null) as req:
                    if req is not None:
                        yield req
                    start = env.now
                    if first:
                        first = False
                        b = round1[i]
                        if b < INF and log is None:  # answered at the first page: inlined for speed
                            st.assigned, st.wait, st.rounds = start, start - st.detected, 1
                            yield timeout(b)
                            self._acknowledged(st)
                        else:
                            yield from self._acknowledge(st)
                    while k >= 0:
                        code, nxt, act, _p, _a, dist, logged, label, nid = nodes[k]
                        if held:
                            if code == _ASSIGN:  # the ticket goes to a team member: the on-call is free again
                                break
                        elif code not in _FREE and pool is not None:
                            break
                        v = visits[k]
                        visits[k] = v + 1
                        t0 = env.now
                        if logged and log is not None:
                            log.append((t0, name, E.step_started, "on-call", {"step": label, "node": nid}))
                        if code <= _WAR_ROOM:  # a step with a plain duration (or none)
                            if dist is not None:
                                cols = c_main[k]
                                d = (cols[v] if v < len(cols) else grow(c_main, k, v))[i]
                                if d > 0.0:  # a zero-minute step schedules nothing
                                    yield timeout(d)
                            if code == _SEVERITY:
                                nxt = self._route_sev[sev]
                            elif code == _DECLARE:
                                if st.declared != st.declared:  # NaN: the first declaration
                                    st.declared = env.now
                                    if log is not None:
                                        self._declared(st)
                            elif log is not None and code != _ASSIGN:
                                self._log_step(st, code)
                        elif code == _INVESTIGATE:
                            if rollback is not None and v == 0 and model.verify_node >= 0:
                                yield rollback  # the automatic rollback skips the investigation loop
                                nxt = model.verify_node
                            else:
                                cols = c_main[k]
                                h = (cols[v] if v < len(cols) else grow(c_main, k, v))[i]
                                cols = c_second[k]
                                x = (cols[v] if v < len(cols) else grow(c_second, k, v))[i]
                                if log is not None:
                                    log.append((t0 + h, name, E.hypothesis, "TL",
                                                {"text": f"working hypothesis #{v + 1}"}))
                                st.investigations += 1
                                d = h + x
                                if d > 0.0:  # a zero-minute step schedules nothing
                                    yield timeout(d)
                        elif code == _ROOT_CAUSE:
                            p = self._prob_root[sev]
                            for j, rp in self._rung_root:
                                if st.engaged[j] <= t0 and rp[sev] > p:
                                    p = rp[sev]
                            cols = c_aux[k]
                            nxt = self._route(k, (cols[v] if v < len(cols) else grow(c_aux, k, v))[i] < p)
                        elif code == _ESCALATE:
                            cols = c_main[k]
                            d = (cols[v] if v < len(cols) else grow(c_main, k, v))[i] + self._draws.role(
                                policy.responders.sme, act, "sme", v)[i]
                            with self.sme.request() as sme:
                                yield sme
                                yield timeout(d)
                            if log is not None:
                                log.append((env.now, name, E.role_assigned, "on-call",
                                            {"role": "SME", "person": "sme-on-duty"}))
                        elif code == _FIX:
                            cols = c_aux[k]
                            rb = (cols[v] if v < len(cols) else grow(c_aux, k, v))[i] < self._prob_rollback[sev]
                            st.fix_rollback = rb
                            table = c_main if rb else c_second
                            cols = table[k]
                            d = (cols[v] if v < len(cols) else grow(table, k, v))[i]
                            if d > 0.0:  # a zero-minute step schedules nothing
                                yield timeout(d)
                            if log is not None:
                                log.append((env.now, name, E.action, "TL", {"kind": "rollback" if rb else "hotfix"}))
                        elif code == _RESOLVED:
                            cols = c_aux[k]
                            ok = (cols[v] if v < len(cols) else grow(c_aux, k, v))[i] < (
                                dec.rollback_success if st.fix_rollback else dec.hotfix_success)
                            if ok:
                                st.mitigated = t0
                                if log is not None:
                                    log.append((t0, name, E.mitigated, "TL", {}))
                            nxt = self._route(k, ok)
                        elif code == _VERIFY:
                            cols = c_main[k]
                            d = (cols[v] if v < len(cols) else grow(c_main, k, v))[i]
                            if d > 0.0:  # a zero-minute step schedules nothing
                                yield timeout(d)
                            st.last_verify = env.now
                            if log is not None:
                                log.append((env.now, name, E.verified, "TL", {}))
                        elif code == _MONITOR:
                            yield from self._watch(st, act, _p, v, rollback is not None)
                        elif code == _STABLE:
                            ok = not st.recur
                            if ok:
                                st.resolved = st.last_verify
                                self._resolve(st)
                            nxt = self._route(k, ok)
                        elif code == _CLOSE:
                            cols = c_main[k]
                            d = (cols[v] if v < len(cols) else grow(c_main, k, v))[i]
                            if d > 0.0:  # a zero-minute step schedules nothing
                                yield timeout(d)
                            if st.resolved != st.resolved:  # no watch decided it: the last verification
                                st.resolved = t0 if st.last_verify != st.last_verify else st.last_verify
                                self._resolve(st)
                            st.closed = env.now
                            if team is not None:
                                team.close()  # the response team stands down
                            if log is not None:
                                log.append((env.now, name, E.closed, "IC", {}))
                        elif code == _ASSEMBLE:
                            cols = c_main[k]
                            base = (cols[v] if v < len(cols) else grow(c_main, k, v))[i]
                            d = base
                            if d > 0.0:  # a zero-minute step schedules nothing
                                yield timeout(d)
                            slowest = 0.0
                            if team is None and policy.responders.roles:
                                team = ExitStack()
                            for role_name, role_policy in policy.responders.roles.items():
                                req_role = team.enter_context(self.roles[role_name].request())
                                yield req_role
                                delay = self._draws.role(role_policy, "ack", f"role:{role_name}", v)[i]
                                if delay > slowest:
                                    slowest = delay
                                if log is not None:
                                    log.append((env.now + delay, name, E.role_assigned, "on-call",
                                                {"role": role_name, "person": f"{role_name.lower()}-on-duty"}))
                            if log is not None:
                                self._log_unstaffed_roles(st)
                            if slowest > 0.0:
                                yield timeout(slowest)
                        elif code == _REVIEW:
                            cols = c_main[k]
                            d = (cols[v] if v < len(cols) else grow(c_main, k, v))[i]
                            if d > 0.0:  # a zero-minute step schedules nothing
                                yield timeout(d)
                            st.reviewed = env.now
                            if log is not None:
                                log.append((env.now, name, E.postmortem_filed, "IC", {}))
                        elif code == _DECISION:
                            cols = c_aux[k]
                            nxt = self._route(k, (cols[v] if v < len(cols) else grow(c_aux, k, v))[i]
                                              < dec.other.get(slug(label), 1.0))
                        if logged and log is not None:
                            log.append((env.now, name, E.step_finished, "on-call", {"step": label, "node": nid}))
                        k = nxt
                        if held and code == release_code:
                            break
                    if held:
                        st.hold += env.now - start
        finally:
            if team is not None:
                team.close()
        if st.resolved != st.resolved:  # the workflow ended without a resolution step (ticket path)
            st.resolved = env.now
            self._resolve(st)

    def _acknowledge(self, st: _Incident):
        """Paging rounds of ``page_at_once`` people; nobody in any round -> the manager picks it up."""
        env, log = self.env, self.log
        i = st.i
        st.assigned = env.now
        st.wait = env.now - st.detected
        r = self.model.policy.responders
        for rnd, best in enumerate(self._round_best):
            if log is not None:
                log.append((env.now, st.name, E.paged, "pagerduty", {"who": "on-call", "level": 1, "round": rnd + 1}))
            st.rounds = rnd + 1
            b = best[i]
            if b < INF:
                yield env.timeout(b)
                break
            yield env.timeout(r.ack_timeout_minutes)
        else:
            yield env.timeout(self._manager[i])
        self._acknowledged(st)

    def _acknowledged(self, st: _Incident) -> None:
        """The on-call answered: the ladder's clock starts."""
        st.acknowledged = self.env.now
        if self.log is not None:
            self.log.append((st.acknowledged, st.name, E.acknowledged, "on-call", {}))
        if self._climbs[st.sev]:
            self.env.process(self._ladder(st))

    def _ladder(self, st: _Incident):
        """Walk the technical ladder: each rung is paged once the incident is unresolved for its minutes."""
        env, model = self.env, self.model
        done, t_ack, sev = self._done(st), env.now, st.sev
        offsets = sorted((0.0 if rung.immediate[sev] else rung.after_minutes, j) for j, rung in enumerate(model.ladder))
        for offset, j in offsets:
            wait = t_ack + offset - env.now
            if wait > 0:
                yield done | env.timeout(wait)
                if done.triggered:
                    return
            env.process(self._page_rung(st, j))

    def _page_rung(self, st: _Incident, j: int):
        """Page one rung: an unanswered page times out and is repeated (at most ``max_pages``)."""
        env, log = self.env, self.log
        rung = self.model.ladder[j]
        lp = rung.policy
        done, i = self._done(st), st.i
        fails = self._fails[j][i]
        st.page_at[j] = env.now
        for page in range(lp.max_pages):
            if log is not None:
                if page == 0:
                    log.append((env.now, st.name, E.escalated, "on-call", {"level": rung.level, "role": rung.role}))
                log.append((env.now, st.name, E.paged, "pagerduty",
                            {"who": rung.role, "level": rung.level, "round": page + 1}))
            if page == fails:  # this page is answered: the rung joins after its ack delay
                yield done | env.timeout(self._ladder_delay[j][i])
                if not done.triggered:
                    st.engaged[j] = env.now
                return
            yield done | env.timeout(lp.timeout_minutes)
            if done.triggered:
                return

    def _notify(self, st: _Incident):
        """Business escalation: notify each person once the outage has lasted their minutes."""
        env, log = self.env, self.log
        done, t0 = self._done(st), env.now
        for note in sorted(self.model.runbook.escalation.business, key=lambda n: n.after_minutes):
            wait = t0 + note.after_minutes - env.now
            if wait > 0:
                yield done | env.timeout(wait)
                if done.triggered:
                    return
            if log is not None:
                log.append((env.now, st.name, E.notified, "IC", {"who": note.who, "after_minutes": note.after_minutes}))

    def _start_updates(self, st: _Incident, actor: str) -> None:
        interval = self.model.runbook.severity(self.model.severities[st.sev]).update_interval_minutes
        if interval:
            self.env.process(self._status_updates(st, interval, actor))

    def _status_updates(self, st: _Incident, interval: float, actor: str):
        """Status updates at the severity's cadence: after each post the next reminder is set for the
        cadence minus the typical writing time, and writing takes a ``status_update`` draw, so a slow
        draw makes that update late by the difference (journal only: nothing else depends on it)."""
        env, log = self.env, self.log
        assert log is not None
        dist = self.model.policy.steps.status_update
        reminder = max(0.0, interval - dist.mean())
        draws, done, i = self._draws, self._done(st), st.i
        channels = self.model.runbook.severity(self.model.severities[st.sev]).update_channels
        k = 0
        while True:
            yield done | env.timeout(reminder)
            if done.triggered:
                return
            yield done | env.timeout(draws.q(dist, "process", "status_update", k)[i])
            if done.triggered:
                return
            k += 1
            log.append((env.now, st.name, E.status_update, actor, {"n": k, "channels": channels}))

    def _recurrence(self, st: _Incident, after: float, watch: int):
        yield self.env.timeout(after)
        if st.watching:
            st.proc.interrupt(Recurrence(self.env.now, watch))

    def _watch(self, st: _Incident, act: str, purpose: str, v: int, auto: bool):
        """The stability watch; a recurrence interrupts it (cause: :class:`Recurrence`)."""
        env, draws = self.env, self._draws
        stability, i = self.model.stability_minutes, st.i
        recur = draws.u(act, "recur", v)[i] < self._prob_recur[st.sev] and not auto
        st.recur = recur
        if not recur:
            yield env.timeout(stability)
            return
        st.recurrences += 1
        after = stability * draws.u(act, purpose, v)[i]
        if not after < stability:  # a 0-minute watch: it is back at once
            yield env.timeout(after)
            return
        env.process(self._recurrence(st, after, v))
        st.watching = True
        try:
            yield env.timeout(stability)
        except simpy.Interrupt as stop:
            cause = stop.cause
            if self.log is not None and isinstance(cause, Recurrence):
                self.log.append((env.now, st.name, E.alert_firing, "alertmanager",
                                 {"recurrence": True, "watch": cause.watch + 1}))
        st.watching = False

    # -- helpers ---------------------------------------------------------------------------------------

    def _grow(self, table: list, k: int, v: int) -> list[float]:
        """Draw columns of node ``k`` up to visit ``v`` (quantiles for a duration, else uniforms)."""
        dist, act, purpose = self._specs[id(table)][k]
        cols = table[k]
        while len(cols) <= v:
            visit = len(cols)
            draws = self._draws
            cols.append(draws.u(act, purpose, visit) if dist is None else draws.q(dist, act, purpose, visit))
        return cols[v]

    def _log_start(self, st: _Incident) -> None:
        self.log.append((self.env.now, st.name, E.incident_started, "system",
                         {"severity": self.model.severities[st.sev]}))

    def _log_detected(self, st: _Incident) -> None:
        log, now, i, name = self.log, self.env.now, st.i, st.name
        if self.via_alert[i]:
            log.append((now, name, E.alert_firing, "alertmanager", {"severity": self.model.severities[st.sev]}))
        log.append((now, name, E.detected, "system", {"via": "alert" if self.via_alert[i] else "user_report"}))
        if self._auto[i]:
            at = now + self._rb_after[i]
            log.append((at, name, E.hypothesis, "automation",
                        {"text": "error rate above the rollback threshold after a deploy"}))
            log.append((at, name, E.action, "automation",
                        {"kind": "rollback", "detail": "automatic rollback on error rate"}))
            log.append((at, name, E.mitigated, "automation", {}))
        if not self.model.declared[st.sev]:
            self._start_updates(st, "on-call")

    def _log_step(self, st: _Incident, code: int) -> None:
        if code == _WAR_ROOM:
            self.log.append((self.env.now, st.name, E.war_room_created, "IC", {"channel": f"#incident-{st.name}"}))
        elif code == _TICKET:
            self.log.append((self.env.now, st.name, E.ticket_created, "on-call",
                             {"severity": self.model.severities[st.sev]}))

    def _log_unstaffed_roles(self, st: _Incident) -> None:
        """Roles the declaration needs that the policy does not staff are taken by the on-call."""
        for abbr in self._decl_roles:
            if abbr not in self.roles:
                self.log.append((self.env.now, st.name, E.role_assigned, "on-call",
                                 {"role": abbr, "person": "on-call"}))

    def _route(self, k: int, yes: bool) -> int:
        yes_no = self.model.yes_no[k]
        if yes_no is None:
            return self.model.next_node[k]
        return yes_no[0] if yes else yes_no[1]

    def _done(self, st: _Incident) -> simpy.Event:
        """The incident's "resolution confirmed" event, made only when a watcher needs it."""
        if st.done is None:
            st.done = self.env.event()
            if st.resolved == st.resolved:  # already resolved (not NaN)
                st.done.succeed()
        return st.done

    def _resolve(self, st: _Incident) -> None:
        if st.done is not None and not st.done.triggered:
            st.done.succeed()

    def _declared(self, st: _Incident) -> None:
        """What declaring means for this severity (runbook declaration steps), and the update clock."""
        log = self.log
        if log is None:
            return
        model, now = self.model, self.env.now
        sev_name = model.severities[st.sev]
        log.append((now, st.name, E.severity_declared, "on-call", {"severity": sev_name, "level": int(
            model.runbook.severity(sev_name).level)}))
        for step in model.runbook.declaration_for(sev_name):
            title = step.title
            if re.search(r"^page\b|on-?call", title, re.IGNORECASE):
                log.append((now, st.name, E.paged, "on-call", {"who": "on-call team", "step": title}))
            elif re.search(r"war room", title, re.IGNORECASE) and "war_room" not in model.roles:
                log.append((now, st.name, E.war_room_created, "on-call", {"step": title}))
            elif re.search(r"status|slack|notif", title, re.IGNORECASE):
                log.append((now, st.name, E.status_update, "on-call", {"n": 0, "step": title}))
        self._start_updates(st, "CL" if "CL" in model.policy.responders.roles else "IC")

    # -- run -------------------------------------------------------------------------------------------

    def run(self) -> Replication:
        env = self.env
        env.process(self._source())
        env.run()
        self.events = next(env._eid)  # every event SimPy scheduled (private counter, read once)
        return self._replication()

    def _replication(self) -> Replication:
        model, inc = self.model, self.incidents
        n = self.n

        def col(attr: str, dtype=float) -> np.ndarray:
            return np.fromiter((getattr(s, attr) for s in inc), dtype=dtype, count=n)

        arrival = np.asarray(self.arrival)
        detected, assigned, resolved = col("detected"), col("assigned"), col("resolved")
        page_at = np.array([s.page_at for s in inc], dtype=float).reshape(n, len(model.ladder))
        engaged = np.array([s.engaged for s in inc], dtype=float).reshape(n, len(model.ladder))
        before = resolved[:, None]
        return Replication(
            severity=np.asarray(self.sev, dtype=np.int64),
            arrival=arrival,
            detected=detected,
            via_alert=self.via_alert,
            assigned=assigned,
            acknowledged=col("acknowledged"),
            declared=col("declared"),
            mitigated=np.where(np.asarray(self._auto), detected + np.asarray(self._rb_after), col("mitigated")),
            resolved=resolved,
            closed=col("closed"),
            reviewed=col("reviewed"),
            wait=col("wait"),
            hold=col("hold"),
            page_rounds=col("rounds", np.int64),
            investigations=col("investigations", np.int64),
            escalation_paged=page_at < before,
            escalation_engaged=np.where(engaged < before, engaged, np.inf),
            escalation_page_at=page_at,
            auto_rolled_back=np.asarray(self._auto, dtype=bool),
            recurrences=col("recurrences", np.int64),
            oncall=model.oncall,
            shift=np.zeros(n),
        )

    def journal_rows(self, rep: Replication) -> list[Row]:
        """The logged events, minus what the resolution time rules out (pages, notifications after it)."""
        assert self.log is not None, "run the engine with journal=True"
        resolved = {s.name: s.resolved for s in self.incidents}
        detected = {s.name: s.detected for s in self.incidents}
        out = []
        for row in self.log:
            t, name, etype = row[0], row[1], row[2]
            if etype is E.escalated or (etype is E.paged and row[4].get("level", 1) > 1):
                if not t < resolved[name]:
                    continue
            elif etype is E.notified:
                after = row[4]["after_minutes"]
                if not (after <= 0 or resolved[name] - detected[name] > after):
                    continue
            out.append(row)
        for s in self.incidents:  # the resolution is only known once the watch held: log it at its time
            out.append((s.resolved, s.name, E.resolved, "IC", {}))
        _ = rep
        return out


def _node_table(model: CompiledModel) -> list[tuple]:
    """Per workflow node: (code, next, activity, main purpose, second purpose, duration, journaled, label, id);
    the purposes are the kernel's stream names, so both engines read the same uniforms."""
    table = []
    for k, role in enumerate(model.roles):
        code = _CODES.get(role, _GENERIC)
        nid = model.node_ids[k]
        act = ROLE_ACTIVITY.get(role, "process")
        aux = {"investigate": f"test:{nid}", "fix": f"choice:{nid}"}.get(role, f"decide:{nid}")
        dist = model.duration(role)
        if code == _ZERO and dist is not None:
            code = _GENERIC
        logged = model.kinds[k] != "decision" or code == _SEVERITY
        table.append((code, model.next_node[k], act, f"{role}:{nid}", aux, dist, logged, model.labels[k], nid))
    return table


def run_replication(model: CompiledModel, n: int, seed: int, replication: int = 0, *, salt: int = 0,
                    journal: bool = False) -> Replication:
    """Simulate ``n`` incidents as SimPy processes (same signature and result as the kernel's)."""
    return simulate(model, n, seed, replication, salt=salt, journal=journal)[0]


def simulate(model: CompiledModel, n: int, seed: int, replication: int = 0, *, salt: int = 0,
             journal: bool = False) -> tuple[Replication, SimPyEngine]:
    """Run one replication; also return the engine (its journal rows and SimPy event count)."""
    engine = SimPyEngine(model, n, seed, replication, salt=salt, journal=journal)
    rep = engine.run()
    return rep, engine
