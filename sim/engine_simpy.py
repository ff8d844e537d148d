"""The SimPy process engine: each incident's lifecycle as a SimPy process over the runbook's workflow.

Same inputs (a :class:`~sim.model.CompiledModel` from Policy + ``runbook.workflow``) and the same output
(a :class:`~sim.kernel.Replication`, aggregated by :class:`sim.runner.Outcome`) as the vectorised kernel,
and the same random inputs: every draw is the kernel's uniform for (activity, purpose, visit, incident)
from :class:`sim.streams.Streams`, turned into minutes by the same ``ppf``/helper code, so for a given
seed and replication both engines see the same incidents (common random numbers hold here too).

What SimPy adds is the dynamics, written the idiomatic way:

- the on-call pool is a :class:`simpy.Resource` held with ``with pool.request() as req`` from assignment
  to the restore (``release_at: restored``: the end of verification), to the hand-off on the ticket path,
  or to close (``release_at: closed``); a recurrence re-requests it (FIFO), so under contention the
  engine differs slightly from the kernel, which keeps the responder through a failed watch;
- IC/TL/CL (the policy's roles) and the SME have no head-count in the policy, so they never queue: their
  answers are delays (the ack draw, plus a wait when the person is unreachable), not resources -- an
  unlimited resource only added request and release events that change nothing;
- the technical ladder waits ``after`` minutes per rung (the runbook's "after X min"), then pages the rung:
  ``timeout_minutes`` per unanswered page, and the answered page's ack delay before the rung is engaged
  (an answering person is not cut off by the timeout, as in the kernel); each wait ends early when the
  restore is confirmed.  Without a journal the waits are timed callbacks that check for the restore; with
  one they are processes waiting ``done | env.timeout(...)``, which keeps the order of rows logged at one
  instant (both decide the same: tests/sim/test_simpy_journal_paths.py);
- the stability watch's recurrence is an interrupt carrying a :class:`Recurrence` cause that sends the
  incident back along the workflow's "not stable" edge (to investigation);
- business notifications are timed processes (``done | env.timeout(after)``), and, when journaling,
  status updates are a process on the severity's cadence.

``done`` is triggered when the restore is confirmed (the stability watch held, or the workflow ended);
pages, engagements and notifications are counted when they happened before the restore time, exactly
as the kernel counts them.  Clocks are minutes.

The engine is the dynamics only: its random inputs are :mod:`sim.simpy_draws` (per-incident draws, and the
draw columns each node visit reads), its per-incident bookkeeping and the Replication it becomes are
:mod:`sim.simpy_ledger`, its journal rows are :mod:`sim.simpy_journal`, its routing is :mod:`sim.simpy_plan`.
The incident process and the callbacks it schedules stay closures over one run's tables (what makes them
fast); the journal-only ladder processes are methods.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import simpy

from sim.kernel import Replication
from sim.model import CompiledModel
from sim.simpy_draws import IncidentDraws, VisitColumns
from sim.simpy_journal import Recorder, Row
from sim.simpy_ledger import OUT, Ledger
from sim.simpy_plan import (
    ASSEMBLE,
    ASSIGN,
    CLOSE,
    DECISION,
    DECLARE,
    ESCALATE,
    FIX,
    FIX_WORKED,
    INVESTIGATE,
    MONITOR,
    REVIEW,
    ROOT_CAUSE,
    SEVERITY,
    STABLE,
    VERIFY,
    WAR_ROOM,
    Draws,
    Plan,
)
from sim.simpy_pool import OnCallPool
from sim.streams import Streams

INF = math.inf
NAN = math.nan

_NULL = nullcontext()


class Recurrence:
    """Interrupt cause: the problem came back during the stability watch."""

    __slots__ = ("at", "watch")

    def __init__(self, at: float, watch: int) -> None:
        self.at = at
        self.watch = watch


class SimPyEngine:
    """One replication of ``n`` incidents as SimPy processes; deterministic in (model, n, seed, r, salt).

    ``draws`` are the incidents' own draws, ``columns`` the draws of each node visit, ``ledger`` the
    per-incident state (no object per incident), ``recorder`` the journal (None without one)."""

    def __init__(self, model: CompiledModel, n: int, seed: int, replication: int = 0, *, salt: int = 0,
                 journal: bool = False, chunk: int = 0) -> None:
        self.model = model
        self.n = n
        self.replication = replication
        streams = Streams(seed, replication, n, salt, chunk)
        quantiles = Draws(streams)
        self.draws = IncidentDraws(model, streams, n)
        self.plan = Plan(model, quantiles)
        self.columns = VisitColumns(self.plan)
        self.env = simpy.Environment()
        oncall = model.oncall
        self.pool = None if oncall is None else OnCallPool(self.env, oncall)
        self.ledger = Ledger(self.env, n, len(model.ladder))
        self.recorder = Recorder(self.env, model, self.plan, quantiles, self.draws, self.ledger, replication) \
            if journal else None
        self.events = 0

    @property
    def log(self) -> list[Row] | None:
        """The journal rows in the order they were logged (None without a journal)."""
        return None if self.recorder is None else self.recorder.log

    # -- processes -------------------------------------------------------------------------------------

    def _processes(self):
        """The engine's process functions, as closures over this run's tables: every table, draw column
        and SimPy callable is a cell variable, so the per-event code does no attribute or dict lookups.
        The clock is read as ``env._now`` (SimPy's own attribute; the ``now`` property costs a call per read):
        inlined for performance.  Returns ``arrivals``: ``arrivals(0)`` schedules the first incident."""
        env, model, plan, rec, draws, ledger = self.env, self.model, self.plan, self.recorder, self.draws, self.ledger
        journal = rec is not None
        timeout, process = env.timeout, env.process
        request = None if self.pool is None else self.pool.request
        sevs, arrival, detect_gap = draws.sev, draws.arrival, draws.detect_gap
        auto, rb_after = draws.auto, draws.rb_after
        round_best, manager = draws.round_best, draws.manager
        round1 = round_best[0] if round_best else [INF] * self.n
        n_out, n_incidents = len(OUT), self.n
        ack_timeout = model.policy.responders.ack_timeout_minutes
        fails, ladder_delay = draws.fails, draws.ladder_delay
        rung_policy = [(r.policy.max_pages, r.policy.timeout_minutes) for r in model.ladder]
        rungs = len(model.ladder)
        detected_at, restored_at, page_at, engaged, out = (
            ledger.detected, ledger.restored, ledger.page_at, ledger.engaged, ledger.out)
        watching = [False] * self.n
        codes, nexts, yes, no, free, other_p = plan.codes, plan.nexts, plan.yes, plan.no, plan.free, plan.other_p
        at, grow = self.columns.at, self.columns.grow
        route_sev, prob_root, prob_rollback, prob_recur = (
            plan.route_sev, plan.prob_root, plan.prob_rollback, plan.prob_recur)
        rung_root, climbs, ladder_plan, release_code = plan.rung_root, plan.climbs, plan.ladder, plan.release_code
        dec = model.policy.decisions
        rollback_success, hotfix_success = dec.rollback_success, dec.hotfix_success
        stability = model.stability_minutes
        first_node, verify_node, n_nodes = model.first_node, model.verify_node, len(codes)
        confirm, ladder = ledger.confirm, self._ladder
        null = _NULL

        def arrivals(i):
            """Poisson arrivals (the kernel's merged stream), one incident process each, from incident ``i``
            on: those due now start at once, and a timed callback starts the next one when it arrives (the
            waits a source process would make, without resuming a process for each)."""
            while i < n_incidents:
                gap = arrival[i] - env._now
                if gap > 0:
                    timeout(gap).callbacks.append(lambda _event, i=i: arrive(i))
                    return
                process(incident(i))
                i += 1

        def arrive(i):
            process(incident(i))
            arrivals(i + 1)

        def incident(i):
            """One incident: detection, then the workflow walked node by node.  Each stretch that needs the
            on-call runs inside ``with pool.request()``; the stretch ends at a release point (hand-off,
            restore, close) and a recurrence opens a new one.  A node's draws for this visit are ``cols``
            (``sim.simpy_draws.VisitColumns`` lists what each node reads)."""
            sev = sevs[i]
            if journal:
                rec.started(i, sev)
            yield timeout(detect_gap[i])
            detected = detected_at[i] = env._now
            rollback = timeout(rb_after[i]) if auto[i] else None
            notify = False
            if journal:
                rec.detected(i, sev)
                # notifications only write journal rows (Outcome derives them); those due at detection are
                # logged before the on-call is paged when there is a pool, after the first page without one
                # (the rows of one instant keep the order they had when notifying was a process of its own)
                notify = rec.notifies(sev)
                if notify and request is not None:
                    rec.notify(i)
                    notify = False
            base = i * rungs
            visits = [0] * n_nodes
            k = first_node
            first = True
            assigned = acknowledged = wait = hold = 0.0
            declared = mitigated = closed = reviewed = last_verify = restored = NAN
            rounds = investigations = recurrences = 0
            fix_rollback = recur = False
            while k >= 0:
                held = first or not free[k]
                with (request() if held and request is not None else null) as req:
                    if req is not None:
                        yield req
                    start = env._now
                    if first:
                        first = False
                        assigned, wait = start, start - detected
                        b = round1[i]
                        if b < INF and not journal:  # answered at the first page (the common case)
                            rounds = 1
                            yield timeout(b)
                        else:
                            rounds = yield from acknowledge(i, notify)
                        acknowledged = env._now
                        if journal:
                            rec.acknowledged(i, acknowledged)
                        if climbs[sev]:
                            if journal:  # rungs paged at once log after this step's rows, as in their own process
                                process(ladder(i, sev))
                            else:
                                climb(i, ladder_plan[sev], 0, env._now)
                    while k >= 0:
                        code = codes[k]
                        if held:
                            if code == ASSIGN:  # the ticket goes to a team member: the on-call is free again
                                break
                        elif request is not None and not free[k]:
                            break
                        v = visits[k]
                        visits[k] = v + 1
                        try:
                            cols = at[k][v]
                        except IndexError:  # the first incident to make this visit: its columns are made now
                            cols = grow(k, v)
                        t0 = env._now
                        if journal:
                            rec.step_started(i, k, t0)
                        nxt = nexts[k]
                        if code <= WAR_ROOM:  # a step with a plain duration (or none)
                            if cols:
                                d = cols[0][i]
                                if d > 0.0:  # a zero-minute step schedules nothing
                                    yield timeout(d)
                            if code == SEVERITY:
                                nxt = route_sev[sev]
                            elif code == DECLARE:
                                if declared != declared:  # NaN: the first declaration
                                    declared = env._now
                                    if journal:
                                        rec.declared(i, sev)
                            elif journal and code != ASSIGN:
                                rec.step(i, sev, code)
                        elif code == INVESTIGATE:
                            if rollback is not None and v == 0 and verify_node >= 0:
                                yield rollback  # the automatic rollback skips the investigation loop
                                nxt = verify_node
                            else:
                                h = cols[0][i]  # forming the hypothesis, then testing it
                                if journal:
                                    rec.hypothesis(i, t0 + h, v)
                                investigations += 1
                                d = h + cols[1][i]
                                if d > 0.0:
                                    yield timeout(d)
                        elif code == ROOT_CAUSE:
                            p = prob_root[sev]
                            for j, rp in rung_root:  # an engaged rung may know the cause
                                if engaged[base + j] <= t0 and rp[sev] > p:
                                    p = rp[sev]
                            nxt = yes[k] if cols[0][i] < p else no[k]
                        elif code == FIX:
                            fix_rollback = cols[0][i] < prob_rollback[sev]
                            d = (cols[1] if fix_rollback else cols[2])[i]
                            if d > 0.0:
                                yield timeout(d)
                            if journal:
                                rec.fix(i, fix_rollback)
                        elif code == FIX_WORKED:
                            if cols[0][i] < (rollback_success if fix_rollback else hotfix_success):
                                mitigated = t0
                                if journal:
                                    rec.mitigated(i, t0)
                                nxt = yes[k]
                            else:
                                nxt = no[k]
                        elif code == VERIFY:
                            d = cols[0][i]
                            if d > 0.0:
                                yield timeout(d)
                            last_verify = env._now
                            if journal:
                                rec.verified(i, last_verify)
                        elif code == MONITOR:  # the stability watch; a recurrence interrupts it
                            recur = cols[0][i] < prob_recur[sev] and rollback is None
                            if not recur:
                                yield timeout(stability)
                            else:
                                recurrences += 1
                                after = stability * cols[1][i]
                                if not after < stability:  # a 0-minute watch: it is back at once
                                    yield timeout(after)
                                else:
                                    process(recurrence(env.active_process, i, after, v))
                                    watching[i] = True
                                    try:
                                        yield timeout(stability)
                                    except simpy.Interrupt as stop:
                                        if journal and isinstance(stop.cause, Recurrence):
                                            rec.recurred(i, stop.cause.watch)
                                    watching[i] = False
                        elif code == STABLE:
                            if not recur:
                                restored = restored_at[i] = last_verify
                                confirm(i)
                                nxt = yes[k]
                            else:
                                nxt = no[k]
                        elif code == CLOSE:
                            d = cols[0][i]
                            if d > 0.0:
                                yield timeout(d)
                            if restored != restored:  # no watch decided it: the last verification
                                restored = restored_at[i] = t0 if last_verify != last_verify else last_verify
                                confirm(i)
                            closed = env._now
                            if journal:
                                rec.closed(i, closed)
                        elif code == ASSEMBLE:
                            d = cols[0][i]
                            if d > 0.0:
                                yield timeout(d)
                            slowest = 0.0
                            for role in cols[1]:  # each staffed role answers after its ack delay
                                delay = role[i]
                                if delay > slowest:
                                    slowest = delay
                            if journal:
                                rec.assembled(i, cols[1])
                            if slowest > 0.0:
                                yield timeout(slowest)
                        elif code == REVIEW:
                            d = cols[0][i]
                            if d > 0.0:
                                yield timeout(d)
                            reviewed = env._now
                            if journal:
                                rec.reviewed(i, reviewed)
                        elif code == ESCALATE:  # the step, then the SME's answer
                            yield timeout(cols[0][i] + cols[1][i])
                            if journal:
                                rec.sme_joined(i)
                        elif code == DECISION:
                            nxt = yes[k] if cols[0][i] < other_p[k] else no[k]
                        if journal:
                            rec.step_finished(i, k)
                        k = nxt
                        if held and code == release_code:
                            break
                    if held:
                        hold += env._now - start
            if restored != restored:  # the workflow ended without a watch or a close (ticket path)
                restored_at[i] = env._now
                confirm(i)
            o = i * n_out
            out[o:o + n_out] = (assigned, acknowledged, declared, mitigated, closed, reviewed, wait, hold, rounds,
                                investigations, recurrences)

        def acknowledge(i, notify):
            """Paging rounds of ``page_at_once`` people; nobody in any round -> the manager picks it up.
            Returns the number of rounds paged.  ``notify``: log the business notifications after the first page."""
            rounds = 0
            for rnd, best in enumerate(round_best):
                if journal:
                    rec.paged_oncall(i, rnd)
                    if notify:
                        rec.notify(i)
                        notify = False
                rounds = rnd + 1
                b = best[i]
                if b < INF:
                    yield timeout(b)
                    break
                yield timeout(ack_timeout)
            else:
                if notify:  # nobody was paged
                    rec.notify(i)
                yield timeout(manager[i])
            return rounds

        def climb(i, plan, r, t_ack):
            """Page the ladder's rungs from ``r`` on that are due: each rung is paged once the incident is
            not restored its minutes after acknowledgement.  The wait for the next rung is a timed callback
            that pages it unless the restore is confirmed by then: what waiting ``done | timeout`` in a process
            decides, without the process and condition events (no journal: nothing is logged; with one,
            :meth:`SimPyEngine._ladder` does this)."""
            while r < len(plan):
                offset, j = plan[r]
                wait = t_ack + offset - env._now
                if wait > 0:
                    def due(_event, r=r, j=j):
                        if restored_at[i] != restored_at[i]:  # NaN: not restored yet
                            page(i, j, 0)
                            climb(i, plan, r + 1, t_ack)

                    timeout(wait).callbacks.append(due)
                    return
                page(i, j, 0)
                r += 1

        def page(i, j, p):
            """Page ``p`` of rung ``j``: the answered page engages the rung after its ack delay (an answering
            person is not cut off by the page timeout); an unanswered one is repeated after the timeout, at
            most ``max_pages`` times.  Either stops when the restore is confirmed first."""
            slot = i * rungs + j
            if p == 0:
                page_at[slot] = env._now
            if p == fails[j][i]:
                def join(_event):
                    if restored_at[i] != restored_at[i]:
                        engaged[slot] = env._now

                timeout(ladder_delay[j][i]).callbacks.append(join)
                return
            max_pages, page_timeout = rung_policy[j]
            if p + 1 < max_pages:
                def again(_event):
                    if restored_at[i] != restored_at[i]:
                        page(i, j, p + 1)

                timeout(page_timeout).callbacks.append(again)

        def recurrence(proc, i, after, watch):
            """The problem comes back ``after`` minutes into the watch: interrupt it (if it still runs)."""
            yield timeout(after)
            if watching[i]:
                proc.interrupt(Recurrence(env._now, watch))

        return arrivals

    # -- the ladder with a journal ---------------------------------------------------------------------

    def _ladder(self, i: int, sev: int):
        """With a journal, the ladder and each paged rung are processes waiting ``done | timeout``: the
        rows logged at one instant keep the order they have always had (the ``climb`` callbacks give the
        same times and counts, which the tests check)."""
        env, ledger, rungs = self.env, self.ledger, len(self.model.ladder)
        is_done, t_ack = ledger.done_event(i), env._now
        for offset, j in self.plan.ladder[sev]:
            wait = t_ack + offset - env._now
            if wait > 0:
                yield is_done | env.timeout(wait)
                if is_done.triggered:
                    return
            ledger.page_at[i * rungs + j] = env._now
            env.process(self._paging(i, j))

    def _paging(self, i: int, j: int):
        """With a journal: an unanswered page times out and is repeated (at most ``max_pages``)."""
        env, ledger = self.env, self.ledger
        is_done = ledger.done_event(i)
        unanswered = self.draws.fails[j][i]
        policy = self.model.ladder[j].policy
        for p in range(policy.max_pages):
            self.recorder.rung_paged(i, j, p)
            if p == unanswered:  # this page is answered: the rung joins after its ack delay
                yield is_done | env.timeout(self.draws.ladder_delay[j][i])
                if not is_done.triggered:
                    ledger.engaged[i * len(self.model.ladder) + j] = env._now
                return
            yield is_done | env.timeout(policy.timeout_minutes)
            if is_done.triggered:
                return

    # -- run -------------------------------------------------------------------------------------------

    def run(self) -> Replication:
        env = self.env
        self._processes()(0)  # the first arrival
        env.run()
        # every event SimPy processed: its event-id counter counts scheduled events, and the queue is empty
        self.events = next(env._eid) - len(env._queue)
        return self.ledger.replication(self.model, self.draws)

    def journal_rows(self, rep: Replication) -> list[Row]:
        """The journal's rows (:meth:`sim.simpy_journal.Recorder.rows`)."""
        assert self.recorder is not None, "run the engine with journal=True"
        return self.recorder.rows(rep)


def run_replication(model: CompiledModel, n: int, seed: int, replication: int = 0, *, salt: int = 0,
                    journal: bool = False, chunk: int = 0) -> Replication:
    """Simulate ``n`` incidents as SimPy processes (same signature and result as the kernel's)."""
    return simulate(model, n, seed, replication, salt=salt, journal=journal, chunk=chunk)[0]


def simulate(model: CompiledModel, n: int, seed: int, replication: int = 0, *, salt: int = 0,
             journal: bool = False, chunk: int = 0) -> tuple[Replication, SimPyEngine]:
    """Run one replication; also return the engine (its journal rows and SimPy event count)."""
    engine = SimPyEngine(model, n, seed, replication, salt=salt, journal=journal, chunk=chunk)
    rep = engine.run()
    return rep, engine
