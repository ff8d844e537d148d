"""One namespace's objects of one kind, kept current by list-then-watch (what client-go calls an informer).

Two users: the in-cluster helpers (gateway, cluster exporter) keep a current list of objects with
:class:`WatchedList` (they used to re-list every 0.5-1 s: steady CPU in the API server and the pods on a 2-core
machine that also runs the drills); the drill's kubectl watch (drills/k8s/watch.py) runs four :class:`Informer`
whose handlers decide who made each change (drills/k8s/attribution.py).  This file also runs in the app images,
so it imports nothing of gameday's.

How: list once and hand every object to the handler as ``PRIME`` (filling the store), then watch from the
listing's resourceVersion.  When a watch ends (the server closes it after ``watch_seconds``), the connection
drops or the API server restarts, the next one resumes from the last resourceVersion it handled; only when
the server no longer has that version (410 Gone) does it list again, diffing the listing against the store and
handing what changed meanwhile to the handler as the events it missed (``GONE``: an object the listing no
longer has).  What no client can see: an object created *and* deleted while the watch was away for longer
than the API server keeps its history.

A change is committed (the store updated, its resourceVersion the one to resume from) only after the handler
returned.  A handler that raises is reported to the listener and sees the same change again when the watch
resumes from the last committed version (or lists again, on 410), so what it would have recorded is not lost;
after ``handler_attempts`` failures in a row on one object the informer commits that change unhandled and says
so.  401/403 ends the informer (:meth:`Listener.refused`).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: WatchedList: the server ends each watch after this long (seconds); the next one resumes from where it was.
WATCH_TIMEOUT_S = 120
#: WatchedList: pause after an error before trying again (seconds).
RETRY_S = 1.0
#: Event types a handler sees: the API's, plus PRIME (the first listing, to be cached silently) and GONE (an
#: object a re-list no longer finds: deleted while the watch was away).
PRIME, GONE = "PRIME", "GONE"
DELETIONS = ("DELETED", GONE)
#: Failures in a row of one object's handler before its change is committed unhandled.
HANDLER_ATTEMPTS = 5

#: ``handler(event type, object, the object as last committed or None)``.
Handler = Callable[[str, Any, Any], None]


def name_of(obj: Any) -> str:
    """The object's name, raw JSON or client model."""
    if isinstance(obj, dict):
        return str((obj.get("metadata") or {}).get("name") or "")
    return str(obj.metadata.name)


def version_of(obj: Any) -> str:
    """The object's resourceVersion, raw JSON or client model ("" for none)."""
    if obj is None:
        return ""
    if isinstance(obj, dict):
        return str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return str(getattr(obj.metadata, "resource_version", None) or "")


def describe_error(exc: BaseException) -> str:
    """One line for a failure: the API's status and reason, or the exception's type and first line."""
    status = getattr(exc, "status", None)
    if status:
        return f"{status} {getattr(exc, 'reason', '') or ''}".strip()
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def is_refused(exc: BaseException) -> bool:
    """401/403 from the API: asking again will not help."""
    from kubernetes.client.exceptions import ApiException

    return isinstance(exc, ApiException) and exc.status in (401, 403)


@functools.cache  # made on first use: the kubernetes client is imported lazily
def _raw_watch_class() -> type:
    from kubernetes import watch

    class RawWatch(watch.Watch):  # type: ignore[misc]
        """The client's watch, its events left as parsed JSON (``raw_object``), which is all the kubectl watch's
        handlers read.

        The client otherwise turns every event into model objects: 10.7 ms a pod on a quiet machine against
        0.4 ms for the JSON, all of it holding the GIL.  A rollout's hundred pod, ReplicaSet and Event updates
        cost seconds of it on a loaded machine: the likely reason a person's ``kubectl scale`` right after a
        rollout was journaled 2.5-4.4 s late in two CI runs.  (``deserialize=False`` would skip the models
        too, but turns the server's 410 into a KeyError in the client.)
        """

        def get_return_type(self, func: Any) -> None:
            return None

    return RawWatch


class Store:
    """An informer's objects by name, as last committed (safe to read from any thread)."""

    def __init__(self) -> None:
        self._objects: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Any:
        with self._lock:
            return self._objects.get(name)

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._objects.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._objects)

    def put(self, obj: Any) -> None:
        with self._lock:
            self._objects[name_of(obj)] = obj

    def remove(self, name: str) -> None:
        with self._lock:
            self._objects.pop(name, None)


@dataclass
class Outage:
    """Failures in a row of one informer's requests (dropped connections, API server restarts, 410s)."""

    error: str
    since: float = field(default_factory=time.monotonic)
    attempts: int = 1

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self.since, 2)


class Listener:
    """What an informer reports.  These defaults log: a pod's log gets the warnings."""

    def listed(self, informer: Informer) -> None:
        """The first listing is in the store (PRIME handled for every object)."""

    def interrupted(self, informer: Informer, outage: Outage, version: str | None) -> None:
        """The first failure of an outage (every one is logged)."""

    def back(self, informer: Informer, outage: Outage) -> None:
        log.info("watch %s: back after %g s (%d failed attempts)", informer.what, outage.seconds, outage.attempts)

    def refused(self, informer: Informer, exc: BaseException) -> None:
        log.error("watch %s: the API refused it (%s); it has stopped", informer.what, describe_error(exc))

    def handler_failed(self, informer: Informer, failure: HandlerFailed, attempt: int, *, gave_up: bool) -> None:
        """Logged by the informer already; ``gave_up``: the change was committed unhandled."""

    def handled_late(self, informer: Informer, kind: str, name: str, attempts: int) -> None:
        """A change whose handler failed before was handled on attempt ``attempts``."""


class HandlerFailed(Exception):
    """A handler raised on a change; the change is not committed."""

    def __init__(self, kind: str, obj: Any, cause: BaseException) -> None:
        super().__init__(f"{kind} of {name_of(obj)}")
        self.kind, self.obj, self.cause = kind, obj, cause

    @property
    def name(self) -> str:
        return name_of(self.obj)


class Informer:
    """``lister(*args, **kwargs)``'s objects (a ``list_namespaced_*`` call), kept in :attr:`store` and handed to
    ``handler`` change by change, in the API server's order, on one daemon thread (see the module docstring).

    ``raw``: objects are parsed JSON (dicts), else the client's models.  ``watch_seconds`` None: the module's
    WATCH_TIMEOUT_S when each watch opens.  ``on_change`` runs after each committed change (not PRIME).
    """

    def __init__(self, what: str, lister: Callable[..., Any], *args: Any, handler: Handler | None = None,
                 store: Store | None = None, listener: Listener | None = None, stop: threading.Event | None = None,
                 raw: bool = True, watch_seconds: float | None = None, connect_s: float = 5.0,
                 list_timeout_s: float = 30.0, retry_first_s: float = 0.2, retry_max_s: float = 2.0,
                 handler_attempts: int = HANDLER_ATTEMPTS, on_change: Callable[[], None] | None = None,
                 thread_name: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        self.what = what
        self.lister, self.args, self.kwargs = lister, args, kwargs
        self.handler = handler or (lambda kind, obj, old: None)
        self.store = store if store is not None else Store()
        self.listener = listener or Listener()
        self.stop_event = stop or threading.Event()
        self.raw = raw
        self.watch_seconds = watch_seconds
        self.connect_s, self.list_timeout_s = connect_s, list_timeout_s
        self.retry_first_s, self.retry_max_s = retry_first_s, retry_max_s
        self.handler_attempts = handler_attempts
        self.on_change = on_change
        self.thread_name = thread_name or f"watch {what}"
        self._thread: threading.Thread | None = None
        #: Failures in a row of the handler, by object name (cleared when the object's change is committed).
        self._failures: dict[str, int] = {}

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Informer:
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """The thread ends at its watch's next event or end (``watch_seconds`` at most)."""
        self.stop_event.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # ---------------------------------------------------------------- the loop
    def run(self) -> None:
        """List once (PRIME), then watch from there, resuming from the last committed resourceVersion after
        any failure and listing again (diffing, not priming) only on 410."""
        from kubernetes.client.exceptions import ApiException

        version: str | None = None  # the last committed resourceVersion (None: list first)
        primed = False
        outage: Outage | None = None  # the failure being ridden out, if any
        delay = self.retry_first_s
        while not self.stop_event.is_set():
            try:
                if version is None:
                    version = self._list(prime=not primed)
                    if not primed:
                        primed = True
                        self.listener.listed(self)
                for kind, obj, raw in self._stream(version):
                    if outage is not None:
                        outage = self._back(outage)
                        delay = self.retry_first_s
                    if kind != "BOOKMARK":
                        self._deliver(kind, obj)
                    version = version_of(raw) or version
                    if self.stop_event.is_set():
                        return
                if outage is not None:  # a stream that ended cleanly after a failure: we are back
                    outage = self._back(outage)
                    delay = self.retry_first_s
            except HandlerFailed as failure:
                if is_refused(failure.cause):
                    self.listener.refused(self, failure.cause)
                    return
                if self._handler_failed(failure, version) and version is not None:
                    version = version_of(failure.obj) or version  # given up: resume after that change
            except ApiException as exc:
                if exc.status in (401, 403):
                    self.listener.refused(self, exc)
                    return
                if exc.status == 410:  # the server forgot our version: list again and diff
                    version = None
                outage = self._failed(exc, outage, version)
            except Exception as exc:  # dropped connection, API server restarting, a malformed answer
                outage = self._failed(exc, outage, version)
            else:
                continue
            if self.stop_event.wait(delay):
                return
            delay = min(delay * 2, self.retry_max_s)

    def _deliver(self, kind: str, obj: Any) -> None:
        """Hand one change to the handler; commit it only once the handler returned."""
        name = name_of(obj)
        try:
            self.handler(kind, obj, self.store.get(name))
        except Exception as exc:  # reported and retried by run(); the change stays uncommitted
            raise HandlerFailed(kind, obj, exc) from exc
        self._commit(kind, obj)
        attempts = self._failures.pop(name, 0)
        if attempts:
            self.listener.handled_late(self, kind, name, attempts + 1)

    def _commit(self, kind: str, obj: Any) -> None:
        if kind in DELETIONS:
            self.store.remove(name_of(obj))
        else:
            self.store.put(obj)
        if kind != PRIME and self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # the store is current; what the caller derives from it is its own to fix
                log.exception("watch %s: on_change failed", self.what)

    def _handler_failed(self, failure: HandlerFailed, version: str | None) -> bool:
        """Log and report; True when the change was committed unhandled after too many attempts."""
        attempt = self._failures.get(failure.name, 0) + 1
        gave_up = attempt >= self.handler_attempts
        log.error("watch %s: handling %s failed (attempt %d): %s; %s", self.what, failure, attempt,
                  describe_error(failure.cause),
                  "giving up on that change" if gave_up else f"it is handled again from resourceVersion "
                  f"{version or '(a new listing)'}", exc_info=failure.cause)  # fmt: skip
        if gave_up:
            self._failures.pop(failure.name, None)
            self._commit(failure.kind, failure.obj)
        else:
            self._failures[failure.name] = attempt
        self.listener.handler_failed(self, failure, attempt, gave_up=gave_up)
        return gave_up

    def _failed(self, exc: BaseException, outage: Outage | None, version: str | None) -> Outage:
        """Log every failure; report the first of an outage (its end is reported too)."""
        what = describe_error(exc)
        log.warning("watch %s: %s (resuming from %s)", self.what, what, version or "a new listing")
        if outage is not None:
            outage.attempts += 1
            return outage
        outage = Outage(error=what)
        self.listener.interrupted(self, outage, version)
        return outage

    def _back(self, outage: Outage) -> None:
        self.listener.back(self, outage)
        return None

    # ---------------------------------------------------------------- requests
    def _fetch(self) -> tuple[dict[str, Any], str]:
        """The objects by name and the listing's resourceVersion."""
        timeout = (self.connect_s, self.list_timeout_s)
        if self.raw:
            response = self.lister(*self.args, **self.kwargs, _preload_content=False, _request_timeout=timeout)
            listing = json.loads(response.data)
            items = listing.get("items") or []
            version = str(listing["metadata"]["resourceVersion"])
        else:
            listing = self.lister(*self.args, **self.kwargs, _request_timeout=timeout)
            items = listing.items or []
            version = str(listing.metadata.resource_version)
        return {name_of(item): item for item in items}, version

    def _list(self, *, prime: bool) -> str:
        """List the resource; the first time hand every object over as PRIME, later every difference from the
        store as the event it stands for.  Returns the listing's resourceVersion."""
        objects, version = self._fetch()
        before = self.store.snapshot()
        if prime:  # a listing after a failed one primes only what is not committed yet
            for name in before.keys() - objects.keys():
                self.store.remove(name)
            for name, obj in objects.items():
                if name not in before or version_of(before[name]) != version_of(obj):
                    self._deliver(PRIME, obj)
            return version
        changed = [obj for name, obj in objects.items()
                   if name in before and version_of(before[name]) != version_of(obj)]  # fmt: skip
        gone = [obj for name, obj in before.items() if name not in objects]
        new = [obj for name, obj in objects.items() if name not in before]
        for obj in changed:
            self._deliver("MODIFIED", obj)
        for obj in gone:  # judged before the new objects (the replacements) are in the store
            self._deliver(GONE, obj)
        for obj in new:
            self._deliver("ADDED", obj)
        if changed or gone or new:
            log.info("watch %s: relisted, %d changed, %d gone, %d new while away", self.what, len(changed),
                     len(gone), len(new))
        return version

    def _stream(self, version: str) -> Iterator[tuple[str, Any, dict[str, Any]]]:
        """One watch request from ``version`` (the server ends it after the watch's seconds):
        (type, object, raw object)."""
        from kubernetes import watch

        seconds = self.watch_seconds if self.watch_seconds is not None else WATCH_TIMEOUT_S
        stream = _raw_watch_class()() if self.raw else watch.Watch()
        try:
            for event in stream.stream(
                self.lister, *self.args, **self.kwargs, resource_version=version, timeout_seconds=int(seconds),
                allow_watch_bookmarks=True, _request_timeout=(self.connect_s, seconds + 10),
            ):  # fmt: skip
                raw = event.get("raw_object") or {}
                yield event["type"], raw if self.raw else event.get("object"), raw
        finally:
            stream.stop()


class WatchedList:
    """``list_call(*args, **kwargs)``'s objects (client models) by name, current to the last watch event.

    ``on_change`` runs on the watch thread after the first list and after every change; ``what`` names the
    objects in the warning lines the pod's log gets (the last known objects are kept meanwhile).
    """

    def __init__(self, list_call: Callable[..., Any], *args: Any, what: str,
                 on_change: Callable[[], None] | None = None, **kwargs: Any) -> None:  # fmt: skip
        self.what = what
        self._on_change = on_change or (lambda: None)
        self._listed = threading.Event()
        self._informer = Informer(what, list_call, *args, raw=False, listener=_FirstList(self), connect_s=5.0,
                                  list_timeout_s=5.0, retry_first_s=RETRY_S, retry_max_s=RETRY_S,
                                  on_change=self._on_change, **kwargs)  # fmt: skip

    def start(self) -> WatchedList:
        self._informer.start()
        return self

    def stop(self) -> None:
        """The thread ends within ``WATCH_TIMEOUT_S`` (at its watch's end); the pods never stop it, tests do."""
        self._informer.stop()

    def wait_listed(self, timeout: float) -> bool:
        """True once the first list has arrived."""
        return self._listed.wait(timeout)

    def items(self) -> list[Any]:
        """The objects now, sorted by name (a copy: the watch thread may change them meanwhile)."""
        objects = self._informer.store.snapshot()
        return [objects[name] for name in sorted(objects)]


class _FirstList(Listener):
    def __init__(self, watched: WatchedList) -> None:
        self.watched = watched

    def listed(self, informer: Informer) -> None:
        self.watched._listed.set()
        try:
            self.watched._on_change()
        except Exception:  # as after any change (Informer._commit): the list is current, the caller's view not
            log.exception("watch %s: on_change failed", informer.what)
