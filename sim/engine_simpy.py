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
"""

from __future__ import annotations

import math
from array import array
from contextlib import nullcontext

import numpy as np
import simpy

from gameday.journal import EventType
from gameday.metrics import Milestone
from gameday.runbook.classify import DeclarationKind
from sim.kernel import (
    Replication,
    _arrivals,
    _detection,
    auto_rollback_draws,
    count_ladder_pages,
    ladder_draws,
    page_round_draws,
)
from sim.milestones import milestones
from sim.model import CompiledModel
from sim.responder import status_update_gap
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
    TICKET,
    VERIFY,
    WAR_ROOM,
    Draws,
    Plan,
    column,
)
from sim.simpy_pool import OnCallPool
from sim.streams import Streams

INF = math.inf
NAN = math.nan
E = EventType

Row = tuple[float, str, EventType, str, dict]
_NULL = nullcontext()
#: per-incident results the incident process keeps in locals and stores once, when it ends
_OUT = ("assigned", "acknowledged", "declared", "mitigated", "closed", "reviewed", "wait", "hold", "rounds",
        "investigations", "recurrences")


class Recurrence:
    """Interrupt cause: the problem came back during the stability watch."""

    __slots__ = ("at", "watch")

    def __init__(self, at: float, watch: int) -> None:
        self.at = at
        self.watch = watch


class SimPyEngine:
    """One replication of ``n`` incidents as SimPy processes; deterministic in (model, n, seed, r, salt).

    Per-incident state lives in flat arrays and lists indexed by incident (what other processes of the incident
    read: detection and restore times, the ``done`` event, ladder pages and engagements) or in the
    incident process's locals (the rest, stored once in ``out`` when it ends): no object per incident."""

    def __init__(self, model: CompiledModel, n: int, seed: int, replication: int = 0, *, salt: int = 0,
                 journal: bool = False, chunk: int = 0) -> None:
        self.model = model
        self.n = n
        self.replication = replication
        streams = Streams(seed, replication, n, salt, chunk)
        self._draws = draws = Draws(streams)
        arrival, sev = _arrivals(model, streams, n)
        ttd, via_alert = _detection(model, streams, sev)
        self.arrival = column(arrival)  # float columns as array('d') (sim.simpy_plan.column)
        self.sev = sev.tolist()
        self.detect_gap = column(ttd)
        self.via_alert = via_alert
        best, manager = page_round_draws(model, streams, n)
        self._round_best = [column(b) for b in best]
        self._manager = column(manager)
        fails, delays = ladder_draws(model, streams, n)
        self._fails = fails.T.tolist()
        self._fails_by_incident = fails
        self._ladder_delay = [column(d) for d in delays.T]
        auto, rb_after = auto_rollback_draws(model, streams, sev)
        self._auto = auto.tolist()
        self._rb_after = column(rb_after)
        self.plan = Plan(model, draws)
        self.env = simpy.Environment()
        oncall = model.oncall
        self.pool = None if oncall is None else OnCallPool(self.env, oncall)
        #: roles the policy staffs (IC, TL, CL): no head-count, so they never queue (their answers are delays)
        self.roles = set(model.policy.responders.roles)
        self.log: list[Row] | None = [] if journal else None
        self.names = [f"sim-{replication}-{i:06d}" for i in range(n)] if journal else None
        rungs = len(model.ladder)
        # float state as array('d'): collected by one copy (numpy reads the buffer), nothing for the GC to scan
        self.detected = array("d", [NAN]) * n
        self.restored = array("d", [NAN]) * n
        self.done: list[simpy.Event | None] = [None] * n
        self.page_at = array("d", [INF]) * (n * rungs)  # incident i, rung j at i * rungs + j
        self.engaged = array("d", [INF]) * (n * rungs)
        #: incident i's results (the _OUT fields) at [i * len(_OUT), (i + 1) * len(_OUT)), written once when it ends
        self.out = [NAN] * (n * len(_OUT))
        self.events = 0
        self._decl_roles = list(model.runbook.declaration_roles)
        business = model.runbook.escalation.business_severities
        self._business = {k for k, s in enumerate(model.severities) if s in business} if \
            model.runbook.escalation.business else set()
        self._notes = sorted(model.runbook.escalation.business, key=lambda n: n.after_minutes)

    # -- processes -------------------------------------------------------------------------------------

    def _processes(self):
        """The engine's process functions, as closures over this run's tables: every table, draw column
        and SimPy callable is a cell variable, so the per-event code does no attribute or dict lookups.
        The clock is read as ``env._now`` (SimPy's own attribute; the ``now`` property costs a call per read):
        inlined for performance.  Returns ``arrivals``: ``arrivals(0)`` schedules the first incident."""
        env, model, plan, log = self.env, self.model, self.plan, self.log
        journal = log is not None
        timeout, process = env.timeout, env.process
        names = self.names
        request = None if self.pool is None else self.pool.request
        staffed = list(plan.role_names)
        sevs, arrival, detect_gap = self.sev, self.arrival, self.detect_gap
        auto, rb_after = self._auto, self._rb_after
        round_best, manager = self._round_best, self._manager
        round1 = round_best[0] if round_best else [INF] * self.n
        n_out, n_incidents = len(_OUT), self.n
        ack_timeout = model.policy.responders.ack_timeout_minutes
        fails, ladder_delay = self._fails, self._ladder_delay
        rung_policy = [(r.policy.max_pages, r.policy.timeout_minutes) for r in model.ladder]
        rungs = len(model.ladder)
        detected_at, restored_at, page_at, engaged, out = (
            self.detected, self.restored, self.page_at, self.engaged, self.out)
        business = self._business
        watching = [False] * self.n
        codes, nexts, yes, no, free, logged = plan.codes, plan.nexts, plan.yes, plan.no, plan.free, plan.logged
        other_p, labels, ids = plan.other_p, plan.labels, plan.ids
        main_t, second_t, aux_t, watch_t, recur_t, sme_t, roles_t = (
            plan.main, plan.second, plan.aux, plan.watch, plan.recur, plan.sme, plan.roles)
        main, second, aux, watch_u, recur_u, sme_d, role_d = (
            main_t.cols, second_t.cols, aux_t.cols, watch_t.cols, recur_t.cols, sme_t.cols, roles_t.cols)
        route_sev, prob_root, prob_rollback, prob_recur = (
            plan.route_sev, plan.prob_root, plan.prob_rollback, plan.prob_recur)
        rung_root, climbs, ladder_plan, release_code = plan.rung_root, plan.climbs, plan.ladder, plan.release_code
        dec = model.policy.decisions
        rollback_success, hotfix_success = dec.rollback_success, dec.hotfix_success
        stability = model.stability_minutes
        first_node, verify_node, n_nodes = model.first_node, model.verify_node, len(codes)
        get_done, confirm = self._done, self._confirm
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
            restore, close) and a recurrence opens a new one."""
            sev = sevs[i]
            if journal:
                self._log_start(i, sev)
            yield timeout(detect_gap[i])
            detected = detected_at[i] = env._now
            rollback = timeout(rb_after[i]) if auto[i] else None
            notify = False
            if journal:
                self._log_detected(i, sev)
                # notifications only write journal rows (Outcome derives them); those due at detection are
                # logged before the on-call is paged when there is a pool, after the first page without one
                # (the rows of one instant keep the order they had when notifying was a process of its own)
                notify = sev in business
                if notify and request is not None:
                    self._notify(i)
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
                            log.append((acknowledged, names[i], E.acknowledged, "on-call", {}))
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
                        t0 = env._now
                        if journal and logged[k]:
                            log.append((t0, names[i], E.step_started, "on-call",
                                        {"step": labels[k], "node": ids[k]}))
                        nxt = nexts[k]
                        if code <= WAR_ROOM:  # a step with a plain duration (or none)
                            cols = main[k]
                            if cols is not None:
                                try:
                                    d = cols[v][i]
                                except IndexError:
                                    d = main_t.grow(k, v)[i]
                                if d > 0.0:  # a zero-minute step schedules nothing
                                    yield timeout(d)
                            if code == SEVERITY:
                                nxt = route_sev[sev]
                            elif code == DECLARE:
                                if declared != declared:  # NaN: the first declaration
                                    declared = env._now
                                    if journal:
                                        self._declared(i, sev)
                            elif journal and code != ASSIGN:
                                self._log_step(i, sev, code)
                        elif code == INVESTIGATE:
                            if rollback is not None and v == 0 and verify_node >= 0:
                                yield rollback  # the automatic rollback skips the investigation loop
                                nxt = verify_node
                            else:
                                try:
                                    h = main[k][v][i]
                                except IndexError:
                                    h = main_t.grow(k, v)[i]
                                try:
                                    x = second[k][v][i]
                                except IndexError:
                                    x = second_t.grow(k, v)[i]
                                if journal:
                                    log.append((t0 + h, names[i], E.hypothesis, "TL",
                                                {"text": f"working hypothesis #{v + 1}"}))
                                investigations += 1
                                d = h + x
                                if d > 0.0:
                                    yield timeout(d)
                        elif code == ROOT_CAUSE:
                            p = prob_root[sev]
                            for j, rp in rung_root:  # an engaged rung may know the cause
                                if engaged[base + j] <= t0 and rp[sev] > p:
                                    p = rp[sev]
                            try:
                                x = aux[k][v][i]
                            except IndexError:
                                x = aux_t.grow(k, v)[i]
                            nxt = yes[k] if x < p else no[k]
                        elif code == FIX:
                            try:
                                x = aux[k][v][i]
                            except IndexError:
                                x = aux_t.grow(k, v)[i]
                            fix_rollback = x < prob_rollback[sev]
                            table = main_t if fix_rollback else second_t
                            try:
                                d = table.cols[k][v][i]
                            except IndexError:
                                d = table.grow(k, v)[i]
                            if d > 0.0:
                                yield timeout(d)
                            if journal:
                                log.append((env._now, names[i], E.action, "TL",
                                            {"kind": "rollback" if fix_rollback else "hotfix"}))
                        elif code == FIX_WORKED:
                            try:
                                x = aux[k][v][i]
                            except IndexError:
                                x = aux_t.grow(k, v)[i]
                            if x < (rollback_success if fix_rollback else hotfix_success):
                                mitigated = t0
                                if journal:
                                    log.append((t0, names[i], E.mitigated, "TL", {}))
                                nxt = yes[k]
                            else:
                                nxt = no[k]
                        elif code == VERIFY:
                            try:
                                d = main[k][v][i]
                            except IndexError:
                                d = main_t.grow(k, v)[i]
                            if d > 0.0:
                                yield timeout(d)
                            last_verify = env._now
                            if journal:
                                log.append((last_verify, names[i], E.verified, "TL", {}))
                        elif code == MONITOR:  # the stability watch; a recurrence interrupts it
                            try:
                                x = recur_u[k][v][i]
                            except IndexError:
                                x = recur_t.grow(k, v)[i]
                            recur = x < prob_recur[sev] and rollback is None
                            if not recur:
                                yield timeout(stability)
                            else:
                                recurrences += 1
                                try:
                                    x = watch_u[k][v][i]
                                except IndexError:
                                    x = watch_t.grow(k, v)[i]
                                after = stability * x
                                if not after < stability:  # a 0-minute watch: it is back at once
                                    yield timeout(after)
                                else:
                                    process(recurrence(env.active_process, i, after, v))
                                    watching[i] = True
                                    try:
                                        yield timeout(stability)
                                    except simpy.Interrupt as stop:
                                        if journal and isinstance(stop.cause, Recurrence):
                                            log.append((env._now, names[i], E.alert_firing, "alertmanager",
                                                        {"recurrence": True, "watch": stop.cause.watch + 1}))
                                    watching[i] = False
                        elif code == STABLE:
                            if not recur:
                                restored = restored_at[i] = last_verify
                                confirm(i)
                                nxt = yes[k]
                            else:
                                nxt = no[k]
                        elif code == CLOSE:
                            try:
                                d = main[k][v][i]
                            except IndexError:
                                d = main_t.grow(k, v)[i]
                            if d > 0.0:
                                yield timeout(d)
                            if restored != restored:  # no watch decided it: the last verification
                                restored = restored_at[i] = t0 if last_verify != last_verify else last_verify
                                confirm(i)
                            closed = env._now
                            if journal:
                                log.append((closed, names[i], E.closed, "IC", {}))
                        elif code == ASSEMBLE:
                            try:
                                d = main[k][v][i]
                            except IndexError:
                                d = main_t.grow(k, v)[i]
                            if d > 0.0:
                                yield timeout(d)
                            slowest = 0.0
                            for r, role_name in enumerate(staffed):
                                try:
                                    delay = role_d[r][v][i]
                                except IndexError:
                                    delay = roles_t.grow(r, v)[i]
                                if delay > slowest:
                                    slowest = delay
                                if journal:
                                    log.append((env._now + delay, names[i], E.role_assigned, "on-call",
                                                {"role": role_name, "person": f"{role_name.lower()}-on-duty"}))
                            if journal:
                                self._log_unstaffed_roles(i)
                            if slowest > 0.0:
                                yield timeout(slowest)
                        elif code == REVIEW:
                            try:
                                d = main[k][v][i]
                            except IndexError:
                                d = main_t.grow(k, v)[i]
                            if d > 0.0:
                                yield timeout(d)
                            reviewed = env._now
                            if journal:
                                log.append((reviewed, names[i], E.postmortem_filed, "IC", {}))
                        elif code == ESCALATE:
                            try:
                                d = main[k][v][i]
                            except IndexError:
                                d = main_t.grow(k, v)[i]
                            try:
                                d += sme_d[k][v][i]
                            except IndexError:
                                d += sme_t.grow(k, v)[i]
                            yield timeout(d)
                            if journal:
                                log.append((env._now, names[i], E.role_assigned, "on-call",
                                            {"role": "SME", "person": "sme-on-duty"}))
                        elif code == DECISION:
                            try:
                                x = aux[k][v][i]
                            except IndexError:
                                x = aux_t.grow(k, v)[i]
                            nxt = yes[k] if x < other_p[k] else no[k]
                        if journal and logged[k]:
                            log.append((env._now, names[i], E.step_finished, "on-call",
                                        {"step": labels[k], "node": ids[k]}))
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
                    log.append((env._now, names[i], E.paged, "pagerduty", {"who": "on-call", "level": 1,
                                                                          "round": rnd + 1}))
                    if notify:
                        self._notify(i)
                        notify = False
                rounds = rnd + 1
                b = best[i]
                if b < INF:
                    yield timeout(b)
                    break
                yield timeout(ack_timeout)
            else:
                if notify:  # nobody was paged
                    self._notify(i)
                yield timeout(manager[i])
            return rounds

        def climb(i, plan, r, t_ack):
            """Page the ladder's rungs from ``r`` on that are due: each rung is paged once the incident is
            not restored its minutes after acknowledgement.  The wait for the next rung is a timed callback
            that pages it unless the restore is confirmed by then: what waiting ``done | timeout`` in a process
            decides, without the process and condition events (no journal: nothing is logged)."""
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

        def ladder(i, sev):
            """With a journal, the ladder and each paged rung are processes waiting ``done | timeout``: the
            rows logged at one instant keep the order they have always had (the ``climb`` callbacks give the
            same times and counts, which the tests check)."""
            is_done, t_ack = get_done(i), env._now
            for offset, j in ladder_plan[sev]:
                wait = t_ack + offset - env._now
                if wait > 0:
                    yield is_done | timeout(wait)
                    if is_done.triggered:
                        return
                page_at[i * rungs + j] = env._now
                process(paging(i, j))

        def paging(i, j):
            """With a journal: an unanswered page times out and is repeated (at most ``max_pages``)."""
            is_done = get_done(i)
            unanswered = fails[j][i]
            max_pages, page_timeout = rung_policy[j]
            for p in range(max_pages):
                self._log_page(i, j, p)
                if p == unanswered:  # this page is answered: the rung joins after its ack delay
                    yield is_done | timeout(ladder_delay[j][i])
                    if not is_done.triggered:
                        engaged[i * rungs + j] = env._now
                    return
                yield is_done | timeout(page_timeout)
                if is_done.triggered:
                    return

        def recurrence(proc, i, after, watch):
            """The problem comes back ``after`` minutes into the watch: interrupt it (if it still runs)."""
            yield timeout(after)
            if watching[i]:
                proc.interrupt(Recurrence(env._now, watch))

        return arrivals

    # -- shared per-incident events --------------------------------------------------------------------

    def _done(self, i: int) -> simpy.Event:
        """The incident's "restore confirmed" event, made only when a watcher needs it."""
        done = self.done[i]
        if done is None:
            done = self.done[i] = self.env.event()
            if self.restored[i] == self.restored[i]:  # already confirmed (not NaN)
                done.succeed()
        return done

    def _confirm(self, i: int) -> None:
        done = self.done[i]
        if done is not None and not done.triggered:
            done.succeed()

    # -- journal (only with journal=True) --------------------------------------------------------------

    def _notify(self, i: int) -> None:
        """Business escalation: notify each person once the outage has lasted their minutes.  Those due at
        detection are logged on the spot (before the incident pages anyone); a process waits for the rest."""
        env, log, notes = self.env, self.log, self._notes
        t0 = env._now
        for k, note in enumerate(notes):
            if t0 + note.after_minutes - t0 > 0:
                env.process(self._notify_later(i, t0, k))
                return
            log.append((t0, self.names[i], E.notified, "IC", {"who": note.who, "after_minutes": note.after_minutes}))

    def _notify_later(self, i: int, t0: float, first: int):
        env, log = self.env, self.log
        done = self._done(i)
        for note in self._notes[first:]:
            wait = t0 + note.after_minutes - env.now
            if wait > 0:
                yield done | env.timeout(wait)
                if done.triggered:
                    return
            log.append((env.now, self.names[i], E.notified, "IC",
                        {"who": note.who, "after_minutes": note.after_minutes}))

    def _start_updates(self, i: int, sev: int, actor: str) -> None:
        interval = self.model.runbook.severity(self.model.severities[sev]).update_interval_minutes
        if interval:
            self.env.process(self._status_updates(i, sev, interval, actor))

    def _status_updates(self, i: int, sev: int, interval: float, actor: str):
        """Status updates at the severity's cadence: after each post the next reminder is set for the
        cadence minus the typical writing time, and writing takes a ``status_update`` draw, so a slow
        draw makes that update late by the difference (journal only: nothing else depends on it)."""
        env, log = self.env, self.log
        dist = self.model.policy.steps.status_update
        # sim.responder.status_update_gap (the autopilot's rule too) split in its two waits: reminder, then writing
        reminder = status_update_gap(interval, 0.0, float(dist.mean()))
        draws, done, name = self._draws, self._done(i), self.names[i]
        channels = self.model.runbook.severity(self.model.severities[sev]).update_channels
        k = 0
        while True:
            yield done | env.timeout(reminder)
            if done.triggered:
                return
            yield done | env.timeout(draws.q(dist, "process", "status_update", k)[i])
            if done.triggered:
                return
            k += 1
            log.append((env.now, name, E.status_update, actor, {"n": k, "channels": channels}))

    def _log_start(self, i: int, sev: int) -> None:
        self.log.append((self.env.now, self.names[i], E.incident_started, "system",
                         {"severity": self.model.severities[sev]}))

    def _log_detected(self, i: int, sev: int) -> None:
        log, now, name = self.log, self.env.now, self.names[i]
        if self.via_alert[i]:
            log.append((now, name, E.alert_firing, "alertmanager", {"severity": self.model.severities[sev]}))
        log.append((now, name, E.detected, "system", {"via": "alert" if self.via_alert[i] else "user_report"}))
        if self._auto[i]:
            at = now + self._rb_after[i]
            log.append((at, name, E.hypothesis, "automation",
                        {"text": "error rate above the rollback threshold after a deploy"}))
            log.append((at, name, E.action, "automation",
                        {"kind": "rollback", "detail": "automatic rollback on error rate"}))
            log.append((at, name, E.mitigated, "automation", {}))
        if not self.model.declared[sev]:
            self._start_updates(i, sev, "on-call")

    def _log_step(self, i: int, sev: int, code: int) -> None:
        name = self.names[i]
        if code == WAR_ROOM:
            self.log.append((self.env.now, name, E.war_room_created, "IC", {"channel": f"#incident-{name}"}))
        elif code == TICKET:
            self.log.append((self.env.now, name, E.ticket_created, "on-call",
                             {"severity": self.model.severities[sev]}))

    def _log_unstaffed_roles(self, i: int) -> None:
        """Roles the declaration needs that the policy does not staff are taken by the on-call."""
        for abbr in self._decl_roles:
            if abbr not in self.roles:
                self.log.append((self.env.now, self.names[i], E.role_assigned, "on-call",
                                 {"role": abbr, "person": "on-call"}))

    def _log_page(self, i: int, j: int, page: int) -> None:
        rung, now, name = self.model.ladder[j], self.env.now, self.names[i]
        if page == 0:
            self.log.append((now, name, E.escalated, "on-call", {"level": rung.level, "role": rung.role}))
        self.log.append((now, name, E.paged, "pagerduty", {"who": rung.role, "level": rung.level, "round": page + 1}))

    def _declared(self, i: int, sev: int) -> None:
        """What declaring means for this severity (runbook declaration steps), and the update clock."""
        log, model, now, name = self.log, self.model, self.env.now, self.names[i]
        sev_name = model.severities[sev]
        log.append((now, name, E.severity_declared, "on-call", {"severity": sev_name, "level": int(
            model.runbook.severity(sev_name).level)}))
        for step in model.runbook.declaration_for(sev_name):  # classified by the runbook model
            title, kind = step.title, step.kind
            if kind is DeclarationKind.page:
                log.append((now, name, E.paged, "on-call", {"who": "on-call team", "step": title}))
            elif kind is DeclarationKind.war_room and "war_room" not in model.roles:  # else the workflow node does it
                log.append((now, name, E.war_room_created, "on-call", {"step": title}))
            elif kind in (DeclarationKind.status_page, DeclarationKind.announce):
                log.append((now, name, E.status_update, "on-call", {"n": 0, "step": title}))
        self._start_updates(i, sev, "CL" if "CL" in model.policy.responders.roles else "IC")

    # -- run -------------------------------------------------------------------------------------------

    def run(self) -> Replication:
        env = self.env
        self._processes()(0)  # the first arrival
        env.run()
        # every event SimPy processed: its event-id counter counts scheduled events, and the queue is empty
        self.events = next(env._eid) - len(env._queue)
        return self._replication()

    def _replication(self) -> Replication:
        model, n, rungs = self.model, self.n, len(self.model.ladder)
        out = np.fromiter(self.out, dtype=float, count=len(self.out)).reshape(n, len(_OUT))
        col = {name: out[:, c] for c, name in enumerate(_OUT)}
        detected, restored = np.array(self.detected), np.array(self.restored)
        page_at = np.array(self.page_at).reshape(n, rungs)
        engaged = np.array(self.engaged).reshape(n, rungs)
        before = restored[:, None]
        return Replication(
            severity=np.asarray(self.sev, dtype=np.int64),
            arrival=np.asarray(self.arrival),
            detected=detected,
            via_alert=self.via_alert,
            assigned=col["assigned"].copy(),
            acknowledged=col["acknowledged"].copy(),
            declared=col["declared"].copy(),
            mitigated=np.where(np.asarray(self._auto), detected + np.asarray(self._rb_after), col["mitigated"]),
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
            auto_rolled_back=np.asarray(self._auto, dtype=bool),
            recurrences=col["recurrences"].astype(np.int64),
            oncall=model.oncall,
            shift=np.zeros(n),
            ladder_pages=count_ladder_pages(model, page_at, self._fails_by_incident, restored),
        )

    def journal_rows(self, rep: Replication) -> list[Row]:
        """The logged events, minus what the restore time rules out (pages, notifications after it)."""
        assert self.log is not None, "run the engine with journal=True"
        index = {name: i for i, name in enumerate(self.names)}
        restored, detected = self.restored, self.detected
        out = []
        for row in self.log:
            t, name, etype = row[0], row[1], row[2]
            if etype is E.escalated or (etype is E.paged and row[4].get("level", 1) > 1):
                if not t < restored[index[name]]:
                    continue
            elif etype is E.notified:
                after = row[4]["after_minutes"]
                i = index[name]
                if not (after <= 0 or restored[i] - detected[i] > after):
                    continue
            out.append(row)
        # resolved (gameday.metrics): once the watch after the confirmed verification held; logged at its time
        resolved_at = milestones(self.model, rep)[Milestone.resolved]
        for i, name in enumerate(self.names):
            out.append((float(resolved_at[i]), name, E.resolved, "IC", {}))
        return out


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
