"""Who did what: the kubectl watch's handlers, turning changes of Deployments, ReplicaSets, Pods and Events into
journal ``action`` events of the people who made them.

The API tells us who changed an object through ``managedFields`` (kubectl names itself ``kubectl-rollout``,
``kubectl-scale``, ``kubectl-set``, ``kubectl-edit``, ...); the target's own changes use its field manager and are
recognised exactly by generation (:meth:`Attribution.own_change`).  Pod deletions carry no manager, so a deleted
pod counts as a responder's ``kubectl delete pod`` when its ReplicaSet still wanted it (a controller scale-down
lowers the ReplicaSet first), and, where the counts say the controller's, unless the controller's
``SuccessfulDelete`` event names the pod within the grace.

The changes come from four informers (drills/k8s/informer.py, wired in drills/k8s/watch.py), which commit a
change only after its handler returned.  So a handler raises rather than swallow a failure before its journal
write (the change is handed over again), and never after it (it would be journaled twice): the journal write
is each handler's last step, and its "seen" marks are set after it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drills.k8s.audit import AuditTail
from drills.k8s.informer import DELETIONS, GONE, PRIME, Store, describe_error, version_of
from gameday.errors import GamedayError
from gameday.journal import EventType, JournalWriter

log = logging.getLogger(__name__)

ACTOR = "kubectl"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
#: Event reasons worth a note in the journal (what ``kubectl get events`` would show a responder).
NOTE_REASONS = frozenset({"BackOff", "Unhealthy", "FailedScheduling", "FailedCreate"})
#: What a journal write raises when it cannot be made: JournalError (a full disk), ValueError (closed).
JOURNAL_ERRORS = (GamedayError, OSError, ValueError)


def latest_manager(obj: dict[str, Any]) -> str:
    """The field manager of the newest write to the object itself (status writes excluded).

    ``managedFields`` times have one-second resolution; on a tie a ``kubectl*`` manager wins, because
    the target's own writes are recognised exactly by generation (see :meth:`Attribution.own_change`).
    """
    entries = [e for e in obj.get("metadata", {}).get("managedFields") or [] if not e.get("subresource")]
    if not entries:
        return ""
    newest = max(e.get("time") or "" for e in entries)
    managers = [e.get("manager", "") for e in entries if (e.get("time") or "") == newest]
    return next((m for m in managers if m.startswith("kubectl")), managers[-1])


def replicas_owner(obj: dict[str, Any]) -> str:
    """The field manager that set ``spec.replicas`` last.

    ``kubectl scale`` writes through the ``scale`` subresource, whose ``managedFields`` entry carries no
    time, so :func:`latest_manager` cannot see it; ownership of the field names it instead.
    """
    owners = [e.get("manager", "") for e in obj.get("metadata", {}).get("managedFields") or []
              if e.get("subresource") != "status"
              and "f:replicas" in ((e.get("fieldsV1") or {}).get("f:spec") or {})]  # fmt: skip
    return next((m for m in owners if m.startswith("kubectl")), owners[-1] if owners else "")


def deleted_pods(events: list[dict[str, Any]]) -> set[str]:
    """Pod names in SuccessfulDelete events' messages (also "(combined from similar events): Deleted pod: X")."""
    found = (re.search(r"Deleted pod: (\S+)", str(e.get("message", ""))) for e in events)
    return {match.group(1) for match in found if match}


def _template(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec", {}).get("template") or {}


def _images(obj: dict[str, Any]) -> list[str]:
    return [c.get("image", "") for c in _template(obj).get("spec", {}).get("containers", [])]


def _strip_hash(template: dict[str, Any]) -> dict[str, Any]:
    """A ReplicaSet's pod template as the Deployment held it (without ``pod-template-hash``)."""
    labels = dict(template.get("metadata", {}).get("labels") or {})
    labels.pop("pod-template-hash", None)
    return {**template, "metadata": {**template.get("metadata", {}), "labels": labels}}


def classify_deployment_change(
    old: dict[str, Any],
    new: dict[str, Any],
    manager: str,
    older_templates: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """What a spec change of a Deployment means as a responder action, or None for no spec change.

    ``older_templates`` are the templates of the Deployment's earlier ReplicaSets: a new template equal
    to one of them is a rollback (``kubectl rollout undo``), whatever field manager kubectl used.
    """
    name = new["metadata"]["name"]
    target = f"deployment/{name}"
    old_spec, new_spec = old.get("spec", {}), new.get("spec", {})
    if old_spec.get("replicas") != new_spec.get("replicas") and _template(old) == _template(new):
        return {
            "kind": "scale",
            "target": target,
            "detail": f"replicas {old_spec.get('replicas')} -> {new_spec.get('replicas')}",
            "replicas": new_spec.get("replicas"),
        }
    if _template(old) == _template(new):
        return None
    old_ann = _template(old).get("metadata", {}).get("annotations") or {}
    new_ann = _template(new).get("metadata", {}).get("annotations") or {}
    if old_ann.get(RESTARTED_AT) != new_ann.get(RESTARTED_AT) and _images(old) == _images(new):
        return {"kind": "restart", "target": target, "detail": "rollout restart"}
    if manager == "kubectl-rollout" or _template(new) in (older_templates or []):
        return {
            "kind": "rollback",
            "target": target,
            "detail": f"rollout undo: {', '.join(_images(old))} -> {', '.join(_images(new))}",
            "images": _images(new),
        }
    if _images(old) != _images(new):
        return {
            "kind": "deploy",
            "target": target,
            "detail": f"image {', '.join(_images(old))} -> {', '.join(_images(new))}",
            "images": _images(new),
        }
    return {"kind": "config_change", "target": target, "detail": f"pod template changed by {manager}"}


def journal_note(journal: JournalWriter, actor: str, data: dict[str, Any]) -> bool:
    """Write a ``note``; a journal that cannot take it is logged (the runner reports the journal's own failure),
    and False returned."""
    try:
        journal.emit(EventType.note, actor, data)
    except JOURNAL_ERRORS as exc:
        log.error("kubewatch: cannot journal the note %r: %s", data, exc)
        return False
    return True


@dataclass(frozen=True)
class Stores:
    """What the four informers last committed, by object name."""

    deployments: Store
    replicasets: Store
    pods: Store
    events: Store


@dataclass(frozen=True)
class Timing:
    """Seconds the verdicts wait (the kubectl watch's settings: drills/k8s/watch.py)."""

    controller_event_grace_s: float
    delete_batch_s: float
    connect_s: float
    list_timeout_s: float
    #: How long a deletion waits for its line in the audit log (written as the API answers; read by polling).
    audit_wait_s: float = 3.0


class Attribution:
    """The four handlers (``on_deployment``, ``on_replicaset``, ``on_pod``, ``on_event``) and the verdicts on
    pod deletions they start (threads, waited for by :meth:`stop`)."""

    def __init__(self, api_client: Any, namespace: str, journal: JournalWriter, stores: Stores, timing: Timing,
                 *, stop: threading.Event, on_action: Callable[[dict[str, Any]], None] | None = None,
                 audit: AuditTail | None = None) -> None:
        from kubernetes import client

        self.namespace = namespace
        self.journal = journal
        self.stores = stores
        self.timing = timing
        self.on_action = on_action
        #: The API server's record of who deleted which pod, when the cluster keeps one (drills/k8s/audit.py).
        self.audit = audit
        self.api_client = api_client
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self._stop = stop
        #: Verdicts and deletion batches under way (stop() waits for them: no action lost at the drill's end).
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        #: Pods the controller's SuccessfulDelete events named, parsed once as the events arrive (a pending
        #: verdict asks this ten times a second; scanning every cached event each time slowed the watches).
        self._seen_controller_deletions: set[str] = set()
        #: Pods (uids: a StatefulSet's pod comes back under its name) whose deletion is judged or journaled
        #: already (the pods handler's own: one thread).
        self._deleted_pods: set[str] = set()
        #: A person's pod deletions not yet journaled (delete_batch_s), with when each was seen.
        self._batch: list[tuple[str, datetime]] = []
        #: Deletions still waiting for the controller's verdict: an open batch waits for them (a `--all` deletes the
        #: backend's pods, judged after the grace, with the others, judged at once: one command, one action).
        self._verdicts_pending = 0
        self._batch_lock = threading.Lock()
        self._seen_events: set[str] = set()
        self._own_lock = threading.Lock()
        self._own_generations: set[tuple[str, int]] = set()

    def stop(self, timeout: float) -> None:
        """Wait for the verdicts and batches under way (the caller has set the stop event), then journal a batch
        still open."""
        while self._threads:  # verdicts and deletion batches started meanwhile are waited for too
            self._threads.pop().join(timeout)
        self._flush_deletions()

    def _start(self, target: Callable[..., None], *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=name)
        self._threads.append(thread)
        thread.start()

    # ---------------------------------------------------------------- journal
    def emit(self, data: dict[str, Any], *, at: datetime | None = None) -> None:
        """Journal a person's action.  A journal that cannot take it raises (a handler's change is then handed
        over again); ``on_action`` failing does not (the action is journaled: handing it over again would
        journal it twice), it is logged."""
        self.journal.emit(EventType.action, ACTOR, data, at=at)
        if self.on_action is not None:
            try:
                self.on_action(data)
            except Exception:  # the caller's callback: anything it raises is logged with its traceback
                log.exception("kubewatch: on_action failed for %s", data)

    # ---------------------------------------------------------------- Deployments
    def on_deployment(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if kind == PRIME or kind in DELETIONS or old is None:
            return
        name = obj["metadata"]["name"]
        generation = obj.get("metadata", {}).get("generation")
        if old.get("metadata", {}).get("generation") == generation:
            return  # status or metadata only
        with self._own_lock:  # a change of ours in flight is registered before we look
            if (name, generation) in self._own_generations:
                return
        manager = latest_manager(obj)
        if not manager.startswith("kubectl") and (old.get("spec") or {}).get("replicas") != (
                obj.get("spec") or {}).get("replicas"):
            manager = replicas_owner(obj)
        if not manager.startswith("kubectl"):
            return
        action = classify_deployment_change(old, obj, manager, self._older_templates(old, obj))
        if action is not None:
            action["manager"] = manager
            self.emit(action)

    def _older_templates(self, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        """Templates of the Deployment's ReplicaSets other than the one it ran until now."""
        uid = new.get("metadata", {}).get("uid")
        owned = [
            _strip_hash(_template(rs)) for rs in self.stores.replicasets.values()
            if any(o.get("uid") == uid for o in rs.get("metadata", {}).get("ownerReferences") or [])
        ]  # fmt: skip
        return [t for t in owned if t != _template(old)]

    @contextlib.contextmanager
    def own_change(self, name: str) -> Iterator[Callable[[Any], None]]:
        """Wrap a change the target makes itself; call the yielded function with the API's answer.

        The Deployments handler waits for the new generation to be registered, so the target's own rollouts
        and scales are never reported as responder actions.
        """

        def register(result: Any) -> None:
            generation = getattr(getattr(result, "metadata", None), "generation", None)
            if generation is not None:
                self._own_generations.add((name, generation))

        with self._own_lock:
            yield register

    # ---------------------------------------------------------------- ReplicaSets
    def on_replicaset(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if kind == PRIME or kind in DELETIONS or old is None:
            return
        name = obj["metadata"]["name"]
        manager = latest_manager(obj)
        old_replicas = old.get("spec", {}).get("replicas")
        new_replicas = obj.get("spec", {}).get("replicas")
        if manager.startswith("kubectl") and old_replicas != new_replicas:
            self.emit({
                "kind": "scale", "target": f"replicaset/{name}", "manager": manager,
                "detail": f"replicas {old_replicas} -> {new_replicas}", "replicas": new_replicas,
            })  # fmt: skip

    # ---------------------------------------------------------------- Pods
    def on_pod(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if kind == PRIME:
            return
        meta = obj.get("metadata", {})
        name = meta["name"]
        if not meta.get("deletionTimestamp") and kind not in DELETIONS:
            return
        uid = meta.get("uid") or name
        if uid in self._deleted_pods:
            return
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("kind") == "ReplicaSet"), None)
        if self.audit is not None:
            # The audit log names who deleted it (drills/k8s/audit.py): no API read here, so the deletions of a
            # `delete pods --all` are all seen within its batch; the counts are read only if the log has no line.
            with self._batch_lock:
                self._verdicts_pending += 1
            self._start(self._judge_deletion, name, self.journal.now(), None, (owner, version_of(obj), kind == GONE),
                        name=f"watch-delete-{name}")  # fmt: skip
            self._deleted_pods.add(uid)
            return
        # the counts' inference, made now: it reads the pods committed before the deletion
        wanted = owner is None or self._wanted_by_replicaset(owner["name"], name, version_of(obj),
                                                              relisted=kind == GONE)  # fmt: skip
        if not wanted and kind != GONE:
            # The counts say the controller's: a ReplicaSet scaled down (a rollout) with no pod picked yet looks the
            # same when a person deletes one of its pods first — the controller then deletes none.  Its
            # SuccessfulDelete event tells them apart; without one soon, the deletion was a person's.
            with self._batch_lock:
                self._verdicts_pending += 1
            self._start(self._judge_deletion, name, self.journal.now(), "events", None, name=f"watch-delete-{name}")
        elif wanted:
            self._person_deleted(name)
        self._deleted_pods.add(uid)  # only now: a judgement that raised is made again when the change comes back

    def _person_deleted(self, name: str, seen: datetime | None = None) -> None:
        """Journaled once no other deletion follows within the batch's quiet moment: one person's command, one
        action."""
        with self._batch_lock:
            if any(pending == name for pending, _ in self._batch):
                return
            self._batch.append((name, seen or self.journal.now()))
            opened = len(self._batch) == 1
        if opened and not self._stop.is_set():  # once stopping, stop() journals what is left
            self._start(self._close_batch, name="watch-delete-batch")

    def _close_batch(self) -> None:
        """One deletion is journaled delete_batch_s after it; once a second one came, the batch (a `--all`, whose
        deletions may be seconds apart on a busy machine) waits five times as long for a quiet moment, and never
        while a deletion seen meanwhile still waits for the controller's verdict."""
        seen = 0
        quiet = self.timing.delete_batch_s
        while not self._stop.wait(quiet if seen <= 1 else 5 * quiet):
            with self._batch_lock:
                if len(self._batch) == seen and not self._verdicts_pending:
                    break
                seen = len(self._batch)
        self._flush_deletions()

    def _judge_deletion(self, name: str, seen: datetime, inferred: str | None,
                        counts: tuple[dict[str, Any] | None, str, bool] | None) -> None:  # fmt: skip
        """The audit log's verdict when it has one; else what the counts infer (``counts``: the owner, the
        deletion's version and whether a re-list found it gone; or ``inferred`` already): a person's (the
        ReplicaSet still wanted the pod, or nothing owned it), the controller's, or the controller's if its events
        say so."""
        try:
            by_person = self.audit.by_person(name, seen, self.timing.audit_wait_s) if self.audit else None
            if by_person is None and counts is not None:
                owner, version, relisted = counts
                wanted = owner is None or self._wanted_by_replicaset(owner["name"], name, version, relisted=relisted)
                inferred = "person" if wanted else "controller" if relisted else "events"
            if by_person is None and inferred == "events":
                self.unless_controller_deleted(name, seen)
            elif by_person or (by_person is None and inferred == "person"):
                self._person_deleted(name, seen)
        finally:
            with self._batch_lock:
                self._verdicts_pending -= 1

    def _flush_deletions(self) -> None:
        with self._batch_lock:
            batch, self._batch = sorted(self._batch), []
        if not batch:
            return
        names, at = [name for name, _ in batch], min(seen for _, seen in batch)
        if len(names) == 1:
            action = {"kind": "restart", "target": f"pod/{names[0]}", "detail": "pod deleted", "manager": ACTOR}
        else:
            action = {"kind": "restart", "target": f"pods in {self.namespace}", "pods": names,
                      "detail": f"{len(names)} pods deleted", "manager": ACTOR}  # fmt: skip
        try:
            self.emit(action, at=at)
        except JOURNAL_ERRORS as exc:  # the journal's failure ends the drill (the runner's); say what it misses
            log.error("kubewatch: cannot journal the kubectl action %s seen at %s: %s", action, at.isoformat(), exc)

    def unless_controller_deleted(self, name: str, seen: datetime | None = None) -> None:
        """The controller's if its SuccessfulDelete event names the pod within the grace, else a person's.

        Looked for in the events watch's store meanwhile (no request), then in the API's own list (that watch
        may lag).  A verdict needs that list: while the API cannot be reached it is asked again (the store,
        caught up once the watch is back, may answer first) for up to list_timeout_s; still unreachable, the
        deletion is journaled as a person's rather than lost."""
        deadline = time.monotonic() + self.timing.controller_event_grace_s
        while time.monotonic() < deadline:
            if name in self._cached_controller_deletions():
                return
            time.sleep(0.1)
        give_up = time.monotonic() + self.timing.list_timeout_s
        while (listed := self._listed_controller_deletions()) is None and time.monotonic() < give_up:
            if name in self._cached_controller_deletions():
                return
            time.sleep(0.5)
        if listed is None or name not in listed:
            if listed is None:
                log.warning("kubewatch: no SuccessfulDelete events could be listed for %ss; the deletion of pod "
                            "%s is journaled as a person's", self.timing.list_timeout_s, name)  # fmt: skip
            self._person_deleted(name, seen)

    def _wanted_by_replicaset(self, rs_name: str, pod_name: str, version: str, *, relisted: bool) -> bool:
        """Did the ReplicaSet still want this pod when it was deleted?  Then someone else deleted it.

        Judged on the ReplicaSet as it was at the deletion's resourceVersion (an exact read; a watch that
        resumes after an outage handles old events, and the ReplicaSet may have been scaled since) and on
        the pods committed before the deletion (replacements come later in the stream).  A pod found gone
        by a re-list has no deletion version (the ReplicaSet may have been scaled to 0 since): a pod the
        ReplicaSet controller reports having deleted (``SuccessfulDelete``) is its, one whose ReplicaSet is
        gone is the garbage collector's, any other is a responder's.
        """
        if relisted:
            rs = self._replicaset_now(rs_name)
            gone = rs is None or bool(rs.get("metadata", {}).get("deletionTimestamp"))
            return not gone and pod_name not in self._controller_deletions()
        rs = self._replicaset_at(rs_name, version)
        if rs is None or rs.get("metadata", {}).get("deletionTimestamp"):
            return False  # the ReplicaSet itself is gone or going: garbage collection, not a responder
        siblings = [
            p for p in self.stores.pods.values()
            if p["metadata"]["name"] != pod_name
            and not p["metadata"].get("deletionTimestamp")
            and any(o.get("name") == rs_name for o in p["metadata"].get("ownerReferences") or [])
        ]  # fmt: skip
        return len(siblings) < (rs.get("spec", {}).get("replicas") or 0)

    # ---------------------------------------------------------------- reads for the verdicts
    def _replicaset_at(self, name: str, version: str) -> dict[str, Any] | None:
        """The ReplicaSet as of ``version`` (None: it did not exist then); now, if that is compacted away or
        the exact read fails.  401/403 raise (the handler fails; the informer ends on them)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = self.apps.list_namespaced_replica_set(
                self.namespace, resource_version=version, resource_version_match="Exact",
                field_selector=f"metadata.name={name}", _preload_content=False,
                _request_timeout=(self.timing.connect_s, 10),
            )  # fmt: skip
            items = json.loads(response.data).get("items") or []
        except ApiException as exc:
            if exc.status in (401, 403):
                raise
            log.info("kubewatch: replicaset/%s at resourceVersion %s: %s; judged as it is now", name, version,
                     describe_error(exc))  # 410: that version is compacted  # fmt: skip
            return self._replicaset_now(name)
        except (HTTPError, OSError, ValueError) as exc:
            log.warning("kubewatch: cannot read replicaset/%s at resourceVersion %s (%s); judged as it is now",
                        name, version, describe_error(exc))  # fmt: skip
            return self._replicaset_now(name)
        return items[0] if items else None

    def _replicaset_now(self, name: str) -> dict[str, Any] | None:
        """The ReplicaSet now (None: it is gone); as the ReplicaSet watch last saw it when the API cannot be
        reached.  401/403 raise."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return self.api_client.sanitize_for_serialization(  # type: ignore[no-any-return]
                self.apps.read_namespaced_replica_set(name, self.namespace,
                                                      _request_timeout=(self.timing.connect_s, 10)))  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status in (401, 403):
                raise
            log.warning("kubewatch: cannot read replicaset/%s (%s); judged as its watch last saw it", name,
                        describe_error(exc))  # fmt: skip
        except (HTTPError, OSError) as exc:  # the API went away meanwhile
            log.warning("kubewatch: cannot read replicaset/%s (%s); judged as its watch last saw it", name,
                        describe_error(exc))  # fmt: skip
        return self.stores.replicasets.get(name)  # type: ignore[no-any-return]

    def _controller_deletions(self) -> set[str]:
        """Pods the ReplicaSet controller says it deleted (its ``SuccessfulDelete`` events): as the API lists
        them, or as the events watch last saw them when the API cannot be reached."""
        listed = self._listed_controller_deletions()
        return self._cached_controller_deletions() if listed is None else listed

    def _listed_controller_deletions(self) -> set[str] | None:
        """As the API lists them now; None when it cannot be reached (a verdict then asks again, or falls back
        on the events watch's store)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = self.core.list_namespaced_event(
                self.namespace, field_selector="reason=SuccessfulDelete", _preload_content=False,
                _request_timeout=(self.timing.connect_s, 10),
            )  # fmt: skip
            return deleted_pods(json.loads(response.data).get("items") or [])
        except (ApiException, HTTPError, OSError, ValueError) as exc:
            log.info("kubewatch: cannot list SuccessfulDelete events: %s", describe_error(exc))
            return None

    def _cached_controller_deletions(self) -> set[str]:
        with self._lock:
            return set(self._seen_controller_deletions)

    # ---------------------------------------------------------------- Events
    def on_event(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if kind not in DELETIONS and obj.get("reason") == "SuccessfulDelete":
            with self._lock:
                self._seen_controller_deletions |= deleted_pods([obj])
        if kind == PRIME or kind in DELETIONS:
            return
        reason = obj.get("reason") or ""
        involved = obj.get("involvedObject") or {}
        key = f"{reason}/{involved.get('kind')}/{involved.get('name')}"
        if reason not in NOTE_REASONS or obj.get("type") != "Warning" or key in self._seen_events:
            return
        self.journal.emit(EventType.note, "kubernetes", {  # a journal that cannot take it raises: handed over again
            "reason": reason,
            "object": f"{str(involved.get('kind', '')).lower()}/{involved.get('name')}",
            "message": obj.get("message", ""),
        })  # fmt: skip
        self._seen_events.add(key)
