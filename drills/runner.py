"""The drill lifecycle: validate, claim the target, steady state, blind delay, inject, observe, stop,
revert, summarise.

One drill = one journal (``<out>/<drill-id>/journal.jsonl``) that the runner, the Alertmanager webhook,
the Prometheus sampler, the replica watcher, the autopilot and other processes (``gameday drill log``,
``gameday sandbox rollout``, the war room) all append to; other processes find it through the target's
active-drill marker (:mod:`drills.active`).  Every resource the drill starts (webhook, target observers,
sampler, replica watcher, Locust, autopilot) and the revert of its fault are owned by one
:class:`contextlib.ExitStack`, registered before the thing they undo starts, so they unwind in reverse
order however the drill ends.

Clocks: the journal keeps wall time; ``time_scale`` (runbook seconds per wall second) says how to read
it.  The scenario's timeout and the runbook's clocks are runbook minutes, divided by the scale here.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from drills import active as markers
from drills.active import ActiveDrill
from drills.detection import DetectionChain
from drills.narration import narrate
from drills.recovery import DrillInterrupted, FaultLeftBehind, Interrupts, interrupts_as_exceptions, revert_all
from drills.summary import LOAD_STATS, DrillFacts, DrillSummary, Outcome, print_summary
from drills.targets.factory import check_target, make_target
from gameday.errors import GamedayError, InputError, JournalError, TargetError
from gameday.files import load_model
from gameday.journal import Event, EventType, JournalWriter, read_journal
from gameday.runbook import load_runbook
from gameday.scenario import Scenario
from gameday.terminal import make_console

if TYPE_CHECKING:
    from drills.autopilot import Autopilot
    from drills.load.runner import LoadHandle
    from drills.observers.journal_tail import JournalTail
    from drills.observers.prometheus import MetricSampler, Prometheus
    from drills.observers.replicas import ReplicaWatcher
    from drills.observers.webhook import AlertReceiver
    from drills.targets.base import InjectionRecord, Target
    from gameday.runbook.model import Runbook
    from sim.responder import ResponderModel

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "scenarios" / "policies" / "baseline.yaml"

#: Named, environment-overridable waits (wall seconds), so slow CI machines can stretch them.
STEADY_TIMEOUT_S = float(os.environ.get("GAMEDAY_STEADY_TIMEOUT", "180"))
#: ``rate()`` windows never shrink below this many wall seconds (a few scrapes must fit in them).
MIN_RATE_WINDOW_S = float(os.environ.get("GAMEDAY_MIN_RATE_WINDOW", "10"))
#: ... and quantiles (the p95 panel) never below this many: a p95 needs a few hundred requests per window.
MIN_QUANTILE_WINDOW_S = float(os.environ.get("GAMEDAY_MIN_QUANTILE_WINDOW", "30"))
#: Seconds between progress lines while the runner waits (steady state).
PROGRESS_EVERY_S = 10.0
#: Consecutive good samples after an action before the runner calls the incident mitigated.
MITIGATION_SAMPLES = 3
#: A Prometheus that does not answer the abort probes for this long (wall seconds) ends the drill; shorter
#: gaps (a slow query while a rollout loads the machine) are noted and the drill goes on.
PROMETHEUS_GRACE_S = float(os.environ.get("GAMEDAY_PROMETHEUS_GRACE", "60"))
#: Seconds between checks that Alertmanager still answers once the fault is in (its outage is noted: alerts
#: cannot reach the drill meanwhile, but responders can still work and close it).
ALERTMANAGER_CHECK_S = 5.0
#: How long the autopilot may take to wind down (it files the post-incident review it starts at close).
AUTOPILOT_STOP_S = 30.0
#: The drill clock's resolution (wall seconds): the autopilot and the runner act on ticks of at most this, and
#: a person's kubectl action reaches the journal within it; scoring allows it when it compares two durations.
CLOCK_RESOLUTION_S = 0.5  # = drills.autopilot.POLL_WALL_S (imported lazily: it pulls in the simulator)


@dataclass
class DrillOptions:
    scenario_path: Path
    target: str = "local"
    responder: Literal["human", "autopilot"] = "human"
    policy: Path | None = None
    time_scale: float | None = None
    out_dir: Path = Path("out")
    seed: int = 0
    runbook: Path | None = None
    #: Kubernetes target options (see :func:`drills.targets.factory.make_target`): context, kubeconfig,
    #: allowed_contexts, dry_run.
    target_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class DrillState:
    """What the runner has seen so far (fed by the journal tail, so other processes count too)."""

    injected_at: float | None = None  # monotonic
    #: The ``fault_injected`` event: only what is journaled after it, and fires after it, can detect the fault.
    injection: Event | None = None
    #: ``fault_active`` is settled: journaled, or the fault's clock started with its injection.
    clock_settled: bool = False
    detected: bool = False
    actions: list[Event] = field(default_factory=list)
    mitigated: bool = False
    good_samples: int = 0
    closed: Event | None = None
    outcome: Outcome | None = None
    reason: str = ""


class DrillRunner:
    """Owns the drill's lifetime; :meth:`run` always reverts what it injected before returning or raising."""

    def __init__(self, options: DrillOptions, console: Any = None) -> None:
        self.options = options
        self.console = console or make_console(stderr=True)
        # Validate first, run second: nothing touches a target before every file is known good.
        self.scenario: Scenario = load_model(options.scenario_path, Scenario)
        self.runbook: Runbook = load_runbook(options.runbook)
        if options.target not in self.scenario.targets:
            raise InputError(options.scenario_path, "targets", f"this scenario does not run on {options.target}")
        if options.time_scale is not None and options.time_scale <= 0:
            raise InputError(None, "--time-scale", "must be > 0")
        check_target(options.target, **options.target_options)  # a refused kube context: before any write
        self.time_scale = float(options.time_scale or self.scenario.time_scale)
        self.detection = DetectionChain.from_policy(options.policy or DEFAULT_POLICY)
        self.responder_model: ResponderModel | None = None
        if options.responder == "autopilot":
            from sim.responder import ResponderModel

            self.responder_model = ResponderModel.from_files(options.policy or DEFAULT_POLICY, options.runbook)
        self.started = datetime.now(UTC)
        self.drill_id = f"{self.scenario.name}-{self.started:%Y%m%dT%H%M%SZ}-s{options.seed}"
        self.out = Path(options.out_dir) / self.drill_id
        self.journal_path = self.out / "journal.jsonl"
        self.state = DrillState()
        self._prometheus_since: float | None = None  # monotonic start of an outage of Prometheus
        self._alertmanager_since: float | None = None  # ... and of Alertmanager
        self._next_alertmanager_check = 0.0
        self.records: list[InjectionRecord] = []
        self.reverted: list[dict[str, Any]] = []
        self.revert_error: GamedayError | None = None
        self.load_stats: dict[str, str] = {}
        self.tail: JournalTail | None = None
        self.autopilot: Autopilot | None = None
        self._seeds = _streams(options.seed)

    def wall_seconds(self, runbook_minutes: float) -> float:
        return runbook_minutes * 60.0 / self.time_scale

    # -- the whole drill ---------------------------------------------------------------------------------

    def run(self) -> DrillSummary:
        """Run the drill; returns the summary (also written to ``summary.json``)."""
        options = dict(self.options.target_options)
        if self.options.target == "kubernetes":  # the cluster carries the names the drill's runbook uses
            options["world"] = self.runbook.world
        self.target: Target = make_target(self.options.target, **options)
        try:
            self.active = ActiveDrill(
                drill_id=self.drill_id, incident=self.drill_id, journal=str(self.journal_path.resolve()),
                out_dir=str(self.out.resolve()), target=self.options.target, target_key=self.target.key,
                scenario=self.scenario.name, time_scale=self.time_scale, started_at=self.started,
                runner_pid=os.getpid(), target_options=_reach(self.options.target_options),
            )  # fmt: skip
            markers.claim(self.active)  # a second drill on this target is refused here, naming the first
            try:
                return self._run_claimed()
            finally:
                markers.release(self.active)
        finally:
            self.target.close()

    def _run_claimed(self) -> DrillSummary:
        self.journal = JournalWriter(self.journal_path, self.drill_id, start=self.started)
        self.journal.emit(EventType.journal_started, "runner", at=self.started, data={
            "source": "drill",
            "time_scale": self.time_scale,
            "clock_resolution_s": CLOCK_RESOLUTION_S,
            "runbook": self.runbook.source,
            "scenario": self.scenario.model_dump(mode="json"),
            "scenario_path": str(self.options.scenario_path),
            "target": self.options.target,
            "target_key": self.target.key,
            "responder": self.options.responder,
            "policy": str(self.options.policy or DEFAULT_POLICY) if self.responder_model else None,
            "seed": self.options.seed,
            "drill_id": self.drill_id,
        })  # fmt: skip
        self.console.print(f"[bold]drill {self.drill_id}[/]: {self.scenario.title} on {self.target.key}, "
                           f"responder {self.options.responder}, time scale {self.time_scale:g}")
        error: BaseException | None = None
        with interrupts_as_exceptions() as interrupts:
            try:
                with contextlib.ExitStack() as resources:
                    self._run_with(resources, interrupts)
            except DrillInterrupted as exc:
                self.state.outcome, self.state.reason = "interrupted", str(exc)
                error = exc
            except GamedayError as exc:
                self.state.outcome, self.state.reason = "error", str(exc)
                error = exc
            except BaseException as exc:  # a bug: still revert, then let it surface with its traceback
                self.state.outcome, self.state.reason = "error", f"{type(exc).__name__}: {exc}"
                error = exc
                raise
            finally:
                summary = self._finish()
        if error is not None:
            raise error
        if self.revert_error is not None:
            raise self.revert_error
        return summary

    def _run_with(self, resources: contextlib.ExitStack, interrupts: Interrupts) -> None:
        try:
            self._run_inner(resources)
        finally:
            interrupts.cleaning_up = True  # from here on a signal waits for the reverts instead of breaking in

    def _run_inner(self, resources: contextlib.ExitStack) -> None:
        from drills.observers.journal_tail import JournalTail
        from drills.observers.prometheus import DEFAULT_ERROR_RATE, MetricQueries, MetricSampler, Prometheus
        from drills.observers.replicas import ReplicaWatcher
        from drills.observers.webhook import AlertReceiver

        resources.callback(self._restore_calibration)  # registered first: undone last, after the faults
        calibration = self.target.calibrate(self.time_scale, self.detection, drill_id=self.drill_id)
        self.journal.emit(EventType.note, "runner", {
            "text": f"detection chain at time scale {self.time_scale:g}",
            "detection_runbook_seconds": self.detection.model_dump(), "calibration": calibration})
        self.console.print("bringing the stack up / checking it ...")
        self.target.up()
        endpoints = self.target.endpoints()
        self.prom: Prometheus = Prometheus(endpoints.prometheus_url)
        port = int(endpoints.extra.get("webhook_port") or _default_webhook_port())
        self.webhook: AlertReceiver = AlertReceiver(self.journal, port=port).start()
        resources.callback(self.webhook.stop)
        self.target.start_observers(self.journal, self.webhook.url)
        resources.callback(self.target.stop_observers)
        self.tail = JournalTail(self.journal_path)
        self.replicas: ReplicaWatcher = ReplicaWatcher(self.target, self.journal)
        resources.callback(self.replicas.stop)
        queries = MetricQueries(error_rate=self.runbook.verification.error_rate_query or DEFAULT_ERROR_RATE)
        self.sampler: MetricSampler = MetricSampler(
            self.prom, queries.compressed(self.time_scale, MIN_RATE_WINDOW_S, MIN_QUANTILE_WINDOW_S), self.journal,
            extras=self._replica_counts,
        )  # fmt: skip
        resources.callback(self.sampler.stop)
        self.load = self._start_load()
        resources.callback(self._stop_load)
        self.active = self.active.model_copy(update={"load_pid": self.load.pid})
        markers.update(self.active)  # recovery stops a dead runner's Locust by this pid
        if not self._steady_state():
            return
        delay = float(self._seeds["blind_delay"].uniform(*self.scenario.blind_delay_seconds))
        self.console.print(f"steady; injecting within the blind delay ({delay:.1f} s) ...")
        self._sleep_watching(delay)
        self.replicas.start()
        self.sampler.start()
        # Undo registered before the change; the target persists its own undo record before touching
        # anything, and the journal entry below is written before the change too (a rollout takes
        # seconds and alerts may fire meanwhile), completed by the ``note`` after it.
        resources.callback(self._revert_faults)
        fault = self.scenario.fault
        self.state.injected_at = time.monotonic()
        self.state.injection = self.journal.emit(EventType.fault_injected, "runner", {
            "fault": fault.type.value,
            "params": fault.params.model_dump(),
            "description": self.target.describe(fault),
            "target": self.options.target,
            "rollback_safe": self.scenario.rollback_safe,
            "severity": self.scenario.expected_severity,
        })  # fmt: skip
        record = self.target.inject(fault, drill_id=self.drill_id)
        self.records.append(record)
        self.journal.emit(EventType.note, "runner", {
            "text": f"fault {record.fault.value} applied",
            "record": record.id,
            "params": record.params,
            "recorded_at": record.injected_at.isoformat(),
            "apply_seconds": round(time.monotonic() - self.state.injected_at, 3),
        })  # fmt: skip
        self.autopilot = self._start_autopilot()
        if self.autopilot is not None:
            resources.callback(self.autopilot.stop, AUTOPILOT_STOP_S)
        from drills.recurrence import RecurrenceClock  # the scenario's stage coming back (Step 3.3)

        self.recurrence = RecurrenceClock(self.scenario, self.target, self.journal, self.drill_id, self.time_scale)
        self._watch()

    def _restore_calibration(self) -> None:
        """The target's detection settings back as they were before the drill (journaled when they change)."""
        restored = self.target.restore_calibration()
        if restored:
            self.journal.emit(EventType.note, "runner", {"text": "detection settings restored", **restored})

    # -- phases --------------------------------------------------------------------------------------------

    def _steady_state(self) -> bool:
        """Poll the scenario's probes (plus target readiness and no firing alert) until they all hold."""
        started = time.monotonic()
        deadline, next_progress = started + STEADY_TIMEOUT_S, started + PROGRESS_EVERY_S
        checks: list[dict[str, Any]] = []
        self.console.print("waiting for steady state ...")
        while True:
            checks = self._steady_checks()
            if self.state.outcome is not None:  # Prometheus silent past its grace period
                self.journal.emit(EventType.steady_state, "runner", {"ok": False, "checks": checks})
                return False
            if all(c["holds"] for c in checks):
                self.journal.emit(EventType.steady_state, "runner", {"ok": True, "checks": checks})
                return True
            if time.monotonic() > deadline:
                break
            if time.monotonic() >= next_progress:  # so nobody wonders whether it hangs
                next_progress += PROGRESS_EVERY_S
                waiting = "; ".join(f"{c['name']} ({_shown(c.get('value'))})" for c in checks if not c["holds"])
                self.console.print(f"  still waiting for steady state after {time.monotonic() - started:.0f} s "
                                   f"(gives up at {STEADY_TIMEOUT_S:g} s): {waiting}", soft_wrap=True)
            self._sleep_watching(2.0)
        self.journal.emit(EventType.steady_state, "runner", {"ok": False, "checks": checks})
        failing = ", ".join(c["name"] for c in checks if not c["holds"])
        self._stop("not-steady", f"no steady state after {STEADY_TIMEOUT_S:g} s: {failing}")
        return False

    def _steady_checks(self) -> list[dict[str, Any]]:
        """One reading of the steady state.  A Prometheus or Alertmanager that misses one answer (a reload, a
        busy node) makes its checks unknown, not the drill an error; Prometheus silent past its grace ends it."""
        from drills.observers.alertmanager import active_alerts
        from drills.observers.prometheus import PrometheusUnreachable, evaluate

        try:
            checks = [evaluate(self.prom, probe).as_dict() for probe in self.scenario.steady_state]
        except PrometheusUnreachable as exc:
            self._prometheus_failed(time.monotonic(), exc)
            checks = [{"name": "Prometheus answers", "holds": False, "value": str(exc)}]
        else:
            self._prometheus_back(time.monotonic())
        checks.append({"name": "target ready", "holds": self.target.is_ready()})
        try:
            firing: list[str] | str = active_alerts(self.target.endpoints().alertmanager_url)
        except TargetError as exc:
            firing = str(exc)
        checks.append({"name": "no alert firing", "holds": firing == [], "value": firing})
        return checks

    def _watch(self) -> None:
        """Until closed, timed out or aborted: narrate events, detect, spot mitigation, check aborts."""
        from drills.observers.prometheus import evaluate

        timeout_s = self.wall_seconds(self.scenario.timeout_minutes)
        assert self.state.injected_at is not None
        next_abort_check = 0.0
        while self.state.outcome is None:
            self._consume_journal()
            if self.state.outcome is not None:
                break
            if self.autopilot is not None and self.autopilot.crashed:
                self._stop("error", f"the autopilot crashed: {self.autopilot.error_text}")
                break
            self._check_observers()
            self.recurrence.tick()
            self._check_fault_clock()
            self._check_mitigation()
            now = time.monotonic()
            self._check_dependencies(now)
            if now >= next_abort_check and self.scenario.abort_when:
                next_abort_check = now + 2.0
                for probe in self.scenario.abort_when:
                    try:
                        result = evaluate(self.prom, probe)
                    except TargetError as exc:
                        self._prometheus_failed(now, exc)
                        break
                    self._prometheus_back(now)
                    if result.holds:
                        self.journal.emit(EventType.aborted, "runner", {"reason": "abort condition",
                                                                      "probe": result.as_dict()})
                        self._stop("aborted", f"abort condition {probe.name} holds ({result.value})")
                        break
            if self.state.outcome is None and now - self.state.injected_at > timeout_s:
                self.journal.emit(EventType.aborted, "runner", {
                    "reason": "timeout", "timeout_minutes": self.scenario.timeout_minutes})
                self._stop("timeout", f"not closed within {self.scenario.timeout_minutes:g} runbook minutes")
            time.sleep(0.25)

    def _check_fault_clock(self) -> None:
        """Journal ``fault_active`` when the fault's runbook clock started after its injection (a container's start
        cannot be scaled: kind's leaking release served later than the runbook's rollout), so MTTD counts from it."""
        if self.state.clock_settled or self.state.injection is None:
            return
        start = self.target.fault_clock_start()
        if start is None:
            return
        self.state.clock_settled = True
        late = start - self.state.injection.ts.timestamp()
        if late >= CLOCK_RESOLUTION_S:
            self.journal.emit(EventType.fault_active, "runner", {
                "fault": self.scenario.fault.type.value, "unscaled_seconds": round(late, 3),
                "runbook_minutes": round(late * self.time_scale / 60.0, 2),
            }, at=datetime.fromtimestamp(start, UTC))  # fmt: skip

    def _check_dependencies(self, now: float) -> None:
        """Prometheus (the sampler got no reading at all) and Alertmanager (its readiness, every few seconds)
        going away mid-drill: each outage is noted when it starts and ends; Prometheus past its grace
        period ends the drill, since nothing can be measured any more."""
        from drills.observers.alertmanager import ready

        outage = self.sampler.outage
        if outage is not None:
            self._prometheus_failed(now, outage)
        elif not self.scenario.abort_when:  # otherwise the abort probes say when it is back
            self._prometheus_back(now)
        if now < self._next_alertmanager_check:
            return
        self._next_alertmanager_check = now + ALERTMANAGER_CHECK_S
        url = self.target.endpoints().alertmanager_url
        if not ready(url):
            if self._alertmanager_since is None:
                self._alertmanager_since = now
                self._say(f"Alertmanager at {url} does not answer: alerts cannot reach the drill until it is "
                          "back; the drill goes on (responders can still act and close it)")
        elif self._alertmanager_since is not None:
            self._say(f"Alertmanager answers again after {now - self._alertmanager_since:.0f} s")
            self._alertmanager_since = None

    def _prometheus_failed(self, now: float, exc: TargetError) -> None:
        """A Prometheus outage (abort probes or samples): noted once; past the grace period the drill ends."""
        since = self._prometheus_since
        if since is None:
            self._prometheus_since = now
            self._say(f"{exc}; the drill ends if it does not answer within {PROMETHEUS_GRACE_S:g} s "
                      "(GAMEDAY_PROMETHEUS_GRACE)")
        elif now - since > PROMETHEUS_GRACE_S:
            self._stop("error", f"{exc} for {now - since:.0f} s (GAMEDAY_PROMETHEUS_GRACE={PROMETHEUS_GRACE_S:g})")

    def _prometheus_back(self, now: float) -> None:
        if self._prometheus_since is not None:
            self._say(f"Prometheus answers again after {now - self._prometheus_since:.0f} s")
            self._prometheus_since = None

    def _say(self, text: str) -> None:
        """A note in the journal and a line on screen: what the drill noticed about its own tools."""
        self.journal.emit(EventType.note, "runner", {"text": text})
        self.console.print(f"[yellow]{text}[/]", highlight=False, soft_wrap=True)

    def _consume_journal(self) -> None:
        if self.tail is None:
            return
        for event in self.tail.new_events():
            narrate(event, self.time_scale, self.console)
            if self.state.injected_at is None:
                continue
            if event.type is EventType.alert_firing and not self.state.detected and self._fired_after_fault(event):
                self.state.detected = True
                self.journal.emit(EventType.detected, "runner", {
                    "via": "alert", "alertname": event.data.get("alertname"), "alert_seq": event.seq})
            elif event.type is EventType.action:
                self.state.actions.append(event)
                self.state.good_samples = 0
            elif event.type is EventType.closed:
                self.state.closed = event
                self._stop("closed", f"closed by {event.actor}")

    def _fired_after_fault(self, alert: Event) -> bool:
        """An alert journaled before the fault, or firing since before it (a previous drill's replaced pod, still
        a target when this drill began), is not this fault's detection."""
        injection = self.state.injection
        if injection is None or alert.seq <= injection.seq:
            return False
        started = alert.data.get("starts_at")
        try:
            return started is None or datetime.fromisoformat(str(started)) >= injection.ts
        except ValueError:
            return True

    def _check_mitigation(self) -> None:
        """Mitigated = after an action, the runbook's error-rate check passes and every replica is ready."""
        if self.state.mitigated or not self.state.actions:
            return
        latest = self.sampler.latest
        rate = latest.get("error_rate")
        good = (
            rate is not None
            and rate < self.runbook.verification.error_rate_below
            and self.replicas.all_ready()
            and self.sampler.fresh_since(self.state.actions[-1].ts)
        )
        self.state.good_samples = self.state.good_samples + 1 if good else 0
        if self.state.good_samples >= MITIGATION_SAMPLES:
            self.state.mitigated = True
            action = self.state.actions[-1]
            self.journal.emit(EventType.mitigated, "runner", {
                "error_rate": rate,
                "threshold": self.runbook.verification.error_rate_below,
                "replicas_ready": sum(r.ready for r in self.replicas.replicas),
                "after_action": action.data.get("kind"),
                "action_seq": action.seq,
            })  # fmt: skip

    def _stop(self, outcome: Outcome, reason: str) -> None:
        if self.state.outcome is None:
            self.state.outcome, self.state.reason = outcome, reason

    def _check_observers(self) -> None:
        """End the drill (clean-up included) when it can no longer see what happens: an observer gave up
        (the Kubernetes API refused the watch) or the journal cannot be written (disk full)."""
        failure = self.target.observer_error() or self.journal.failure
        if failure is not None:
            raise failure

    def _sleep_watching(self, seconds: float) -> None:
        """Sleep while still narrating the journal (steady-state wait, blind delay)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._check_observers()
            self._consume_journal()
            time.sleep(min(0.25, left))

    # -- resources -----------------------------------------------------------------------------------------

    def _replica_counts(self) -> dict[str, Any]:
        replicas = self.replicas.replicas
        return {"replicas_ready": sum(r.ready for r in replicas), "replicas_desired": len(replicas)}

    def _start_load(self) -> LoadHandle:
        from drills.load.runner import start_load

        return start_load(self.scenario.load, self.target.endpoints().app_url, self.out / "load")

    def _stop_load(self) -> None:
        self.load.stop()  # Locust writes its CSVs as it stops
        self.load_stats = {k: v for k, v in self.load.stats().items() if k in LOAD_STATS}

    def _start_autopilot(self) -> Autopilot | None:
        if self.responder_model is None:
            self.console.print("waiting for responders: `gameday drill log ...`, `gameday sandbox rollout ...`")
            return None
        from drills.autopilot import Autopilot, DrillView

        view = DrillView(webhook=self.webhook, sampler=self.sampler, replicas=self.replicas, runbook=self.runbook)
        autopilot = Autopilot(
            runbook=self.runbook, scenario=self.scenario, model=self.responder_model, target=self.target,
            journal=self.journal, view=view, time_scale=self.time_scale, rng=self._seeds["responder"],
        )  # fmt: skip
        autopilot.start()
        return autopilot

    def _revert_faults(self) -> None:
        """Revert this drill's faults: what the target still lists as pending for it, else what we injected.

        A failed revert is kept for :meth:`_run_claimed` to raise after the summary is written."""
        mine = {r.id for r in self.records}
        try:
            pending = [r for r in self.target.pending_injections() if r.drill_id == self.drill_id or r.id in mine]
        except GamedayError:
            pending = []
        records = pending or [r for r in self.records if r.reverted_at is None]
        try:
            self.reverted = revert_all(self.target, records, self.journal)
        except FaultLeftBehind as exc:
            self.reverted, self.revert_error = exc.outcomes, exc

    # -- always: summarise ---------------------------------------------------------------------------------

    def _finish(self) -> DrillSummary:
        """After every resource is released and every fault reverted: journal the end, write the summary."""
        self._consume_journal()
        markers.release(self.active)  # nobody journals into a drill that has ended
        outcome: Outcome = self.state.outcome or "error"
        with contextlib.suppress(JournalError):  # a full disk: the failure is what the drill ends with
            self.journal.emit(EventType.drill_ended, "runner", {"outcome": outcome, "reason": self.state.reason})
        self.journal.close()
        try:
            pending: list[str] | None = [r.id for r in self.target.pending_injections()]
        except GamedayError:
            pending = None
        facts = DrillFacts(
            drill_id=self.drill_id, scenario=self.scenario.name, target=self.options.target,
            responder=self.options.responder, seed=self.options.seed, time_scale=self.time_scale, outcome=outcome,
            reason=self.state.reason, journal=str(self.journal_path), load_dir=str(self.out / "load"),
            load=self.load_stats, started_at=self.started, faults_reverted=self.reverted, pending_after=pending,
        )  # fmt: skip
        summary = DrillSummary.build(facts, read_journal(self.journal_path))
        try:
            (self.out / "summary.json").write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
        except OSError as exc:  # the journal's disk is full: the summary is printed below, not saved
            (self.out / "summary.json").unlink(missing_ok=True)
            self.console.print(f"[yellow]summary not saved: {self.out / 'summary.json'}: {exc.strerror}[/]")
        print_summary(summary, self.console)
        from gameday.history import record_drill  # the team's incident history; a failure is said, never raised

        record_drill(self.journal_path, self.console)
        return summary


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One generator per random source (blind delay, responder), so changing one leaves the other alone."""
    blind, responder = np.random.SeedSequence(seed).spawn(2)
    return {"blind_delay": np.random.default_rng(blind), "responder": np.random.default_rng(responder)}


def _default_webhook_port() -> int:
    """Where the runner listens for Alertmanager when the target does not say (the sandbox's port plan)."""
    from drills.sandbox.config import SandboxConfig

    return SandboxConfig.from_env().ports.webhook


def _shown(value: Any) -> str:
    """A probe's reading in a progress line: ``0.034``, ``['HighErrorRate']`` or ``no data``."""
    if value is None:
        return "no data"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def run_drill(options: DrillOptions, console: Any = None) -> DrillSummary:
    """Validate, run and summarise one drill (the CLI's entry point)."""
    return DrillRunner(options, console).run()


def _reach(options: dict[str, Any]) -> dict[str, Any]:
    """The target options another process needs to act on the same target (war-room remediations)."""
    reach = {k: v for k, v in options.items() if k in ("context", "kubeconfig", "allowed_contexts") and v}
    if reach.get("kubeconfig"):
        reach["kubeconfig"] = str(Path(reach["kubeconfig"]).resolve())
    return reach
