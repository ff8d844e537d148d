"""The autopilot: a bot responder that follows the runbook, so a whole drill runs unattended (CI, demos).

It is the simulator's responder model on a real-time clock: a ``simpy.rt.RealtimeEnvironment`` whose time
unit is one runbook minute and whose ``factor`` is ``60 / time_scale`` wall seconds, so every step delay
drawn from ``sim.responder.ResponderModel`` is slept for real.  What it does comes from the runbook model
(workflow branch, declaration steps, roles, update cadence, ladder, verification thresholds, stability
watch); what it fixes comes from the scenario (its first safe remediation, then the next one; each one's
kind, rollback or fix, from the remediation catalogue, :mod:`gameday.remediations`); and it takes the real
remediation through ``target.remediate``.  Everything is journaled with actor ``autopilot``.

The simulator models a team as it is, so its drawn delays sometimes miss the runbook's times (that is what
``compliance`` measures).  The autopilot is a team that keeps them: it draws the same delays, but a step that
would overrun one of the runbook's clocks is cut short at that clock less :data:`DEADLINE_MARGIN_MINUTES`, and
journaled as such (assessing and declaring within the severity's response time of detection, Phase 1's "0-15
minutes"; the CL's initial notice within the runbook's minutes of the declaration).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drills.autopilot_branches import BranchView, attempts
from drills.autopilot_comms import CommsLead
from gameday.errors import GamedayError
from gameday.journal import EventType, JournalWriter
from gameday.metrics import response_time
from gameday.remediations import Remediation, spec_for
from gameday.runbook.classify import DECLARATION_EVENTS, DeclarationKind

if TYPE_CHECKING:
    import numpy as np

    from drills.observers.prometheus import MetricSampler
    from drills.observers.replicas import ReplicaWatcher
    from drills.observers.webhook import AlertReceiver
    from drills.targets.base import Target
    from gameday.runbook.model import DeclarationStep, Runbook
    from gameday.scenario import Scenario
    from sim.responder import ResponderModel

log = logging.getLogger(__name__)

ACTOR = "autopilot"
#: Wall seconds between the autopilot's looks at the metrics while it waits for something.
POLL_WALL_S = 0.5
#: After a fix, how long (runbook minutes) to wait for the metrics before deciding it did not work (the
#: runbook's "Issue Resolved?" answered No).
FIX_CHECK_MINUTES = 15.0
#: ... but never less than this many wall seconds: ``rate()`` windows need time to drain the bad minutes.
FIX_CHECK_MIN_WALL_S = 60.0
#: After a failed stability watch with the fix in place, how long (runbook minutes) to give the service to come
#: back by itself before applying the fix again: a restart's dropped connections pass within a few samples.
BLIP_MINUTES = 5.0
#: ... but never less than this many wall seconds (the sampler's windows must drain the blip's errors).
BLIP_MIN_WALL_S = 10.0
#: How far ahead of one of the runbook's deadlines the autopilot's team aims (runbook minutes): people keeping a
#: clock do not aim at its last second, and a drill's wall clock lags a little on a loaded machine.
DEADLINE_MARGIN_MINUTES = 2.0


REVIEW_TEMPLATE = "Post-Incident Review"
REVIEW_FILE = "post-incident-review.md"


def file_review(journal_path: Path, runbook: Runbook, scenario: Scenario) -> Path | None:
    """Write the runbook's "Post-Incident Review" for this journal next to it; None without scenario notes.

    Reuses the report's draft filling (summary, timeline, what went well/poorly from the scorer's checks);
    root cause, whys and action items come from ``scenario.review``, because only the scenario knows its fault.
    """
    template = runbook.templates.get(REVIEW_TEMPLATE)
    if scenario.review is None or template is None:
        return None
    from gameday.journal import read_journal
    from gameday.report.clock import RunbookClock
    from gameday.report.drafts import facts_for, review_draft
    from gameday.scoring.engine import score_events
    from gameday.scoring.view import split_incidents

    events = read_journal(journal_path)
    base = journal_path.parent
    views = split_incidents(events, base)
    if not views:
        return None
    view = views[0]
    score = score_events(events, runbook, base_dir=base).incidents[0]
    # the review is what is being written: its own (still failing) check is not something that went poorly
    score = score.model_copy(update={"checks": [c for c in score.checks if c.id != "postmortem"]})
    clock = RunbookClock(events)
    text = review_draft(view, score, facts_for(view, score, clock, runbook), clock, template, scenario.review)
    path = base / REVIEW_FILE
    path.write_text(text, encoding="utf-8")
    return path


class _Stopped(Exception):
    """The drill ended (closed elsewhere, timeout, abort, Ctrl-C): unwind the responder at once."""


@dataclass
class DrillView:
    """What the autopilot can see, as a responder would: alerts, dashboards, pods."""

    webhook: AlertReceiver
    sampler: MetricSampler
    replicas: ReplicaWatcher
    runbook: Runbook

    def firing(self) -> list[str]:
        return sorted({a.alertname for a in self.webhook.firing()})

    def blind(self) -> bool:
        """Prometheus did not answer the latest sample: the dashboards are down, nothing is known either way."""
        return self.sampler.blind

    def health(self, since: datetime | None = None) -> tuple[bool, dict[str, Any]]:
        """The runbook's verification checks on the latest sample: error rate, p95, replicas ready.

        ``since``: only a sample taken after that moment counts (after a fix, a sample from before it says
        nothing about whether it worked).
        """
        criteria = self.runbook.verification
        latest = self.sampler.latest
        rate, p95 = latest.get("error_rate"), latest.get("p95_seconds")
        checks = {
            "error_rate": rate,
            "error_rate_ok": rate is not None and rate < criteria.error_rate_below,
            "p95_seconds": p95,
            "p95_ok": p95 is None or p95 < criteria.p95_below_seconds,
            "replicas_ready": self.replicas.all_ready(),
            "fresh": since is None or self.sampler.fresh_since(since),
        }
        healthy = checks["error_rate_ok"] and checks["p95_ok"] and checks["replicas_ready"] and checks["fresh"]
        return bool(healthy), checks


class Autopilot:
    """Runs in its own thread; :meth:`stop` makes it unwind within one poll."""

    def __init__(
        self,
        *,
        runbook: Runbook,
        scenario: Scenario,
        model: ResponderModel,
        target: Target,
        journal: JournalWriter,
        view: DrillView,
        time_scale: float,
        rng: np.random.Generator,
    ) -> None:
        self.runbook = runbook
        self.scenario = scenario
        self.model = model
        self.target = target
        self.journal = journal
        self.view = BranchView(view, scenario)  # the decision tree's branches (drills/autopilot_branches.py)
        self.time_scale = time_scale
        # One stream per concurrent process: the status-update clock ticks at times the wall clock decides
        # for the main process, so sharing a stream would make the step draws depend on timing.
        # (the first two children are the same whatever the count: adding the CL's stream changed no draw)
        self.rng, self.updates_rng, self.comms_rng = rng.spawn(3)
        self.severity = scenario.expected_severity
        self.stopped = threading.Event()
        #: The service is verified healthy and the stability watch is on (the glossary's *restored*, until the
        #: watch fails); the technical ladder and the business notifications wait meanwhile.
        self.restored = False
        #: The stability watch held (the glossary's *resolved*): status updates and escalation are over.
        self.resolved = False
        self.error: BaseException | None = None
        #: Runbook minute (on ``env``) of the acknowledgement: the technical ladder counts from it.
        self.acked_at = 0.0
        #: Runbook minute (on ``env``) by which the incident is declared (:meth:`_declare_by`); None: no clock.
        self.declare_by: float | None = None
        #: Phase 4 from the runbook's templates, and who does what (drills/autopilot_comms.py).
        self.comms = CommsLead(self)
        self._thread = threading.Thread(target=self._run, name="autopilot", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    @property
    def crashed(self) -> bool:
        """A bug (not a failed remediation, which the drill waits out): the runner ends the drill with it."""
        return self.error is not None and not isinstance(self.error, GamedayError)

    @property
    def error_text(self) -> str:
        return "" if self.error is None else f"{type(self.error).__name__}: {self.error}"

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        import simpy.rt

        # factor = wall seconds per simulated unit; the unit is one runbook minute.
        self.env = simpy.rt.RealtimeEnvironment(factor=60.0 / self.time_scale, strict=False)
        main = self.env.process(self._respond())
        try:
            self.env.run(until=main)
        except _Stopped:
            pass
        except GamedayError as exc:  # a failed remediation: say so in the journal, let the drill time out
            self.error = exc
            self.emit(EventType.note, {"text": f"autopilot gave up: {exc}"})
        except Exception as exc:  # a bug: keep the cause in the log and the journal, never hide it
            self.error = exc
            log.exception("autopilot crashed")
            self.emit(EventType.note, {"text": f"autopilot crashed: {type(exc).__name__}: {exc}"})

    # -- small helpers -----------------------------------------------------------------------------------

    @property
    def poll(self) -> float:
        """One poll in runbook minutes."""
        return POLL_WALL_S * self.time_scale / 60.0

    def emit(self, kind: EventType, data: dict[str, Any] | None = None) -> None:
        self.journal.emit(kind, self.comms.actor(kind), data or {})

    def sleep(self, minutes: float) -> Generator[Any, Any, None]:
        """Sleep ``minutes`` of runbook time in poll-sized slices, so a stop is noticed quickly."""
        end = self.env.now + max(minutes, 0.0)
        while self.env.now < end:
            if self.stopped.is_set():
                raise _Stopped
            yield self.env.timeout(min(self.poll, end - self.env.now))
        if self.stopped.is_set():
            raise _Stopped

    def deadline(self, minutes: float) -> float:
        """The runbook minute (on ``env``) to be done by for a clock of ``minutes`` starting now: its end less
        the margin the team aims ahead of it."""
        return self.env.now + minutes - DEADLINE_MARGIN_MINUTES

    def step(
        self, name: str, by: float | None = None, clock: str = "", rng: np.random.Generator | None = None
    ) -> Generator[Any, Any, float]:
        """Spend the model's time on a workflow step (drawn from ``rng``, default the main stream), ending by
        ``by`` (a runbook minute on ``env``) at the latest: a team keeping the runbook's ``clock`` cuts the step
        short rather than miss it, and says so.  The delay is drawn all the same, so the random stream, and
        every later draw, stay as they were."""
        drawn = minutes = self.model.delay_minutes(name, rng or self.rng, severity=self.severity)
        if by is not None and minutes > by - self.env.now:
            minutes = max(0.0, by - self.env.now)
            self.emit(
                EventType.note,
                {"text": f"{name} cut to {minutes:.1f} min (drawn {drawn:.1f}) to keep the runbook's clock: {clock}"},
            )
        yield from self.sleep(minutes)
        return minutes

    def wait_for(self, condition: Callable[[], bool], limit_minutes: float | None = None) -> Generator[Any, Any, bool]:
        """Poll until ``condition()`` holds (True) or ``limit_minutes`` pass (False).

        Minutes while Prometheus does not answer do not count towards the limit: nobody can tell then whether a
        fix worked or a service came back, and a responder would wait for the dashboards rather than decide."""
        end = None if limit_minutes is None else self.env.now + limit_minutes
        while not condition():
            if end is not None and self.env.now >= end:
                return False
            unseen = yield from self._poll_unseen()
            if end is not None:
                end += unseen
        return True

    def _poll_unseen(self) -> Generator[Any, Any, float]:
        """Sleep one poll; the minutes it took if Prometheus did not answer meanwhile (they count towards no
        limit), else 0."""
        before, blind = self.env.now, self.view.blind()
        yield from self.sleep(self.poll)
        return self.env.now - before if blind else 0.0

    # -- the runbook, step by step ---------------------------------------------------------------------

    def _respond(self) -> Generator[Any, Any, None]:
        # Detection: the autopilot is paged by Alertmanager, like the on-call engineer.
        yield from self.wait_for(lambda: bool(self.view.firing()))
        self.declare_by = self._declare_by()
        alerts = self.view.firing()
        declares = self.severity in self.runbook.declared_severities()
        if not declares:
            # a ticket has no declaration to count from: its updates (SEV-3: Slack hourly) run from detection, as
            # the scorer and the simulator (sim.simpy_journal) count them
            self.env.process(self._status_updates())
        yield from self.step("acknowledge")
        self.emit(EventType.acknowledged, {"alerts": alerts})
        self.acked_at = self.env.now  # the ladder's "if unresolved after X min" counts from here, as in the simulator
        yield from self.step("assess", self.declare_by, self._declare_clock())
        if declares:
            yield from self._declare()
        else:
            # "create ticket, assign to team member": the ticket names its assignee (not a role of the runbook's)
            self.emit(EventType.ticket_created, {"severity": self.severity, "assignee": f"{ACTOR}-oncall"})
        yield from self._diagnose_and_fix()
        self.resolved = True
        self.emit(EventType.resolved, {"severity": self.severity})
        if declares:
            self.comms.resolved()
        yield from self.step("close")
        self.emit(EventType.closed, {"severity": self.severity})
        # Phase 6 (review within runbook.postmortem_within_hours): filed at once, before the runner, which
        # stops on `closed`, finishes; it joins this thread, so the event lands before drill_ended.
        path = file_review(self.journal.path, self.runbook, self.scenario)
        if path is not None:
            self.emit(
                EventType.postmortem_filed,
                {"path": path.name, "template": REVIEW_TEMPLATE, "within_hours": self.runbook.postmortem_within_hours},
            )

    def _declare_by(self) -> float | None:
        """The runbook minute (on ``env``) by which to declare: the severity's response time (the time to
        declare's target, :func:`gameday.metrics.response_time`) from detection, which was at most one poll
        before the alert was seen (now), less the margin; None on the ticket branch or without a clock."""
        response = response_time(self.runbook, self.severity)
        if response is None or self.severity not in self.runbook.declared_severities():
            return None
        return self.deadline(response - self.poll)

    def _declare_clock(self) -> str:
        response = response_time(self.runbook, self.severity)
        return f"declare {self.severity} within {response:g} min of detection" if response is not None else ""

    def _declare(self) -> Generator[Any, Any, None]:
        level = self.runbook.severity(self.severity).level
        yield from self.step("declare", self.declare_by, self._declare_clock())
        self.emit(EventType.severity_declared, {"severity": self.severity, "level": level})
        # Step 1.3 "For SEV-1/SEV-2 incidents, immediately": the declaration message in #incidents, the war room,
        # the page and the status page go out as the incident is declared, not once the team has assembled
        for step in self.runbook.declaration_for(self.severity, user_facing=self.scenario.user_facing):
            self._declaration_step(step)
        self.comms.declared()
        self.env.process(self._status_updates())  # the cadence counts from the declaration message
        self.env.process(self.comms.tell_users())  # the initial notice, while the team assembles
        # the ladder and the business list from the declaration: "immediately" does not wait for the assembly
        self.env.process(self._escalations(self.acked_at))
        yield from self.step("assemble")
        for role in self._team_roles():
            self.emit(EventType.role_assigned, {"role": role, "person": f"{ACTOR}-{role.lower()}"})

    def _team_roles(self) -> list[str]:
        """The roles a declaration names (the runbook's) plus those the policy staffs, in the runbook's order."""
        wanted = {name.upper() for name in self.model.policy.responders.roles}
        wanted |= {abbr.upper() for abbr in self.runbook.declaration_roles}
        wanted |= self.comms.roles()  # those whose duties the autopilot carries out (the CL's messages)
        return [r.abbreviation for r in self.runbook.roles if r.abbreviation.upper() in wanted]

    def _declaration_step(self, step: DeclarationStep) -> None:
        """Journal one of the runbook's declaration steps as done (what it means: gameday.runbook.classify)."""
        kind = step.kind
        data: dict[str, Any] = {"step": step.title, "kind": kind.value}
        if kind is DeclarationKind.war_room:
            data["channel"] = f"#incident-{self.journal.incident}"
        elif kind is DeclarationKind.page:
            data |= {"who": "on-call team", "level": 1, "severity": self.severity}
        elif kind is DeclarationKind.announce:  # the declaration message, in its template
            data = self.comms.declaration(step=step.title)
        elif kind is DeclarationKind.status_page:  # the status page's first status
            page = self.comms.status_page("Investigating", "We are investigating errors on the service.", step.title)
            if page is None:
                return
            data = page
        else:
            data["text"] = f"{step.title}: done"
        self.emit(DECLARATION_EVENTS[kind], data)

    def _status_updates(self) -> Generator[Any, Any, None]:
        """Updates at the severity's cadence until resolved, timed like the simulator's
        (``ResponderModel.status_update_gap_minutes``): late only when writing one takes longer than usual."""
        if self.model.status_update_minutes(self.severity) is None:
            return
        while not self.resolved:
            gap = self.model.status_update_gap_minutes(self.severity, self.updates_rng)
            yield from self.sleep(gap or 0.0)
            if self.resolved:
                return
            healthy, checks = self.view.health()
            self.emit(EventType.status_update, self.comms.update(checks, healthy))

    def _escalations(self, since: float) -> Generator[Any, Any, None]:
        """Climb the technical ladder, and send the business notifications for their severities, while the
        service is not restored.

        The runbook escalates to get the problem fixed ("Escalate/Get SME" when the root cause is not found;
        "if unresolved after X min" on the ladder; the CEO "if > 2 hour outage"), and the simulator pages a
        rung only when it comes due before the restore (``sim.kernel``, ``sim.engine_simpy``).  So nobody is
        paged during the stability watch: a page due then waits for the watch's verdict; if it holds, the
        incident is resolved and the page never goes out (as in the simulator, whose restore is the
        verification the watch confirmed), and if it fails, the problem is back and the page goes out at once
        (the simulator, which knows the watch will fail, pages at the due time itself).
        """
        pending: list[tuple[float, EventType, dict[str, Any]]] = []
        for rung in self.runbook.escalation.technical[1:]:
            after = self.model.escalate_after_minutes(rung.level, severity=self.severity)
            pending.append((after, EventType.escalated, {"level": rung.level, "role": rung.role}))
        if self.severity in self.runbook.escalation.business_severities and self.scenario.user_facing:
            for note in self.runbook.escalation.business:
                data = {"who": note.who, "outage_over": note.outage_over}
                pending.append((note.after_minutes, EventType.notified, data))
        for after, kind, data in sorted(pending, key=lambda p: p[0]):
            yield from self.sleep(since + after - self.env.now)
            yield from self.wait_for(lambda: not self.restored or self.resolved)
            if self.resolved:
                return
            if data.pop("outage_over", False) and self.view.health()[0]:
                continue  # "if the outage lasts longer than ...": it did not
            self.emit(kind, data)

    def _diagnose_and_fix(self) -> Generator[Any, Any, None]:
        """Investigate -> hypothesis -> fix -> fix worked? (the runbook's "Issue Resolved?") -> verify ->
        stable? (back to investigate on No)."""
        remaining = attempts(self.scenario)  # one remediation each, or a branch's sequence
        last: list[Remediation] | None = None
        watch_failed = False  # the last round's fix worked and was verified, then the stability watch failed
        while True:
            yield from self.step("investigate")
            yield from self.step("hypothesis")
            repeat = False
            if remaining:
                last = remaining.pop(0)
            elif last is not None and any(spec_for(step).rollback for step in last):
                last = None  # a second undo would roll forward to the bad release: investigate instead
            else:
                repeat = last is not None and watch_failed
            watch_failed = False
            blip_minutes = max(BLIP_MINUTES, BLIP_MIN_WALL_S * self.time_scale / 60.0)
            if repeat and (yield from self.wait_for(lambda: self.view.health()[0], blip_minutes)):
                # The fix is in place and the service came back by itself: what failed the watch was a blip
                # (a restart's dropped connections), not the fault.  Repeating the fix would make the next blip
                # (a running PgBouncer restarted drops every pooled connection), so verify anew.
                self.emit(EventType.note, {"text": "healthy again without a new fix: verify anew"})
                if (yield from self._verify_and_watch()):
                    return
                watch_failed = True
                continue
            self.emit(
                EventType.hypothesis,
                {
                    "text": f"{self.scenario.title}: {self.scenario.fault.type.value}; "
                    f"plan: {' then '.join(s.value for s in last) if last else 'keep investigating'}",
                    "firing": self.view.firing(),
                },
            )
            if last is not None and self.severity in self.runbook.declared_severities():
                self.comms.identified(" then ".join(spec_for(step).label for step in last))
            if last is None:
                # Nothing left to try.  A blip that failed the stability watch (a pod briefly unready) is over
                # when the checks pass again: verify anew rather than investigate until the drill times out.
                if self.view.health()[0] and (yield from self._verify_and_watch()):
                    return
                continue
            # The model's "fix" mixes rollback and hotfix times; we know which one we are doing.
            yield from self.step("rollback" if any(spec_for(step).rollback for step in last) else "fix")
            for step in last:
                yield from self._remediate(step)
            fixed_at = datetime.now(UTC)
            limit = self._fix_check_minutes()
            if not (yield from self.wait_for(lambda at=fixed_at: self.view.health(since=at)[0], limit)):
                continue  # the fix did not work ("Issue Resolved?" -> No): back to Investigate & Diagnose
            if (yield from self._verify_and_watch()):
                return
            watch_failed = True

    def _fix_check_minutes(self) -> float:
        """How long (runbook minutes) the metrics get to show whether the service is back."""
        return max(FIX_CHECK_MINUTES, FIX_CHECK_MIN_WALL_S * self.time_scale / 60.0)

    def _verify_and_watch(self) -> Generator[Any, Any, bool]:
        """Verify Resolution, then the stability watch; False sends us back to investigation."""
        yield from self.step("verify")
        healthy, checks = self.view.health()
        if not healthy:
            return False
        self.emit(EventType.verified, {"checks": checks, "criteria": self.runbook.verification.checklist})
        self.comms.restored()
        self.restored = True
        stable = yield from self._stability_watch()
        self.restored = stable  # a failed watch: the problem is back, so is the ladder
        return stable

    def _remediate(self, action: Remediation) -> Generator[Any, Any, None]:
        """Take the real action in a worker thread: a rollout takes wall seconds, and the status-update and
        escalation clocks must keep ticking meanwhile (a blocking call would stall the whole env)."""
        spec = spec_for(action)
        self.emit(EventType.action, {"kind": spec.kind, "action": action.value, "params": {}, "target": spec.acts_on})
        self.comms.fixed(action)
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["detail"] = self.target.remediate(action)
            except Exception as exc:  # every failure, bug or not, is re-raised in the responder below
                outcome["error"] = exc

        worker = threading.Thread(target=work, name=f"autopilot-{action.value}", daemon=True)
        worker.start()
        yield from self.wait_for(lambda: not worker.is_alive())
        if "error" in outcome:
            raise outcome["error"]
        self.emit(EventType.note, {"text": f"{action.value} done: {outcome['detail']}", "action": action.value})

    def _stability_watch(self) -> Generator[Any, Any, bool]:
        """The runbook's stability period: any failed check sends us back to investigation.

        While Prometheus does not answer, nothing is watched: those minutes neither fail the watch (no reading
        is not a failed check; CI at 529e601 went back to investigating a fixed service because of it) nor count
        towards the runbook's period, which is then extended by as long."""
        end = self.env.now + self.runbook.stability_minutes
        self.emit(EventType.note, {"text": f"stability watch: {self.runbook.stability_minutes:g} min"})
        blind_since: float | None = None
        while self.env.now < end:
            if self.view.blind():
                if blind_since is None:
                    blind_since = self.env.now
                    self.emit(EventType.note, {"text": "Prometheus does not answer: the stability watch waits"})
                end += yield from self._poll_unseen()
                continue
            if blind_since is not None:
                self.emit(EventType.note, {"text": f"watching again after {self.env.now - blind_since:.1f} unseen "
                                                   f"min; {end - self.env.now:.1f} min to go"})
                blind_since = None
            healthy, checks = self.view.health()
            if not healthy:
                self.emit(EventType.note, {"text": "not stable; back to investigation", "checks": checks})
                return False
            yield from self.sleep(min(self.poll, end - self.env.now))
        return True
