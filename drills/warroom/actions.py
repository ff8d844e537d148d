"""Carry out a validated war-room request: append to the journal, act on the target.

Responders' steps and remediations go through ``drills.drill_log.ResponderLog`` (the path ``gameday drill
log`` and ``gameday sandbox rollout undo`` take), remediations after ``target.remediate``, with the
participant's name as the actor.  The game master's hint, reveal, second stage and end are
journaled here with the same checks (a running drill, this journal).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drills.warroom import drill_link
from drills.warroom import requests as rq
from drills.warroom.requests import RequestRefused
from gameday.errors import GamedayError, InputError, SafetyError
from gameday.journal import Event, EventType, JournalWriter, read_journal
from gameday.remediations import CATALOGUE, checked, spec_for

if TYPE_CHECKING:
    from drills.active import ActiveDrill
    from drills.targets.base import Target

REVIEW_FILE = "post-incident-review.md"


def remediation_buttons() -> list[dict[str, str]]:
    """The page's remediation buttons: every remediation of the catalogue, with its label."""
    return [{"action": spec.name.value, "label": spec.label} for spec in CATALOGUE.values()]


def default_target(active: ActiveDrill) -> Target:
    """The drill's own target, reached the way its runner reached it (a kube context is checked again)."""
    return drill_link.make_target(active.target, **active.target_options)


@dataclass
class Room:
    """One war room: its journal, and how to reach the target the drill runs on."""

    journal: Path
    target_factory: Callable[[ActiveDrill], Target] = default_target
    _remediating: threading.Lock = field(default_factory=threading.Lock)
    _gm: threading.Lock = field(default_factory=threading.Lock)

    @property
    def out_dir(self) -> Path:
        return self.journal.parent

    def events(self) -> list[Event]:
        return read_journal(self.journal)

    def meta(self) -> dict[str, Any]:
        from gameday.journal import journal_meta

        return journal_meta(self.events()[:1])

    # -- guards --------------------------------------------------------------------------------------------

    def live(self) -> ActiveDrill | None:
        """The running drill if it is this journal's (writes go nowhere else), else None."""
        return drill_link.running_drill(self.journal)

    def require_live(self, *, after_close: bool = False) -> ActiveDrill:
        active = self.live()
        if active is None:
            raise RequestRefused(409, "this drill is not running: the war room is read-only")
        if not after_close and any(e.type is EventType.closed for e in self.events()):
            raise RequestRefused(409, "the incident is closed; only the post-incident review can be attached")
        return active

    # -- dispatch ------------------------------------------------------------------------------------------

    def perform(self, request: rq._Request) -> Event:
        handler = getattr(self, f"_do_{request.type}")  # type: ignore[attr-defined]
        try:
            return handler(request)
        except InputError as exc:
            raise RequestRefused(422, exc.problem if exc.field is None else f"{exc.field}: {exc.problem}") from None
        except SafetyError as exc:
            raise RequestRefused(409, str(exc)) from None
        except GamedayError as exc:
            raise RequestRefused(502, f"the target refused: {exc}") from None

    def _log(self, kind: str, actor: str, data: dict[str, Any] | None = None) -> Event:
        return drill_link.log_step(self.require_live(), kind, actor, data or {})

    # -- responders ----------------------------------------------------------------------------------------

    def _do_ack(self, r: rq.Ack) -> Event:
        return self._log("acknowledged", r.actor)

    def _do_declare(self, r: rq.Declare) -> Event:
        return self._log("severity_declared", r.actor, {"level": r.level})

    def _do_assign(self, r: rq.Assign) -> Event:
        return self._log("role_assigned", r.actor, {"role": r.role, "person": r.person})

    def _do_update(self, r: rq.StatusUpdate) -> Event:
        return self._log("status_update", r.actor, {"message": r.message, "channels": list(r.channels)})

    def _do_declaration(self, r: rq.Declaration) -> Event:
        return self._log("declaration_posted", r.actor, {"message": r.message, "channels": list(r.channels)})

    def _do_notice(self, r: rq.Notice) -> Event:
        return self._log("external_notice", r.actor, {"kind": r.kind, "message": r.message,
                                                      "channels": list(r.channels)})

    def _do_status_page(self, r: rq.StatusPage) -> Event:
        return self._log("status_page", r.actor, {"status": r.status, "message": r.message,
                                                  "channels": list(r.channels)})

    def _do_notify(self, r: rq.Notify) -> Event:
        data: dict[str, Any] = {"who": r.who, "channels": list(r.channels)}
        if r.message:
            data["message"] = r.message
        return self._log("notified", r.actor, data)

    def _do_hypothesis(self, r: rq.Hypothesis) -> Event:
        return self._log("hypothesis", r.actor, {"text": r.text})

    def _do_page(self, r: rq.Page) -> Event:
        return self._log("paged", r.actor, {"who": r.who, "level": r.level})

    def _do_war_room(self, r: rq.WarRoom) -> Event:
        return self._log("war_room_created", r.actor, {"channel": r.channel} if r.channel else {})

    def _do_verify(self, r: rq.Verify) -> Event:
        return self._log("verified", r.actor)

    def _do_resolve(self, r: rq.Resolve) -> Event:
        return self._log("resolved", r.actor)

    def _do_close(self, r: rq.Close) -> Event:
        return self._log("closed", r.actor)

    def _do_postmortem(self, r: rq.Review) -> Event:
        """Write the review beside the journal, then file it (also after the drill has ended)."""
        events = self.events()
        if not any(e.type in (EventType.closed, EventType.drill_ended) for e in events) and self.live() is None:
            raise RequestRefused(409, "this drill is not running: the war room is read-only")
        path = self.out_dir / REVIEW_FILE
        path.write_text(r.text.rstrip() + "\n", encoding="utf-8")
        active = self.live()
        if active is not None:
            return drill_link.log_step(active, "postmortem_filed", r.actor, {"path": str(path)})
        # the runner stops at "closed": the review comes later, straight into the finished journal
        with JournalWriter(self.journal, events[0].incident if events else "drill") as writer:
            return writer.emit(EventType.postmortem_filed, r.actor, {"path": str(path.resolve())})

    def _do_remediate(self, r: rq.Remediate) -> Event:
        active = self.require_live()
        spec = spec_for(r.action)
        params: dict[str, Any] = {}
        if "replicas" in spec.params.model_fields:
            if r.replicas is None:
                raise RequestRefused(422, f"{r.action.value}: replicas: required (1-10)")
            params["replicas"] = r.replicas
        elif r.replicas is not None:
            raise RequestRefused(422, f"{r.action.value}: replicas: only scale takes a replica count")
        checked(r.action, params)  # the catalogue's checks, before the target is reached
        if not self._remediating.acquire(blocking=False):
            raise RequestRefused(409, "another remediation is still running; wait for it to finish")
        try:
            target = self.target_factory(active)
            try:
                detail = target.remediate(r.action, **params)
            finally:
                target.close()
            drill_link.log_action(active, spec.kind, {"detail": detail, "deployment": spec.acts_on, "via": "war room",
                                                      **params}, r.actor)  # fmt: skip
        finally:
            self._remediating.release()
        last = [e for e in self.events() if e.type is EventType.action and e.actor == r.actor]
        return last[-1]

    # -- the game master -----------------------------------------------------------------------------------

    def _emit(self, active: ActiveDrill, kind: EventType, actor: str, data: dict[str, Any]) -> Event:
        with JournalWriter(self.journal, active.incident) as writer:
            return writer.emit(kind, actor, data)

    def _scenario(self) -> dict[str, Any]:
        return dict(self.meta().get("scenario") or {})

    def _do_hint(self, r: rq.Hint) -> Event:
        return self._emit(self.require_live(), EventType.hint, r.actor, {"text": r.text})

    def _do_reveal(self, r: rq.Reveal) -> Event:
        active = self.require_live(after_close=True)
        with self._gm:
            events = self.events()
            if any(e.type is EventType.fault_revealed for e in events):
                raise RequestRefused(409, "the fault is already revealed")
            faults = [str(e.data.get("fault")) for e in events if e.type is EventType.fault_injected]
            scenario = self._scenario()
            return self._emit(active, EventType.fault_revealed, r.actor, {
                "fault": ", ".join(dict.fromkeys(faults)) or (scenario.get("fault") or {}).get("type"),
                "title": scenario.get("title"), "scenario": scenario.get("name")})

    def _do_stage(self, r: rq.Stage) -> Event:
        """Inject the scenario's next stage: journaled before the change, reverted with the drill's faults."""
        from gameday.scenario import Fault

        active = self.require_live()
        stages = self._scenario().get("stages") or []
        if r.index >= len(stages):
            raise RequestRefused(422, f"stage: index: the scenario has {len(stages)} stage(s)")
        with self._gm:
            events = self.events()
            if not any(e.type is EventType.fault_injected for e in events):
                raise RequestRefused(409, "the first fault is not injected yet")
            if any(e.type is EventType.fault_injected and e.data.get("stage_index") == r.index for e in events):
                raise RequestRefused(409, f"stage {r.index + 2} is already injected")
            fault = Fault.model_validate(stages[r.index])
            event = self._emit(active, EventType.fault_injected, r.actor, {
                "fault": fault.type.value, "params": fault.params.model_dump(), "target": active.target,
                "stage": r.index + 2, "stage_index": r.index})
            target = self.target_factory(active)
            try:
                record = target.inject(fault, drill_id=active.drill_id)
            finally:
                target.close()
            self._emit(active, EventType.note, "runner", {"text": f"stage {r.index + 2} fault applied",
                                                          "record": record.id, "params": record.params})
            return event

    def _do_end(self, r: rq.EndDrill) -> Event:
        """Journal who ended the drill and why, then stop the runner (which reverts every fault)."""
        active = self.require_live(after_close=True)
        event = self._emit(active, EventType.aborted, r.actor, {"reason": r.reason, "by": "game master"})
        drill_link.stop_runner(active)
        return event
