"""The notifier: follows a drill's journal and delivers its communication events, off the drill's threads.

Responders, the war room and the autopilot write messages to the journal from several processes, so the
notifier reads the journal (:class:`~drills.observers.journal_tail.JournalTail`) instead of hooking any
writer.  Each sink has its own worker thread and queue: a slow or dead sink delays only itself, each attempt
is bounded by ``timeout_seconds``, and a failure is journaled as a ``note`` (actor ``notify``) naming the
sink, the event and the reason, with the sink's secrets masked.  Nothing here ever raises into the drill.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from drills.notify.config import NotifyConfig, ResolvedSink, StatusPageSink, runbook_channels
from drills.notify.messages import COMMUNICATION, Message, channels_of, message_for
from drills.notify.sinks import DeliveryError, Sink, StatusPageDelivery, open_sink
from drills.observers.journal_tail import JournalTail
from drills.warroom.communicate import channels_named
from gameday.errors import GamedayError, InputError
from gameday.journal import EventType, JournalWriter
from gameday.runbook.model import Runbook

#: How often the journal is read (wall seconds).
POLL_S = 0.1
#: The actor of the notifier's own journal lines.
ACTOR = "notify"
_STOP = object()


@dataclass
class Delivered:
    """Counts for the end-of-drill line."""

    sent: int = 0
    failed: int = 0


class Notifier:
    """Sinks by channel, one worker each; :meth:`follow` a journal, :meth:`stop` to drain and close."""

    def __init__(self, sinks: list[Sink], timeout: float, echo: Callable[[str], object] | None = None,
                 declaration_channels: list[str] | None = None, known_channels: list[str] | None = None) -> None:
        self.sinks = sinks
        self.known_channels = set(known_channels or [])  # the runbook's
        #: Where a declaration that names no runbook channel goes: the channels its template's name names
        #: ("Slack Incident Declaration" -> Slack); its ``channel`` is then the chat room, e.g. #incidents.
        self.declaration_channels = declaration_channels or []
        self.timeout = timeout
        self.echo = echo or (lambda _text: None)
        self.counts = Delivered()
        self._queues: list[queue.Queue[object]] = [queue.Queue() for _ in sinks]
        self._workers = [threading.Thread(target=self._work, args=(i,), name=f"notify-{i + 1}", daemon=True)
                         for i in range(len(sinks))]
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._journal: Path | None = None
        self._incident = ""
        self._lock = threading.Lock()

    # -- opening -----------------------------------------------------------------------------------------

    @classmethod
    def open(cls, config: NotifyConfig, path: str | Path, runbook: Runbook, *, env: Mapping[str, str] | None = None,
             echo: Callable[[str], object] | None = None) -> Notifier:
        """Check the file against the runbook and the environment, then open every sink (a status page starts
        serving).  Refuses in one line, naming file and field, before anything is sent or a drill starts."""
        try:
            config.check_against(runbook)
        except InputError as exc:
            raise InputError(path, exc.field, exc.problem) from None
        resolved = config.resolve(path, env)
        opened: list[Sink] = []
        try:
            for sink in resolved:
                opened.append(open_sink(sink, config.timeout_seconds))
        except BaseException:
            for sink in opened:
                sink.close()
            raise
        known = runbook_channels(runbook)
        template = runbook.communication.declaration
        implied = channels_named(template.name, known) if template is not None else []
        return cls(opened, config.timeout_seconds, echo, implied, known)

    def describe(self) -> list[str]:
        """One line per sink, no secret: ``Slack: webhook``, ``Status Page: status page at http://...``."""
        out = []
        for sink in self.sinks:
            spec = sink.resolved.spec
            where = f" at {sink.url}" if isinstance(sink, StatusPageDelivery) else ""
            out.append(f"{spec.channel}: {spec.type.replace('_', ' ')}{where}")
        return out

    # -- following a journal -----------------------------------------------------------------------------

    def follow(self, journal: str | Path, incident: str) -> Notifier:
        """Start delivering the communication events of ``journal`` (from its first line)."""
        self._journal, self._incident = Path(journal), incident
        for worker in self._workers:
            worker.start()
        self._follower = threading.Thread(target=self._follow, name="notify-follow", daemon=True)
        self._follower.start()
        self._note(f"notify: delivering to {'; '.join(self.describe())}", delivery="started")
        return self

    def attach_to_this_process(self, poll_s: float = 0.2) -> Notifier:
        """Follow the drill this process runs once its runner has written the journal's first line (the
        runner needs no notify code; the war room attaches the same way)."""

        def wait() -> None:
            from drills.warroom.drill_link import drill_of_this_process

            while not self._stop.wait(poll_s):
                active = drill_of_this_process()
                if active is not None:
                    self.follow(active.journal, active.incident)
                    return

        threading.Thread(target=wait, name="notify-attach", daemon=True).start()
        return self

    def _follow(self) -> None:
        assert self._journal is not None
        tail = JournalTail(self._journal)
        severity: str | None = None
        stopping = False
        while True:
            stopping = self._stop.is_set()
            for event in tail.new_events():
                if event.type is EventType.severity_declared:
                    severity = str(event.data.get("severity") or "") or None
                if event.type not in COMMUNICATION:
                    continue
                named = set(channels_of(event))
                if event.type is EventType.declaration_posted and not named & self.known_channels:
                    named |= set(self.declaration_channels)
                message = message_for(event, severity, event.incident)
                for i, sink in enumerate(self.sinks):
                    implied = event.type is EventType.status_page and isinstance(sink.resolved.spec, StatusPageSink)
                    if sink.resolved.spec.channel in named or implied:
                        self._queues[i].put(message)
            if stopping:  # one last read after stop was asked, so a message written just before is sent
                return
            time.sleep(POLL_S)

    def _work(self, index: int) -> None:
        sink, inbox = self.sinks[index], self._queues[index]
        while True:
            item = inbox.get()
            if item is _STOP:
                return
            assert isinstance(item, Message)
            try:
                sink.deliver(item)
            except DeliveryError as exc:
                self._failed(sink.resolved, item, str(exc))
            except Exception as exc:  # a bug in a sink must not end delivery to the others
                self._failed(sink.resolved, item, sink.resolved.scrub(f"{type(exc).__name__}: {exc}"))
            else:
                with self._lock:
                    self.counts.sent += 1

    def _failed(self, resolved: ResolvedSink, message: Message, reason: str) -> None:
        with self._lock:
            self.counts.failed += 1
        reason = resolved.scrub(reason)[:300]
        self._note(f"notify: {resolved.label} could not deliver {message.kind} #{message.seq}: {reason}",
                   delivery="failed", channel=resolved.spec.channel, sink=resolved.index + 1,
                   event_seq=message.seq, event_type=message.kind, reason=reason)

    def _note(self, text: str, **data: object) -> None:
        """Journal what the notifier did; a journal that cannot be written is told on stderr, never raised."""
        if self._journal is None:
            return
        try:
            with JournalWriter(self._journal, self._incident) as writer:
                writer.emit(EventType.note, ACTOR, {"text": text, **data})
        except GamedayError as exc:
            self.echo(f"notify: could not journal: {exc}")

    # -- stopping ------------------------------------------------------------------------------------------

    def stop(self, drain_s: float | None = None) -> Delivered:
        """Read the journal one last time, give queued deliveries up to ``drain_s`` (default: two attempts'
        timeout) to finish, then close every sink.  Returns what was sent and what failed."""
        self._stop.set()
        if self._follower is not None:
            self._follower.join(5)
        deadline = time.monotonic() + (2 * self.timeout + 1 if drain_s is None else drain_s)
        for inbox in self._queues:
            inbox.put(_STOP)
        for worker in self._workers:
            if worker.is_alive():
                worker.join(max(0.0, deadline - time.monotonic()))
        busy = [s.resolved.label for s, w in zip(self.sinks, self._workers, strict=True) if w.is_alive()]
        if busy:
            self.echo(f"notify: gave up on what was still queued for {', '.join(busy)}")
        for sink in self.sinks:
            with contextlib.suppress(Exception):
                sink.close()
        return self.counts
