"""The drill runner: validate, steady state, blind delay, inject, observe, stop, revert, summarise.

One drill = one journal (``<out>/<drill-id>/journal.jsonl``) that the runner, the Alertmanager webhook,
the Prometheus sampler, the replica watcher, the autopilot and other processes (``gameday drill log``,
``gameday sandbox rollout``) all append to.  Other processes find it through ``active-drill.json`` in the
sandbox state folder while the drill runs.

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

from pydantic import BaseModel, ConfigDict

from gameday.errors import GamedayError, InputError, SafetyError, TargetError
from gameday.journal import Event, EventType, JournalWriter

if TYPE_CHECKING:
    from drills.observers.prometheus import MetricSampler, Prometheus
    from drills.observers.replicas import ReplicaWatcher
    from drills.observers.webhook import AlertReceiver
    from drills.targets.base import InjectionRecord, Target
    from gameday.runbook.model import Runbook
    from gameday.scenario import Scenario

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "scenarios" / "policies" / "baseline.yaml"

#: Named, environment-overridable waits (wall seconds), so slow CI machines can stretch them.
STEADY_TIMEOUT_S = float(os.environ.get("GAMEDAY_STEADY_TIMEOUT", "180"))
#: ``rate()`` windows never shrink below this many wall seconds (a few scrapes must fit in them).
MIN_RATE_WINDOW_S = float(os.environ.get("GAMEDAY_MIN_RATE_WINDOW", "10"))
#: Consecutive good samples after an action before the runner calls the incident mitigated.
MITIGATION_SAMPLES = 3

Outcome = Literal["resolved", "timeout", "aborted", "not-steady", "interrupted", "error"]
EXIT_CODES: dict[str, int] = {"resolved": 0, "timeout": 1, "aborted": 1, "not-steady": 1, "error": 1}

#: Events the console narrates as they happen (the rest is in the journal).
NARRATED = {
    EventType.steady_state, EventType.fault_injected, EventType.alert_firing, EventType.alert_resolved,
    EventType.detected, EventType.acknowledged, EventType.severity_declared, EventType.ticket_created,
    EventType.role_assigned, EventType.war_room_created, EventType.paged, EventType.escalated,
    EventType.notified, EventType.status_update, EventType.hypothesis, EventType.action, EventType.mitigated,
    EventType.verified, EventType.resolved, EventType.closed, EventType.postmortem_filed, EventType.aborted,
    EventType.fault_reverted, EventType.drill_ended, EventType.replica_state,
}


# -- the active-drill marker -----------------------------------------------------------------------------


class ActiveDrill(BaseModel):
    """What another process needs to journal into the running drill."""

    model_config = ConfigDict(extra="forbid")

    drill_id: str
    incident: str
    journal: str
    out_dir: str
    target: str
    scenario: str
    time_scale: float
    started_at: datetime
    runner_pid: int
    load_pid: int | None = None


def active_path() -> Path:
    """``<sandbox state>/active-drill.json``, where every gameday process looks for the running drill."""
    from drills.sandbox.config import sandbox_dir
    from drills.sandbox.paths import Layout

    return Layout(sandbox_dir()).active_drill


def read_active() -> ActiveDrill | None:
    """The running (or crashed) drill's marker; ``None`` when there is none or it is unreadable."""
    try:
        return ActiveDrill.model_validate_json(active_path().read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def write_active(active: ActiveDrill) -> None:
    from drills.sandbox.paths import write_json_atomic

    write_json_atomic(active_path(), active.model_dump(mode="json"))  # readers never see half a marker


def clear_active(drill_id: str) -> None:
    active = read_active()
    if active is not None and active.drill_id == drill_id:
        with contextlib.suppress(FileNotFoundError):
            active_path().unlink()


def open_active_journal() -> tuple[ActiveDrill, JournalWriter]:
    """For ``gameday drill log`` and ``gameday sandbox rollout``: a writer on the running drill's journal."""
    from drills.recovery import pid_alive

    active = read_active()
    if active is None:
        raise SafetyError(f"no drill is running (no {active_path()}); start one with `gameday drill run`")
    if not pid_alive(active.runner_pid):
        raise SafetyError(f"the drill {active.drill_id} is not running any more (runner pid {active.runner_pid})")
    return active, JournalWriter(active.journal, active.incident)


#: ``gameday drill log`` kinds -> the journal's event types.
LOG_KINDS = {
    "acknowledged", "severity_declared", "role_assigned", "status_update", "hypothesis", "verified",
    "resolved", "closed", "paged", "war_room_created", "postmortem_filed",
}


def log_event(kind: str, actor: str | None, data: dict[str, Any]) -> Event:
    """Append a responder's step to the running drill, checked against the drill's own runbook."""
    from drills.sandbox.actions import default_actor
    from gameday.journal import iter_events
    from gameday.runbook import load_runbook

    if kind not in LOG_KINDS:
        raise InputError(None, "kind", f"cannot log {kind!r}; expected one of {', '.join(sorted(LOG_KINDS))}")
    active, journal = open_active_journal()
    try:
        data = dict(data)
        if kind in ("severity_declared", "role_assigned"):
            first = next(iter_events(active.journal), None)
            runbook = load_runbook((first.data.get("runbook") if first else None) or None)
            if kind == "severity_declared":
                try:
                    data["severity"] = runbook.severity(int(data["level"])).name
                except KeyError:
                    names = ", ".join(s.name for s in runbook.severities)
                    raise InputError(None, "--sev", f"the runbook has {names}, not SEV-{data['level']}") from None
            else:
                try:
                    data["role"] = runbook.role(str(data.get("role", ""))).abbreviation
                except KeyError:
                    roles = ", ".join(r.abbreviation for r in runbook.roles)
                    raise InputError(None, "ROLE", f"expected ROLE=name with ROLE one of {roles}") from None
                if not data.get("person"):
                    raise InputError(None, "ROLE=name", "the name after '=' is empty")
        if kind == "war_room_created":
            data.setdefault("channel", f"#incident-{active.incident}")
        if kind == "postmortem_filed":
            path = Path(str(data["path"]))
            if not path.is_file():
                raise InputError(path, None, "no such file; write the review first")
            data["path"] = str(path.resolve())
        return journal.emit(EventType(kind), actor or default_actor(), data)
    finally:
        journal.close()


# -- target and load adapters ------------------------------------------------------------------------------


def make_target(name: str, **options: Any) -> Target:
    """The target by name; Kubernetes only with an explicitly configured context (guarded by the target).

    ``options`` (``context``, ``kubeconfig``, ``allowed_contexts``, ``dry_run``; ``None`` = default) are
    the Kubernetes target's; :func:`check_target` refuses them for the local one.
    """
    check_target(name, **options)
    if name == "local":
        from drills.targets.local import LocalTarget

        return LocalTarget()
    from drills.targets.kubernetes import KubernetesTarget

    return KubernetesTarget.with_options(**options)


KUBE_FLAGS = {"context": "--context", "kubeconfig": "--kubeconfig", "allowed_contexts": "--allow-context",
              "dry_run": "--dry-run"}  # fmt: skip


def check_target(name: str, **options: Any) -> None:
    """Guardrails that need no request (the kube context allowlist, read from the kubeconfig file); the
    runner calls this before it writes anything."""
    given = {k: v for k, v in options.items() if v not in (None, False, [], ())}
    if name == "local":
        if given:
            flags = ", ".join(KUBE_FLAGS.get(k, k) for k in given)
            raise InputError(None, "--target", f"{flags} only apply to --target kubernetes")
        return
    if name != "kubernetes":
        raise InputError(None, "--target", f"unknown target {name!r}; expected local or kubernetes")
    try:
        from drills.k8s.guard import preflight
    except ModuleNotFoundError:
        raise TargetError("the kubernetes target is not installed in this build") from None
    preflight(options.get("context"), options.get("kubeconfig"), options.get("allowed_contexts"))


def webhook_port() -> int:
    from drills.sandbox.config import SandboxConfig

    return SandboxConfig.from_env().ports.webhook


# -- the run ---------------------------------------------------------------------------------------------


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
    #: Kubernetes target options (see :func:`make_target`): context, kubeconfig, allowed_contexts, dry_run.
    target_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class DrillState:
    """What the runner has seen so far (fed by the journal tail, so other processes count too)."""

    injected_at: float | None = None  # monotonic
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
        from rich.console import Console

        from gameday.files import load_model
        from gameday.runbook import load_runbook
        from gameday.scenario import Scenario

        self.options = options
        self.console = console or Console(stderr=True, highlight=False)
        # Validate first, run second: nothing touches a target before every file is known good.
        self.scenario: Scenario = load_model(options.scenario_path, Scenario)
        self.runbook: Runbook = load_runbook(options.runbook)
        if options.target not in self.scenario.targets:
            raise InputError(options.scenario_path, "targets", f"this scenario does not run on {options.target}")
        if options.time_scale is not None and options.time_scale <= 0:
            raise InputError(None, "--time-scale", "must be > 0")
        check_target(options.target, **options.target_options)  # a refused kube context: before any write
        self.time_scale = float(options.time_scale or self.scenario.time_scale)
        self.responder_model = None
        if options.responder == "autopilot":
            from sim.responder import ResponderModel

            policy = options.policy or DEFAULT_POLICY
            self.responder_model = ResponderModel.from_files(policy, options.runbook)
        self.started = datetime.now(UTC)
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        self.drill_id = f"{self.scenario.name}-{stamp}-s{options.seed}"
        self.out = Path(options.out_dir) / self.drill_id
        self.journal_path = self.out / "journal.jsonl"
        self.state = DrillState()
        self.records: list[InjectionRecord] = []
        self.reverted: list[dict[str, Any]] = []
        self._seeds = _streams(options.seed)

    # -- wall <-> runbook time ---------------------------------------------------------------------------

    def wall_seconds(self, runbook_minutes: float) -> float:
        return runbook_minutes * 60.0 / self.time_scale

    # -- the whole drill ---------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Run the drill; returns the summary (also written to ``summary.json``)."""
        from drills.recovery import DrillInterrupted, interrupts_as_exceptions, pid_alive

        existing = read_active()
        if existing is not None and pid_alive(existing.runner_pid):
            raise SafetyError(f"drill {existing.drill_id} is already running (pid {existing.runner_pid})")
        self.journal = JournalWriter(self.journal_path, self.drill_id, start=self.started)
        self.journal.emit(
            EventType.journal_started,
            "runner",
            at=self.started,
            data={
                "source": "drill",
                "time_scale": self.time_scale,
                "runbook": self.runbook.source,
                "scenario": self.scenario.model_dump(mode="json"),
                "scenario_path": str(self.options.scenario_path),
                "target": self.options.target,
                "responder": self.options.responder,
                "policy": str(self.options.policy or DEFAULT_POLICY) if self.responder_model else None,
                "seed": self.options.seed,
                "drill_id": self.drill_id,
            },
        )
        self.console.print(f"[bold]drill {self.drill_id}[/]: {self.scenario.title} on {self.options.target}, "
                           f"responder {self.options.responder}, time scale {self.time_scale:g}")
        error: BaseException | None = None
        with interrupts_as_exceptions():
            try:
                self._run_inner()
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
        return summary

    def _run_inner(self) -> None:
        from drills.observers.journal_tail import JournalTail
        from drills.observers.prometheus import DEFAULT_ERROR_RATE, MetricQueries, MetricSampler, Prometheus
        from drills.observers.replicas import ReplicaWatcher
        from drills.observers.webhook import AlertReceiver

        self.target = make_target(self.options.target, **self.options.target_options)
        self.console.print("bringing the stack up / checking it ...")
        self.target.up()
        endpoints = self.target.endpoints()
        self.prom: Prometheus = Prometheus(endpoints.prometheus_url)
        port = int(endpoints.extra.get("webhook_port") or webhook_port())
        self.webhook: AlertReceiver = AlertReceiver(self.journal, port=port).start()
        # Targets may watch more than the protocol covers (Kubernetes: kubectl actions of responders, and a
        # bridge from an in-cluster Alertmanager that cannot reach our loopback webhook).
        start_observers = getattr(self.target, "start_observers", None)
        if start_observers is not None:
            start_observers(self.journal, self.webhook.url)
        self.tail = JournalTail(self.journal_path)
        self.replicas: ReplicaWatcher = ReplicaWatcher(self.target, self.journal)
        queries = MetricQueries(error_rate=self.runbook.verification.error_rate_query or DEFAULT_ERROR_RATE)
        self.sampler: MetricSampler = MetricSampler(
            self.prom,
            queries.compressed(self.time_scale, MIN_RATE_WINDOW_S),
            self.journal,
            extras=self._replica_counts,
        )
        self.load = self._start_load()
        self._write_active()
        if not self._steady_state():
            return
        delay = float(self._seeds["blind_delay"].uniform(*self.scenario.blind_delay_seconds))
        self.console.print(f"steady; injecting within the blind delay ({delay:.1f} s) ...")
        self._sleep_watching(delay)
        self.replicas.start()
        self.sampler.start()
        # Written before the change (a rollout takes seconds and alerts may fire meanwhile), completed by
        # the ``note`` after it; the target has persisted its undo record before touching anything.
        fault = self.scenario.fault
        self.state.injected_at = time.monotonic()
        self.journal.emit(EventType.fault_injected, "runner", {
            "fault": fault.type.value,
            "params": fault.params,
            "target": self.options.target,
            "rollback_safe": self.scenario.rollback_safe,
            "severity": self.scenario.expected_severity,
        })
        record = self.target.inject(fault, drill_id=self.drill_id)
        self.records.append(record)
        self.journal.emit(EventType.note, "runner", {
            "text": f"fault {record.fault.value} applied",
            "record": record.id,
            "params": record.params,
            "recorded_at": record.injected_at.isoformat(),
            "apply_seconds": round(time.monotonic() - self.state.injected_at, 3),
        })
        self.autopilot = self._start_autopilot()
        self._watch()

    # -- phases --------------------------------------------------------------------------------------------

    def _steady_state(self) -> bool:
        """Poll the scenario's probes (plus target readiness and no firing alert) until they all hold."""
        from drills.observers.alertmanager import active_alerts
        from drills.observers.prometheus import evaluate

        deadline = time.monotonic() + STEADY_TIMEOUT_S
        checks: list[dict[str, Any]] = []
        while True:
            checks = [evaluate(self.prom, probe).as_dict() for probe in self.scenario.steady_state]
            checks.append({"name": "target ready", "holds": self.target.is_ready()})
            firing = active_alerts(self.target.endpoints().alertmanager_url)
            checks.append({"name": "no alert firing", "holds": not firing, "value": firing})
            if all(c["holds"] for c in checks):
                self.journal.emit(EventType.steady_state, "runner", {"ok": True, "checks": checks})
                return True
            if time.monotonic() > deadline:
                break
            self._sleep_watching(2.0)
        self.journal.emit(EventType.steady_state, "runner", {"ok": False, "checks": checks})
        failing = ", ".join(c["name"] for c in checks if not c["holds"])
        self._stop("not-steady", f"no steady state after {STEADY_TIMEOUT_S:g} s: {failing}")
        return False

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
            self._check_mitigation()
            now = time.monotonic()
            if now >= next_abort_check and self.scenario.abort_when:
                next_abort_check = now + 2.0
                for probe in self.scenario.abort_when:
                    result = evaluate(self.prom, probe)
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

    def _consume_journal(self) -> None:
        for event in self.tail.new_events():
            self._narrate(event)
            if self.state.injected_at is None:
                continue
            if event.type is EventType.alert_firing and not self.state.detected:
                self.state.detected = True
                self.journal.emit(EventType.detected, "runner", {
                    "via": "alert", "alertname": event.data.get("alertname"), "alert_seq": event.seq})
            elif event.type is EventType.action:
                self.state.actions.append(event)
                self.state.good_samples = 0
            elif event.type is EventType.closed:
                self.state.closed = event
                self._stop("resolved", f"closed by {event.actor}")

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
            })

    def _stop(self, outcome: Outcome, reason: str) -> None:
        if self.state.outcome is None:
            self.state.outcome, self.state.reason = outcome, reason

    def _sleep_watching(self, seconds: float) -> None:
        """Sleep while still narrating the journal (steady-state wait, blind delay)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._consume_journal()
            time.sleep(min(0.25, left))

    # -- helpers -----------------------------------------------------------------------------------------

    def _replica_counts(self) -> dict[str, Any]:
        replicas = self.replicas.replicas
        return {"replicas_ready": sum(r.ready for r in replicas), "replicas_desired": len(replicas)}

    def _write_active(self) -> None:
        write_active(ActiveDrill(
            drill_id=self.drill_id,
            incident=self.drill_id,
            journal=str(self.journal_path.resolve()),
            out_dir=str(self.out.resolve()),
            target=self.options.target,
            scenario=self.scenario.name,
            time_scale=self.time_scale,
            started_at=self.started,
            runner_pid=os.getpid(),
            load_pid=getattr(self.load, "pid", None),
        ))

    def _start_load(self) -> Any:
        from drills.load.runner import start_load

        return start_load(self.scenario.load, self.target.endpoints().app_url, self.out / "load")

    def _start_autopilot(self) -> Any:
        if self.responder_model is None:
            self.console.print("waiting for responders: `gameday drill log ...`, `gameday sandbox rollout ...`")
            return None
        from drills.autopilot import Autopilot, DrillView

        view = DrillView(webhook=self.webhook, sampler=self.sampler, replicas=self.replicas,
                         runbook=self.runbook)
        autopilot = Autopilot(
            runbook=self.runbook,
            scenario=self.scenario,
            model=self.responder_model,
            target=self.target,
            journal=self.journal,
            view=view,
            time_scale=self.time_scale,
            rng=self._seeds["responder"],
        )
        autopilot.start()
        return autopilot

    def _narrate(self, event: Event) -> None:
        if event.type not in NARRATED:
            return
        minutes = event.t * self.time_scale / 60.0
        detail = _short(event)
        self.console.print(f"  [dim]{event.t:7.1f} s  {minutes:6.1f} rb-min[/]  {event.type.value:<18} "
                           f"[cyan]{event.actor}[/] {detail}")

    # -- always: stop, revert, summarise -------------------------------------------------------------------

    def _finish(self) -> dict[str, Any]:
        """Stop responders and observers, revert every fault, write the summary.  Runs in ``finally``."""
        from drills.recovery import revert_all

        autopilot = getattr(self, "autopilot", None)
        if autopilot is not None:
            autopilot.stop(timeout=30.0)  # lets it file the post-incident review it starts at close
        revert_error: GamedayError | None = None
        target = getattr(self, "target", None)
        if target is not None:
            mine = {r.id for r in self.records}
            try:
                pending = [r for r in target.pending_injections() if r.drill_id == self.drill_id or r.id in mine]
            except GamedayError:
                pending = []
            records = pending or [r for r in self.records if r.reverted_at is None]
            try:
                self.reverted = revert_all(target, records, self.journal)
            except GamedayError as exc:
                revert_error = exc
        for name in ("sampler", "replicas"):
            observer = getattr(self, name, None)
            if observer is not None:
                observer.stop()
        stop_observers = getattr(target, "stop_observers", None)
        if stop_observers is not None:
            stop_observers()
        load = getattr(self, "load", None)
        if load is not None:
            load.stop()  # Locust writes its CSVs as it stops
            self.load_stats = {k: v for k, v in load.stats().items() if k in LOAD_STATS}
        self._consume_journal_quietly()
        webhook = getattr(self, "webhook", None)
        if webhook is not None:
            webhook.stop()
        clear_active(self.drill_id)
        outcome = self.state.outcome or "error"
        self.journal.emit(EventType.drill_ended, "runner", {"outcome": outcome, "reason": self.state.reason})
        self.journal.close()
        summary = build_summary(self, outcome, target)
        close = getattr(target, "close", None)
        if close is not None:
            close()  # e.g. the Kubernetes API client and its watch
        (self.out / "summary.json").write_text(_json(summary), encoding="utf-8")
        print_summary(summary, self.console)
        if revert_error is not None:
            raise revert_error
        return summary

    def _consume_journal_quietly(self) -> None:
        tail = getattr(self, "tail", None)
        if tail is not None:
            for event in tail.new_events():
                self._narrate(event)


def _streams(seed: int) -> dict[str, Any]:
    """One generator per random source (blind delay, responder), so changing one leaves the other alone."""
    import numpy as np

    blind, responder = np.random.SeedSequence(seed).spawn(2)
    return {"blind_delay": np.random.default_rng(blind), "responder": np.random.default_rng(responder)}


def _short(event: Event) -> str:
    data = event.data
    for key in ("alertname", "fault", "severity", "kind", "role", "text", "message", "reason", "state", "outcome"):
        if key in data and data[key] is not None:
            value = str(data[key])
            if key == "role" and event.type is EventType.role_assigned:
                value = f"{value}={data.get('person')}"
            if key == "state":
                value = f"{data.get('name')} {value} ready={data.get('ready')} v={data.get('version')}"
            return value[:90]
    return ""


def _json(body: Any) -> str:
    import json

    return json.dumps(body, indent=2, default=str) + "\n"


# -- summary -----------------------------------------------------------------------------------------------

TIMELINE = (
    EventType.fault_injected, EventType.alert_firing, EventType.detected, EventType.acknowledged,
    EventType.severity_declared, EventType.war_room_created, EventType.hypothesis, EventType.action,
    EventType.mitigated, EventType.verified, EventType.resolved, EventType.closed, EventType.fault_reverted,
    EventType.drill_ended,
)


#: Columns of Locust's "Aggregated" row worth a place in the summary.
LOAD_STATS = ("Request Count", "Failure Count", "Requests/s", "Median Response Time", "95%", "99%")


def build_summary(runner: DrillRunner, outcome: str, target: Target | None) -> dict[str, Any]:
    """The drill at a glance, from the journal itself (so other processes' events count too)."""
    from gameday.journal import read_journal

    events = read_journal(runner.journal_path)
    scale = runner.time_scale
    injected = next((e for e in events if e.type is EventType.fault_injected), None)
    base = injected.t if injected else 0.0
    timeline = []
    for kind in TIMELINE:
        first = next((e for e in events if e.type is kind), None)
        if first is not None:
            timeline.append({
                "event": kind.value,
                "actor": first.actor,
                "t": first.t,
                "after_injection_s": round(first.t - base, 3) if injected else None,
                "after_injection_runbook_min": round((first.t - base) * scale / 60, 2) if injected else None,
            })
    samples = [e for e in events if e.type is EventType.metric_sample]
    pending: list[str] | None = None
    if target is not None:
        try:
            pending = [r.id for r in target.pending_injections()]
        except GamedayError:
            pending = None
    return {
        "drill_id": runner.drill_id,
        "scenario": runner.scenario.name,
        "target": runner.options.target,
        "responder": runner.options.responder,
        "seed": runner.options.seed,
        "time_scale": scale,
        "outcome": outcome,
        "reason": runner.state.reason,
        "exit_code": EXIT_CODES.get(outcome, 1),
        "journal": str(runner.journal_path),
        "load_dir": str(runner.out / "load"),
        "load": getattr(runner, "load_stats", {}),
        "started_at": runner.started.isoformat(),
        "wall_seconds": round(events[-1].t, 3) if events else 0.0,
        "events": len(events),
        "metric_samples": len(samples),
        "alerts": sorted({str(e.data.get("alertname")) for e in events if e.type is EventType.alert_firing}),
        "actions": [{"kind": e.data.get("kind"), "actor": e.actor} for e in events if e.type is EventType.action],
        "mitigated": any(e.type is EventType.mitigated for e in events),
        "faults_reverted": runner.reverted,
        "pending_after": pending,
        "final_metrics": samples[-1].data if samples else None,
        "timeline": timeline,
    }


def print_summary(summary: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"drill {summary['drill_id']}: {summary['outcome']}")
    for column in ("event", "actor", "after injection", "runbook min"):
        table.add_column(column)
    for row in summary["timeline"]:
        after = row["after_injection_s"]
        table.add_row(
            row["event"],
            row["actor"],
            "—" if after is None else f"{after:.1f} s",
            "—" if row["after_injection_runbook_min"] is None else f"{row['after_injection_runbook_min']:.1f}",
        )
    console.print(table)
    reverted = summary["faults_reverted"]
    ok = all(r.get("ok") for r in reverted)
    console.print(
        f"faults reverted: {len(reverted)} ({'all ok' if ok else 'FAILED'}); pending after: "
        f"{summary['pending_after']}; journal: {summary['journal']}"
    )
    if summary["reason"]:
        console.print(f"reason: {summary['reason']}")


def run_drill(options: DrillOptions, console: Any = None) -> dict[str, Any]:
    """Validate, run and summarise one drill (the CLI's entry point)."""
    return DrillRunner(options, console).run()
