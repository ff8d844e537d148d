"""Turns what responders do with plain ``kubectl`` into journal ``action`` events.

Why: in a Kubernetes drill people remediate with the tools they use on call, not with our CLI, and the scorer
still needs to see "rollback at 12:03".  Two parts: four informers (drills/k8s/informer.py: Deployments,
ReplicaSets, Pods and Events of one namespace, each on a daemon thread) hand over every change, and their
handlers (drills/k8s/attribution.py) decide who made it: a person with kubectl, the target itself, a
controller.  This module wires them together and journals how the watching goes.

Never miss a change, never report one twice: each informer resumes from the last ``resourceVersion`` it handled
after a dropped connection or an API server restart; when the server no longer has that version (410 Gone) it
lists again and diffs the listing against its store, so what changed while it was away is handled as the
events it missed (a pod deleted meanwhile is still a ``kubectl delete pod``).  A change counts as handled only
once its handler returned: a handler that raises (a journal write that failed, an API read refused) gets the
same change again, so that responder's action is journaled once, late rather than never.  What no client can
see: a pod created *and* deleted while the watch was cut off for longer than the API server keeps its history.

Every outage is journaled (a ``note`` when it starts and when the watch is back), and so is a handler's failure
(and, after retries, its outcome); 401/403 ends the watch with :attr:`KubeWatch.fatal` set, which the target
reports to the runner so the drill ends with that error instead of silently missing every responder action
from then on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drills.k8s.attribution import Attribution, Stores, Timing, journal_note
from drills.k8s.audit import AuditTail
from drills.k8s.informer import HandlerFailed, Informer, Listener, Outage, Store, describe_error
from gameday.errors import TargetError
from gameday.journal import JournalWriter

log = logging.getLogger(__name__)

#: Seconds one watch request stays open (the server ends it; the watch resumes at once from where it was).
WATCH_SECONDS = float(os.environ.get("GAMEDAY_KUBE_WATCH_SECONDS", "5"))
#: Deadlines of the API requests (wall seconds): connecting, and a whole listing.
CONNECT_S = float(os.environ.get("GAMEDAY_KUBE_CONNECT_TIMEOUT", "5"))
LIST_TIMEOUT_S = float(os.environ.get("GAMEDAY_KUBE_LIST_TIMEOUT", "30"))
#: How long a deletion the counts attribute to the ReplicaSet controller waits for its SuccessfulDelete event
#: (the controller manager records events asynchronously: on a busy machine they came 1-2 s after the deletion,
#: and a shorter wait journaled the controller's rollout as a person's ``kubectl delete pod``; a CI run with
#: three suites on two cores saw one come later than 5 s).  A person's deletion judged this way is journaled
#: at the moment it was seen, not at the verdict.
CONTROLLER_EVENT_GRACE_S = float(os.environ.get("GAMEDAY_KUBE_CONTROLLER_EVENT_GRACE", "12"))
#: Back-off between attempts while the API is unreachable (first, then doubled up to the max).
RETRY_FIRST_S, RETRY_MAX_S = 0.2, 2.0
#: Pods a person deletes within this long of each other are one action (``kubectl delete pods --all``, the
#: runbook's emergency step, deletes them one request at a time within a fraction of a second).
DELETE_BATCH_S = float(os.environ.get("GAMEDAY_KUBE_DELETE_BATCH", "0.3"))
#: How long a pod deletion waits for its line in the API server's audit log, when the cluster keeps one (the line
#: is written as the API answers the deletion; the log is polled ten times a second).
AUDIT_WAIT_S = float(os.environ.get("GAMEDAY_KUBE_AUDIT_WAIT", "3"))


class KubeWatch(Listener):
    """Watches one namespace and journals responder actions; ``start()`` / ``stop()``.

    The four informers report to this object (it is their :class:`~drills.k8s.informer.Listener`): outages,
    recoveries and handler failures become journal notes, 401/403 sets :attr:`fatal`.
    """

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        journal: JournalWriter,
        *,
        own_manager: str = "gameday",
        on_action: Callable[[dict[str, Any]], None] | None = None,
        audit_log: Path | None = None,
    ) -> None:
        self.namespace = namespace
        self.journal = journal
        self.own_manager = own_manager
        self.api_client = api_client
        self._stop = threading.Event()
        stores = Stores(deployments=Store(), replicasets=Store(), pods=Store(), events=Store())
        timing = Timing(controller_event_grace_s=CONTROLLER_EVENT_GRACE_S, delete_batch_s=DELETE_BATCH_S,
                        connect_s=CONNECT_S, list_timeout_s=LIST_TIMEOUT_S, audit_wait_s=AUDIT_WAIT_S)  # fmt: skip
        #: Who deleted which pod, from the API server's audit log (drills/k8s/audit.py), when there is one.
        self.audit = AuditTail(audit_log, namespace) if audit_log is not None else None
        #: Who did what (drills/k8s/attribution.py): the informers' handlers.
        self.attribution = Attribution(api_client, namespace, journal, stores, timing, stop=self._stop,
                                       on_action=on_action, audit=self.audit)  # fmt: skip
        apps, core = self.attribution.apps, self.attribution.core
        self._informers = [
            Informer(name, lister, namespace, handler=handler, store=store, listener=self, stop=self._stop,
                     watch_seconds=WATCH_SECONDS, connect_s=CONNECT_S, list_timeout_s=LIST_TIMEOUT_S,
                     retry_first_s=RETRY_FIRST_S, retry_max_s=RETRY_MAX_S, thread_name=f"kubewatch-{name}")
            for name, lister, handler, store in (
                ("deployments", apps.list_namespaced_deployment, self.attribution.on_deployment, stores.deployments),
                ("replicasets", apps.list_namespaced_replica_set, self.attribution.on_replicaset, stores.replicasets),
                ("pods", core.list_namespaced_pod, self.attribution.on_pod, stores.pods),
                ("events", core.list_namespaced_event, self.attribution.on_event, stores.events),
            )
        ]  # fmt: skip
        self.ready = threading.Event()
        self._primed = 0
        self._primed_lock = threading.Lock()
        #: Set when the API refuses us (401/403): the watch has stopped and the drill must end.
        self.fatal: TargetError | None = None
        #: Outages survived (dropped connections, API server restarts, 410s), for tests and benchmarks.
        self.recoveries: list[dict[str, Any]] = []
        #: Handler failures (each change handed over again, or given up on), for tests.
        self.handler_failures: list[dict[str, Any]] = []

    @property
    def on_action(self) -> Callable[[dict[str, Any]], None] | None:
        """Called with each action once it is journaled."""
        return self.attribution.on_action

    @on_action.setter
    def on_action(self, callback: Callable[[dict[str, Any]], None] | None) -> None:
        self.attribution.on_action = callback

    def own_change(self, name: str) -> contextlib.AbstractContextManager[Callable[[Any], None]]:
        """Wrap a change the target makes itself (see :meth:`Attribution.own_change`)."""
        return self.attribution.own_change(name)

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self.audit is not None:  # first: its deletions are read from this moment on
            self.audit.start()
        for informer in self._informers:
            informer.start()

    def stop(self, timeout: float = WATCH_SECONDS + 2.0) -> None:
        self._stop.set()
        for informer in self._informers:
            informer.join(timeout)
        self.attribution.stop(timeout)  # verdicts under way, then a batch still open: journaled, not lost
        if self.audit is not None:
            self.audit.stop()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """True once every watch has listed its resource (changes after this are journaled); False on
        timeout or as soon as the API refused a watch (then :attr:`fatal` says why)."""
        deadline = time.monotonic() + timeout
        while not self.ready.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
            if self.fatal is not None or time.monotonic() >= deadline:
                return False
        return True

    # ---------------------------------------------------------------- what the informers report
    def listed(self, informer: Informer) -> None:
        with self._primed_lock:
            self._primed += 1
            if self._primed == len(self._informers):
                self.ready.set()

    def interrupted(self, informer: Informer, outage: Outage, version: str | None) -> None:
        self._note(f"kubernetes watch of {informer.what} interrupted: {outage.error}; retrying from resourceVersion "
                   f"{version or '(a new listing)'}", watch=informer.what, error=outage.error)  # fmt: skip

    def back(self, informer: Informer, outage: Outage) -> None:
        seconds = outage.seconds
        self.recoveries.append({"watch": informer.what, "error": outage.error, "seconds": seconds,
                                "attempts": outage.attempts})  # fmt: skip
        self._note(f"kubernetes watch of {informer.what} is back after {seconds:g} s ({outage.attempts} failed "
                   "attempts); changes made meanwhile were caught up", watch=informer.what, seconds=seconds)

    def refused(self, informer: Informer, exc: BaseException) -> None:
        what = describe_error(exc)
        self.fatal = TargetError(f"the Kubernetes API refused the watch of {informer.what} in {self.namespace} "
                                 f"({what}): responder actions can no longer be seen; check the kube context's "
                                 "credentials and RBAC")  # fmt: skip
        log.error("kubewatch %s: %s", informer.what, self.fatal)
        self._note(str(self.fatal), watch=informer.what, error=what)

    def handler_failed(self, informer: Informer, failure: HandlerFailed, attempt: int, *, gave_up: bool) -> None:
        error = describe_error(failure.cause)
        self.handler_failures.append({"watch": informer.what, "change": str(failure), "error": error,
                                      "attempt": attempt, "gave_up": gave_up})  # fmt: skip
        if gave_up:
            text = (f"kubectl watch: handling the {failure} failed {attempt} times ({error}); gave up on that "
                    "change: if it was a responder's action, it is not in the journal")
        elif attempt == 1:
            text = (f"kubectl watch: handling the {failure} failed ({error}); it is handled again when the watch "
                    f"of {informer.what} resumes from the last change it handled")
        else:
            return  # every retry is logged; the first failure and the outcome are journaled
        self._note(text, watch=informer.what, error=error, attempt=attempt)

    def handled_late(self, informer: Informer, kind: str, name: str, attempts: int) -> None:
        self._note(f"kubectl watch: the {kind} of {name} was handled on attempt {attempts}", watch=informer.what,
                   attempts=attempts)  # fmt: skip

    def _note(self, text: str, **data: Any) -> None:
        journal_note(self.journal, "kubewatch", {"text": text, **data})
