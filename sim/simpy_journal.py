"""The SimPy engine's journal: the rows a run with ``journal=True`` logs, and the processes that only log.

:class:`Recorder` writes ``(minutes, incident, EventType, actor, data)`` rows as the incident processes
reach each moment (the engine calls one method per moment, only when journaling), runs the processes whose
only product is rows (business notifications, status updates at the severity's cadence), and turns the log
into the journal's rows once the run is over (:meth:`Recorder.rows`: minus what the restore time rules out,
plus each incident's *resolved*).  Nothing here changes a number of the run: a journaled and a plain run give
bit-identical replications (tests/sim/test_simpy_journal_paths.py).  Rows logged at one instant keep the
order of the calls; :mod:`sim.journal_out` writes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import simpy

from gameday.journal import EventType
from gameday.metrics import Milestone
from gameday.runbook.classify import DeclarationKind
from sim.kernel import Replication
from sim.milestones import milestones
from sim.model import CompiledModel
from sim.responder import status_update_gap
from sim.simpy_comms import Comms
from sim.simpy_draws import IncidentDraws
from sim.simpy_ledger import Ledger
from sim.simpy_plan import TICKET, WAR_ROOM, Draws, Plan

E = EventType
Row = tuple[float, str, EventType, str, dict]


class Recorder:
    """The journal of one run: ``log`` in the order rows were logged; incident ``i`` is ``names[i]``."""

    def __init__(self, env: simpy.Environment, model: CompiledModel, plan: Plan, columns: Draws,
                 draws: IncidentDraws, ledger: Ledger, replication: int) -> None:
        self.env, self.model, self.plan = env, model, plan
        self._columns, self._draws, self._ledger = columns, draws, ledger
        self.log: list[Row] = []
        self._append = self.log.append
        #: per node, its (label, id) when its start and finish are logged, else None
        self._steps = [(label, nid) if logged else None
                       for label, nid, logged in zip(plan.labels, plan.ids, plan.logged, strict=True)]
        self.names = [f"sim-{replication}-{i:06d}" for i in range(ledger.n)]
        #: roles the policy staffs (IC, TL, CL): the declaration's other roles are taken by the on-call
        self._staffed = set(model.policy.responders.roles)
        self._decl_roles = list(model.runbook.declaration_roles)
        escalation = model.runbook.escalation
        self._business = {k for k, s in enumerate(model.severities) if s in escalation.business_severities} \
            if escalation.business else set()
        self._notes = sorted(escalation.business, key=lambda n: n.after_minutes)
        #: Phase 4's rows (declaration message, status page, notices, the updates' template fields)
        self._comms = Comms(model, columns, ledger.n)

    # -- an incident's moments, in the order it reaches them -----------------------------------------------

    def started(self, i: int, sev: int) -> None:
        self.log.append((self.env.now, self.names[i], E.incident_started, "system",
                         {"severity": self.model.severities[sev]}))

    def detected(self, i: int, sev: int) -> None:
        """Detection (by alert or user report); an automatic rollback's rows at the time it finishes; an
        undeclared severity's status updates start now (a declared one's at its declaration)."""
        log, now, name, draws = self.log, self.env.now, self.names[i], self._draws
        if draws.via_alert[i]:
            log.append((now, name, E.alert_firing, "alertmanager", {"severity": self.model.severities[sev]}))
        log.append((now, name, E.detected, "system", {"via": "alert" if draws.via_alert[i] else "user_report"}))
        if draws.auto[i]:
            at = now + draws.rb_after[i]
            log.append((at, name, E.hypothesis, "automation",
                        {"text": "error rate above the rollback threshold after a deploy"}))
            log.append((at, name, E.action, "automation",
                        {"kind": "rollback", "detail": "automatic rollback on error rate"}))
            log.append((at, name, E.mitigated, "automation", {}))
        if not self.model.declared[sev]:
            self._start_updates(i, sev, "on-call")

    def notifies(self, sev: int) -> bool:
        """Does this severity notify the business (runbook escalation)?"""
        return sev in self._business

    def notify(self, i: int) -> None:
        """Business escalation: notify each person once the outage has lasted their minutes.  Those due now
        are logged on the spot; a process waits for the rest (until the restore is confirmed)."""
        env, log, notes = self.env, self.log, self._notes
        t0 = env._now
        for k, note in enumerate(notes):
            if t0 + note.after_minutes - t0 > 0:
                env.process(self._notify_later(i, t0, k))
                return
            log.append((t0, self.names[i], E.notified, "IC", {"who": note.who, "after_minutes": note.after_minutes}))

    def paged_oncall(self, i: int, rnd: int) -> None:
        self.log.append((self.env._now, self.names[i], E.paged, "pagerduty", {"who": "on-call", "level": 1,
                                                                             "round": rnd + 1}))

    def acknowledged(self, i: int, at: float) -> None:
        self.log.append((at, self.names[i], E.acknowledged, "on-call", {}))

    def step_started(self, i: int, k: int, at: float) -> None:
        """Node ``k`` starts (a row for the steps and the severity decision, not for other decisions)."""
        step = self._steps[k]
        if step is not None:
            self._append((at, self.names[i], E.step_started, "on-call", {"step": step[0], "node": step[1]}))

    def step_finished(self, i: int, k: int) -> None:
        step = self._steps[k]
        if step is not None:
            self._append((self.env._now, self.names[i], E.step_finished, "on-call", {"step": step[0], "node": step[1]}))

    def declared(self, i: int, sev: int) -> None:
        """What declaring means for this severity (runbook declaration steps), and the update clock."""
        log, model, now, name = self.log, self.model, self.env.now, self.names[i]
        sev_name = model.severities[sev]
        # the on-call declares as the incident's commander (the runbook gives declaring to the IC)
        log.append((now, name, E.severity_declared, "IC", {"severity": sev_name, "level": int(
            model.runbook.severity(sev_name).level)}))
        for step in model.runbook.declaration_for(sev_name):  # classified by the runbook model
            title, kind = step.title, step.kind
            if kind is DeclarationKind.page:
                log.append((now, name, E.paged, "on-call", {"who": "on-call team", "step": title}))
            elif kind is DeclarationKind.war_room and "war_room" not in model.roles:  # else the workflow node does it
                log.append((now, name, E.war_room_created, "on-call", {"step": title}))
        # the #incidents post and the status page step: the declaration message and the page's first status
        log.extend(self._comms.declared(now, name, i, sev_name))
        self._start_updates(i, sev, "CL" if "CL" in model.policy.responders.roles else "IC")

    def step(self, i: int, sev: int, code: int) -> None:
        """A plain step's own row: the war room or the ticket it opened (other steps have none)."""
        name = self.names[i]
        if code == WAR_ROOM:
            self.log.append((self.env.now, name, E.war_room_created, "IC", {"channel": f"#incident-{name}"}))
        elif code == TICKET:
            self.log.append((self.env.now, name, E.ticket_created, "on-call",
                             {"severity": self.model.severities[sev]}))

    def hypothesis(self, i: int, at: float, v: int) -> None:
        self.log.append((at, self.names[i], E.hypothesis, "TL", {"text": f"working hypothesis #{v + 1}"}))
        self.log.extend(self._comms.identified(at, self.names[i], i))

    def fix(self, i: int, rollback: bool) -> None:
        self.log.append((self.env._now, self.names[i], E.action, "TL", {"kind": "rollback" if rollback else "hotfix"}))

    def mitigated(self, i: int, at: float) -> None:
        self.log.append((at, self.names[i], E.mitigated, "TL", {}))

    def verified(self, i: int, at: float) -> None:
        self.log.append((at, self.names[i], E.verified, "TL", {}))
        self.log.extend(self._comms.restored(at, self.names[i], i))

    def recurred(self, i: int, watch: int) -> None:
        """The problem came back during stability watch number ``watch`` (from 0)."""
        self.log.append((self.env._now, self.names[i], E.alert_firing, "alertmanager",
                         {"recurrence": True, "watch": watch + 1}))

    def closed(self, i: int, at: float) -> None:
        self.log.append((at, self.names[i], E.closed, "IC", {}))

    def assembled(self, i: int, delays: Sequence[Sequence[float]]) -> None:
        """Each staffed role is assigned after its ack delay (``delays[r][i]``, ``plan.role_names`` order);
        roles the declaration needs that the policy does not staff are taken by the on-call at once."""
        log, now, name = self.log, self.env._now, self.names[i]
        for role_name, delay in zip(self.plan.role_names, delays, strict=True):
            log.append((now + delay[i], name, E.role_assigned, "on-call",
                        {"role": role_name, "person": f"{role_name.lower()}-on-duty"}))
        for abbr in self._decl_roles:
            if abbr not in self._staffed:
                log.append((now, name, E.role_assigned, "on-call", {"role": abbr, "person": "on-call"}))

    def reviewed(self, i: int, at: float) -> None:
        self.log.append((at, self.names[i], E.postmortem_filed, "IC", {}))

    def sme_joined(self, i: int) -> None:
        self.log.append((self.env._now, self.names[i], E.role_assigned, "on-call",
                         {"role": "SME", "person": "sme-on-duty"}))

    def rung_paged(self, i: int, j: int, page: int) -> None:
        """Page ``page`` (from 0) of ladder rung ``j``; the first one escalates to the rung."""
        rung, now, name = self.model.ladder[j], self.env.now, self.names[i]
        if page == 0:
            self.log.append((now, name, E.escalated, "on-call", {"level": rung.level, "role": rung.role}))
        self.log.append((now, name, E.paged, "pagerduty", {"who": rung.role, "level": rung.level, "round": page + 1}))

    # -- processes that only log ------------------------------------------------------------------------

    def _notify_later(self, i: int, t0: float, first: int):
        env, log = self.env, self.log
        done = self._ledger.done_event(i)
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
        columns, done, name = self._columns, self._ledger.done_event(i), self.names[i]
        sev_name = self.model.severities[sev]
        k = 0
        while True:
            yield done | env.timeout(reminder)
            if done.triggered:
                return
            yield done | env.timeout(columns.q(dist, "process", "status_update", k)[i])
            if done.triggered:
                return
            k += 1
            log.append((env.now, name, E.status_update, actor, self._comms.update(env.now, i, k, sev_name)))

    # -- after the run ---------------------------------------------------------------------------------

    def rows(self, rep: Replication) -> list[Row]:
        """The logged rows, minus what the restore time rules out (ladder pages, notifications after it),
        plus each incident's *resolved* (gameday.metrics: once the watch after the confirmed verification
        held), logged at its time."""
        index = {name: i for i, name in enumerate(self.names)}
        restored, detected = self._ledger.restored, self._ledger.detected
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
        resolved_at = milestones(self.model, rep)[Milestone.resolved]
        for i, name in enumerate(self.names):
            out.append((float(resolved_at[i]), name, E.resolved, "IC", {}))
            out.extend(self._comms.resolved(float(resolved_at[i]), name, i))
        return out
