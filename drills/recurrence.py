"""The scenario's recurrence (Step 3.3, "if the problem comes back while you watch → go back to Phase 2"): its
staged fault injected by the runner itself, a set number of runbook minutes after the team first verified the
service, so a drill can test whether the team resolves anyway.

Injected as the war room's game master injects a stage: ``fault_injected`` (with the stage's index) is journaled
before the change, and the fault carries the drill's id, so the runner's end (or the next start's recovery after
``kill -9``) reverts it with the drill's other faults.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gameday.journal import EventType, read_journal
from gameday.scenario import Fault

if TYPE_CHECKING:
    from drills.targets.base import Target
    from gameday.journal import JournalWriter
    from gameday.scenario import Scenario

ACTOR = "game-master"
#: Wall seconds between looks at the journal for the first ``verified``.
LOOK_EVERY_S = 0.5


class RecurrenceClock:
    """Call :meth:`tick` from the runner's watch loop; it does nothing unless the scenario has a recurrence."""

    def __init__(self, scenario: Scenario, target: Target, journal: JournalWriter, drill_id: str,
                 time_scale: float) -> None:
        self.scenario, self.target, self.journal = scenario, target, journal
        self.drill_id, self.time_scale = drill_id, time_scale
        self.done = scenario.recurrence is None
        self._due: float | None = None
        self._next_look = 0.0

    def tick(self) -> None:
        recurrence = self.scenario.recurrence
        if self.done or recurrence is None:
            return
        now = time.monotonic()
        if self._due is None:
            if now < self._next_look:
                return
            self._next_look = now + LOOK_EVERY_S
            if any(e.type is EventType.verified for e in read_journal(self.journal.path)):
                self._due = now + recurrence.after_verified_minutes * 60.0 / self.time_scale
            return
        if now < self._due:
            return
        self.done = True
        fault: Fault = self.scenario.stages[recurrence.stage]
        self.journal.emit(EventType.fault_injected, ACTOR, {
            "fault": fault.type.value, "params": fault.params.model_dump(), "target": self.target.name,
            "stage": recurrence.stage + 2, "stage_index": recurrence.stage, "recurrence": True})
        record = self.target.inject(fault, drill_id=self.drill_id)
        self.journal.emit(EventType.note, "runner", {"text": f"stage {recurrence.stage + 2} fault applied "
                                                             "(the problem comes back)",
                                                     "record": record.id, "params": record.params})
