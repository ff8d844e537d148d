"""Phase 4 in the SimPy engine's journal: the rows a simulated team's communication leaves, from the runbook.

The declaration message (its template's fields), the status page walking the template's statuses, updates to
every channel of the severity in the update template, and the initial and resolution notices for the
severities users are told of; the Communications Lead's writing time is a ``status_update`` draw from the
policy (its own random streams, ``notice``/``resolution_notice``, so no number of the run changes).  Rows only:
:class:`sim.simpy_journal.Recorder` calls these at the incident's moments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gameday.journal import EventType
from gameday.runbook.communication import MessageTemplate, field_key

if TYPE_CHECKING:
    from sim.kernel import Replication
    from sim.model import CompiledModel
    from sim.simpy_plan import Draws

E = EventType
Row = tuple[float, str, EventType, str, dict]


def fill(template: MessageTemplate | None, facts: dict[str, Any]) -> dict[str, Any]:
    """Every field of the template: the fact for its key, else the template's own sample."""
    return {f.key: facts.get(f.key, f.example) for f in template.fields} if template else {}


def clock(minutes: float) -> str:
    """A message's time on the simulated clock ("T+17 min": the journal's start is the run's)."""
    return f"T+{minutes:.0f} min"


class Comms:
    """Per run: the runbook's templates and, per incident, what its status page and updates say now."""

    def __init__(self, model: CompiledModel, columns: Draws, n: int) -> None:
        runbook = model.runbook
        self.comms = runbook.communication
        self.model, self.columns = model, columns
        self.writer = "CL" if "CL" in model.policy.responders.roles else "IC"
        self.phase = ["Investigating"] * n
        self.shown: list[str | None] = [None] * n  # what each status page says now
        self.restored_at: list[float | None] = [None] * n
        #: the declared incidents' severities (the ticket branch posts none of this)
        self.sev: list[str | None] = [None] * n
        statuses = self.comms.status_page_statuses
        self._status = {s.lower(): s for s in statuses}
        self._last_status = statuses[-1] if statuses else None

    def _writing(self, purpose: str, i: int) -> float:
        """The CL's writing time: a ``status_update`` draw from the policy, on a stream of its own."""
        return float(self.columns.q(self.model.policy.steps.status_update, "process", purpose, 0)[i])

    def _channels(self, sev_name: str) -> list[str]:
        return list(self.model.runbook.severity(sev_name).update_channels)

    def _external(self, sev_name: str) -> bool:
        """Users are told of these severities (a simulated incident is taken as one users can see)."""
        return not self.comms.external_severities or sev_name in self.comms.external_severities

    def _page_due(self, sev_name: str) -> bool:
        channels = self._channels(sev_name)
        steps = self.model.runbook.declaration_for(sev_name, True)
        return bool(self._status) and (
            any("status_page" in field_key(ch) for ch in channels) or any(s.kind.value == "status_page" for s in steps)
        )

    def page(self, now: float, name: str, i: int, status: str) -> list[Row]:
        """A status page post when the page shows a new status of the template."""
        wanted, sev_name = self._status.get(status.lower()), self.sev[i]
        if wanted is None or sev_name is None or not self._page_due(sev_name) or self.shown[i] == wanted:
            return []
        self.shown[i] = wanted
        fields = fill(
            self.comms.status_page,
            {"title": f"Incident {name}", "status": wanted, "message": f"{wanted}.", "updated": clock(now)},
        )
        return [(now, name, E.status_page, self.writer, {"status": wanted, "fields": fields})]

    def declared(self, now: float, name: str, i: int, sev_name: str) -> list[Row]:
        """The IC's declaration message, the page's first status, the initial notice once written."""
        rows: list[Row] = []
        self.sev[i] = sev_name
        if self.comms.declaration is not None:
            facts = {
                "severity": sev_name,
                "summary": f"Incident {name}",
                "impact": "users affected",
                "detected": clock(now),
                "war_room": f"#incident-{name}",
            }
            facts |= {field_key(r.abbreviation): r.abbreviation for r in self.model.runbook.roles}
            rows.append(
                (
                    now,
                    name,
                    E.declaration_posted,
                    "IC",
                    {"channel": "#incidents", "fields": fill(self.comms.declaration, facts)},
                )
            )
        rows += self.page(now, name, i, "Investigating")
        if self._external(sev_name) and self.comms.initial_notice is not None:
            interval = self.model.runbook.severity(sev_name).update_interval_minutes
            facts = {
                "current_status": "Investigating",
                "estimated_resolution": f"TBD (next update in {interval:g} minutes)" if interval else "TBD",
            }
            rows.append(
                (
                    now + self._writing("notice", i),
                    name,
                    E.external_notice,
                    self.writer,
                    {"kind": "initial", "fields": fill(self.comms.initial_notice, facts)},
                )
            )
        return rows

    def identified(self, at: float, name: str, i: int) -> list[Row]:
        self.phase[i] = "Identified"
        return self.page(at, name, i, "Identified")

    def restored(self, at: float, name: str, i: int) -> list[Row]:
        self.phase[i], self.restored_at[i] = "Monitoring", at
        return self.page(at, name, i, "Monitoring")

    def update(self, now: float, i: int, k: int, sev_name: str) -> dict[str, Any]:
        """Update #k's data: the severity's channels and the update template's fields."""
        interval = self.model.runbook.severity(sev_name).update_interval_minutes or 0.0
        status = self.phase[i]
        facts = {
            "time": clock(now),
            "number": k,
            "status": status,
            "summary": status.lower(),
            "next_update": clock(now + interval),
            "impact": "users affected",
        }
        return {"n": k, "number": k, "channels": self._channels(sev_name), "fields": fill(self.comms.update, facts)}

    def resolved(self, at: float, name: str, i: int) -> list[Row]:
        """The page's last status and the resolution notice (restore time, root cause, resolution)."""
        sev_name = self.sev[i]
        if sev_name is None:
            return []
        rows = self.page(at, name, i, self._last_status or "")
        if self._external(sev_name) and self.comms.resolution_notice is not None:
            facts = {
                "restored": clock(self.restored_at[i] if self.restored_at[i] is not None else at),
                "root_cause": "found in the investigation",
                "resolution": "the fix that held",
            }
            rows.append(
                (
                    at + self._writing("resolution_notice", i),
                    name,
                    E.external_notice,
                    self.writer,
                    {"kind": "resolution", "fields": fill(self.comms.resolution_notice, facts)},
                )
            )
        return rows


def initial_notices(
    model: CompiledModel, rep: Replication, seed: int, replication: int, chunk: int = 0, salt: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per incident: is an initial notice due (a declared incident of a severity users are told of), and did it
    go out within the runbook's minutes of the declaration (as ``gameday score`` counts them)?  The notice is
    written as the journal writes it: at the declaration plus the CL's ``status_update`` draw from the same
    stream (``sweep`` reports the share)."""
    from sim.streams import Streams

    n = len(rep)
    comms, minutes = model.runbook.communication, model.runbook.external_notification_minutes
    told = [not comms.external_severities or s in comms.external_severities for s in model.severities]
    due = np.isfinite(rep.declared) & np.asarray(told, dtype=bool)[rep.severity] if n else np.zeros(0, bool)
    if minutes is None or comms.initial_notice is None:
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    writing = model.policy.steps.status_update.ppf(
        Streams(seed, replication, n, salt, chunk).u("process", "notice").col(0)
    )
    in_time = due & (writing <= minutes)
    return due, in_time
