"""The event journal: one JSON Lines vocabulary for simulated and live incidents.

Scoring, reports and notebooks read journals and never care whether a simulator or a drill wrote them.
Each line is one :class:`Event`.  Writes are flushed and fsynced per event (when ``durable``), so a
process killed with SIGKILL loses nothing it already reported; a torn last line is skipped on load.

Clocks: ``t`` is seconds since the journal started on the writer's clock (wall clock for drills,
simulated clock for the simulator); ``time_scale`` in the ``journal_started`` event says how many
runbook seconds one such second stands for (drills compress time, the simulator uses 1).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from gameday.errors import JournalError, from_validation_error

if TYPE_CHECKING:
    import pandas as pd


class EventType(StrEnum):
    """The journal's vocabulary.  Add new types here, never as free strings."""

    journal_started = "journal_started"  # data: source (sim|drill), time_scale, runbook, scenario, ...
    drill_started = "drill_started"
    steady_state = "steady_state"  # data: ok, checks
    incident_started = "incident_started"  # sim: the fault begins; data: severity
    fault_injected = "fault_injected"  # data: fault, params
    # the fault's runbook clock starts later than its injection by what cannot be scaled (kind: the leaking
    # release took longer to serve than the runbook's rollout); data: fault, unscaled_seconds (wall)
    fault_active = "fault_active"
    fault_reverted = "fault_reverted"  # data: fault, ok
    alert_firing = "alert_firing"  # data: alertname, labels, severity
    alert_resolved = "alert_resolved"
    detected = "detected"  # data: via (alert|user_report|dashboard|health_check)
    paged = "paged"  # data: who, level
    acknowledged = "acknowledged"
    severity_declared = "severity_declared"  # data: severity ("SEV-1"), level (1)
    ticket_created = "ticket_created"  # SEV-3/4 path of the workflow
    role_assigned = "role_assigned"  # data: role (IC|TL|CL|SME), person
    war_room_created = "war_room_created"  # data: channel
    escalated = "escalated"  # data: level, role
    notified = "notified"  # business escalation (the runbook's list); data: who, [channel, message]
    status_update = "status_update"  # data: message, channels, [number, fields: update template, by field key]
    declaration_posted = "declaration_posted"  # the declaration message; data: channel, fields (its template's)
    external_notice = "external_notice"  # users told; data: kind (initial|resolution), channels, subject, fields
    status_page = "status_page"  # the status page; data: status (the template's), fields (title, message, ...)
    hypothesis = "hypothesis"  # data: text
    action = "action"  # data: kind (rollback|restart|scale|hotfix|...), target, detail
    mitigated = "mitigated"
    verified = "verified"  # data: checks claimed
    resolved = "resolved"
    closed = "closed"
    postmortem_filed = "postmortem_filed"  # data: path
    metric_sample = "metric_sample"  # data: error_rate, p95_seconds, pool_in_use, ...
    replica_state = "replica_state"  # data: name, state, restarts
    step_started = "step_started"  # sim: a workflow step begins; data: step
    step_finished = "step_finished"
    aborted = "aborted"  # data: reason
    drill_ended = "drill_ended"  # data: outcome
    note = "note"
    hint = "hint"  # the game master's hint to the responders (war room); data: text.  Scoring counts them.
    fault_revealed = "fault_revealed"  # the game master names the fault (blind drills); data: fault, title


def utc_iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``: sortable, unambiguous, readable."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


#: A template's filled-in fields, by field key: the runbook label in lower snake case ("War Room" -> war_room).
TemplateFields = dict[str, str | int | float]


class _Data(BaseModel):
    """The data of a communication event: typed so a drill, the war room and the simulator write one shape."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    message: str | None = None
    channels: list[str] = Field(default_factory=list, description="where it went: the runbook's channel names")
    fields: TemplateFields = Field(default_factory=dict, description="the runbook template's fields, filled in")
    step: str | None = Field(default=None, description="the declaration step it carries out, if one")


class StatusUpdateData(_Data):
    """Older journals carry their own extras (the simulator's ``n``, a declaration step's ``step``)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    number: int | None = Field(default=None, ge=0)


class DeclarationPostedData(_Data):
    channel: str | None = None


class ExternalNoticeData(_Data):
    kind: Literal["initial", "resolution"]
    subject: str | None = None


class StatusPageData(_Data):
    status: str = Field(min_length=1, description="one of the status page template's statuses")


class NotifiedData(_Data):
    who: str = Field(min_length=1, description="whom the business escalation told (the runbook's list)")
    after_minutes: float | None = Field(default=None, ge=0, description="the runbook's time for them")
    channel: str | None = None


#: The typed data of the events that carry messages; every journal line of these types is checked on write
#: and on read (a bad one names the line and the field).
EVENT_DATA: dict[EventType, type[_Data]] = {
    EventType.status_update: StatusUpdateData,
    EventType.declaration_posted: DeclarationPostedData,
    EventType.external_notice: ExternalNoticeData,
    EventType.status_page: StatusPageData,
    EventType.notified: NotifiedData,
}


class Event(BaseModel):
    """One journal line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: datetime = Field(description="UTC timestamp of the event (wall or simulated clock)")
    t: float = Field(allow_inf_nan=False, description="seconds since the journal started, on the writer's clock")
    seq: int = Field(ge=0, description="position in the journal; ties in t keep their order")
    incident: str = Field(min_length=1, description="incident or drill id")
    type: EventType
    actor: str = Field(min_length=1, description="who did it: system, alertmanager, autopilot, a person")
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("data")
    @classmethod
    def _typed_data(cls, data: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Events with a data model (:data:`EVENT_DATA`) must fit it: a notice without its kind is refused."""
        model = EVENT_DATA.get(info.data.get("type"))  # type: ignore[arg-type]
        if model is not None:
            try:
                model.model_validate(data)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error["loc"])
                raise ValueError(f"{where}: {error['msg']}") from None
        return data

    def to_json(self) -> str:
        body = self.model_dump(mode="json")
        body["ts"] = utc_iso(self.ts)
        return json.dumps(body, separators=(",", ":"), sort_keys=False, default=str)


class JournalWriter:
    """Append-only writer; thread-safe because drills write from the webhook, the sampler and the CLI.

    Parameters
    ----------
    path:
        The ``.jsonl`` file; created with its parent folder, appended to if it exists.
    incident:
        Default incident id for events that do not name one.
    durable:
        fsync after every event (drills).  The simulator may turn it off for bulk output, where a lost
        tail is recomputed from the seed anyway.  Durable writers also take an exclusive ``flock`` per
        event and count lines other processes appended meanwhile, so several processes (the drill
        runner, ``gameday drill log``, ``gameday sandbox rollout``) can share one journal with unique,
        file-ordered ``seq`` numbers.  A durable event is written whole or not at all: a write that fails
        (disk full) is cut back off and raises :class:`JournalError`, and half a line left by a writer that
        was killed mid-write is moved aside to ``<journal>.torn`` before the next event, so every line of
        the journal stays parseable.
    clock:
        Returns "now" as a datetime; the simulator passes a simulated clock.
    """

    def __init__(
        self,
        path: str | Path,
        incident: str,
        *,
        durable: bool = True,
        start: datetime | None = None,
        clock: Any = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.incident = incident
        self.durable = durable
        self._clock = clock or (lambda: datetime.now(UTC))
        self.start = start or self._existing_start() or self._clock()
        self._lock = threading.Lock()
        #: The first write that failed (``None`` while all went well), for drills to notice and stop.
        self.failure: JournalError | None = None
        self._fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in close(); read: _catch_up
        # Count up to the size we start from, not to whatever the file holds when we read it: a line another
        # writer appends in between is then counted once, by _catch_up, instead of never.
        self._seq, self._offset = self._count_existing(os.fstat(self._fh.fileno()).st_size)

    def now(self) -> datetime:
        """The journal's clock: what an event written now would carry (for one stamped later, ``at=``)."""
        return self._clock()

    def _existing_start(self) -> datetime | None:
        """When appending to a journal another process started, keep its clock origin so ``t`` agrees."""
        try:
            with open(self.path, encoding="utf-8") as fh:
                first = fh.readline()
            if not first.endswith("\n"):
                return None
            event = Event.model_validate_json(first)
            return event.ts - timedelta(seconds=event.t)
        except (OSError, ValueError):
            return None

    def _count_existing(self, size: int) -> tuple[int, int]:
        """Complete lines in the first ``size`` bytes, and the bytes they take (read in chunks: journals can
        be large); a torn tail after them is not counted and is set aside by the next write."""
        lines = complete = done = 0
        with open(self.path, "rb") as fh:
            while done < size:
                chunk = fh.read(min(size - done, 1 << 20))
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                last = chunk.rfind(b"\n")
                if last >= 0:
                    complete = done + last + 1
                done += len(chunk)
        return lines, complete

    def emit(
        self,
        type: EventType | str,
        actor: str = "system",
        data: dict[str, Any] | None = None,
        *,
        incident: str | None = None,
        at: datetime | None = None,
        t: float | None = None,
    ) -> Event:
        """Write one event now (or at ``at`` / ``t`` seconds since start) and return it."""
        with self._lock:
            if at is None:
                at = self.start + timedelta(seconds=t) if t is not None else self._clock()
            if t is None:
                t = (at - self.start).total_seconds()
            fd = self._fh.fileno()
            if self.durable:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if self.durable:
                    self._catch_up(fd)
                event = Event(
                    ts=at,
                    t=round(t, 6),
                    seq=self._seq,
                    incident=incident or self.incident,
                    type=EventType(type),
                    actor=actor,
                    data=data or {},
                )
                line = event.to_json() + "\n"
                if self.durable:
                    self._append_whole(fd, line.encode("utf-8"), event)
                else:
                    self._fh.write(line)
                    self._fh.flush()
                    self._offset += len(line.encode("utf-8"))
                self._seq += 1
            finally:
                if self.durable:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            return event

    def _append_whole(self, fd: int, data: bytes, event: Event) -> None:
        """Write and fsync the line, or cut the file back to where it was and raise (called under the flock)."""
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._offset)
            error = JournalError(self.path, None, f"cannot append {event.type.value} (seq {event.seq}): "
                                                  f"{exc.strerror or exc}; every earlier event is intact")
            self.failure = self.failure or error
            raise error from None
        self._offset += len(data)

    def _catch_up(self, fd: int) -> None:
        """Count the lines other processes appended since our last write, and move aside half a line a
        killed writer left at the end (called under the flock, so no live writer is mid-line)."""
        size = os.fstat(fd).st_size
        if size <= self._offset:
            return
        fresh = os.pread(fd, size - self._offset, self._offset)
        complete = fresh.rfind(b"\n") + 1
        if complete < len(fresh):
            self._set_aside(fresh[complete:])
            os.ftruncate(fd, self._offset + complete)
        self._seq += fresh.count(b"\n", 0, complete)
        self._offset += complete

    def _set_aside(self, fragment: bytes) -> None:
        """Keep a torn fragment (never a whole event: its writer died before finishing it) for forensics."""
        with contextlib.suppress(OSError), open(f"{self.path}.torn", "ab") as fh:
            fh.write(fragment + b"\n")

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                with contextlib.suppress(OSError):  # nothing is buffered for durable writers; a full disk
                    self._fh.flush()                # must not turn closing into a second failure
                    os.fsync(self._fh.fileno())
                self._fh.close()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_events(path: str | Path) -> Iterator[Event]:
    """Yield every complete event.  A torn final line (writer killed mid-write) is skipped;
    a bad line anywhere else is an error naming the file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JournalError(path, None, f"cannot read journal: {exc.strerror or exc}") from None
    lines = raw.split(b"\n")
    torn_tail = not raw.endswith(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        is_last = number == len(lines)
        try:
            body = json.loads(line)
            event = Event.model_validate(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if is_last and torn_tail:
                return
            raise JournalError(path, f"line {number}", "not a JSON object") from None
        except ValidationError as exc:
            if is_last and torn_tail:
                return
            err = from_validation_error(path, exc)
            raise JournalError(path, f"line {number}: {err.field}", err.problem) from None
        if event.type is EventType.journal_started and not _valid_scale(event.data.get("time_scale")):
            scale = event.data["time_scale"]
            raise JournalError(path, f"line {number}: data.time_scale",
                               f"must be a positive number (runbook seconds per second), not {scale!r}")
        yield event


def _valid_scale(value: object) -> bool:
    """``time_scale`` converts every clock in the journal: absent/null (= 1) or a positive finite number."""
    if value is None:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def read_journal(path: str | Path) -> list[Event]:
    return list(iter_events(path))


def journal_meta(events: Iterable[Event]) -> dict[str, Any]:
    """The ``journal_started`` data (source, time_scale, scenario, ...) or defaults."""
    for event in events:
        if event.type is EventType.journal_started:
            return dict(event.data)
    return {"time_scale": 1.0}


FRAME_COLUMNS = ["source", "journal", "incident", "seq", "ts", "t", "runbook_minutes", "type", "actor", "data"]


def events_frame(events: Iterable[Event], *, journal: str = "", source: str | None = None) -> pd.DataFrame:
    """Tidy table: one row per event, ``runbook_minutes`` already scaled, ``data`` kept as a dict column."""
    import pandas as pd

    events = list(events)
    meta = journal_meta(events)
    scale = float(meta.get("time_scale", 1.0) or 1.0)
    rows = [
        {
            "source": source or meta.get("source", "unknown"),
            "journal": journal,
            "incident": e.incident,
            "seq": e.seq,
            "ts": e.ts,
            "t": e.t,
            "runbook_minutes": e.t * scale / 60.0,
            "type": e.type.value,
            "actor": e.actor,
            "data": e.data,
        }
        for e in events
    ]
    frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def load_frame(*paths: str | Path) -> pd.DataFrame:
    """Load one or more journals into one tidy DataFrame (the one call notebooks need)."""
    import pandas as pd

    frames = [events_frame(iter_events(p), journal=Path(p).stem) for p in paths]
    if not frames:
        return events_frame([])
    return pd.concat(frames, ignore_index=True)


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a journal table as Parquet or CSV (by suffix); ``data`` is stored as JSON text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    if "data" in out.columns:
        out["data"] = out["data"].map(lambda d: json.dumps(d, sort_keys=True, default=str))
    if path.suffix == ".parquet":
        out.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        out.to_csv(path, index=False)
    else:
        raise JournalError(path, None, "unknown table format; use .parquet or .csv")
    return path
