"""Turns what responders do with plain ``kubectl`` into journal ``action`` events.

Why: in a Kubernetes drill people remediate with the tools they use on call, not with our CLI, and
the scorer still needs to see "rollback at 12:03". The API tells us who changed an object through
``managedFields`` (kubectl names itself ``kubectl-rollout``, ``kubectl-scale``, ``kubectl-set``,
``kubectl-edit``, ...); our own changes use the field manager ``gameday`` and are ignored here.
Pod deletions carry no manager, so a deleted pod counts as a responder's ``kubectl delete pod``
when its ReplicaSet still wanted it (a controller scale-down lowers the ReplicaSet first).

Four watches run on daemon threads: Deployments, ReplicaSets, Pods and Events of one namespace.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from gameday.journal import EventType, JournalWriter

ACTOR = "kubectl"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
#: Event reasons worth a note in the journal (what ``kubectl get events`` would show a responder).
NOTE_REASONS = frozenset({"BackOff", "Unhealthy", "FailedScheduling", "FailedCreate"})


def _latest_manager(obj: dict[str, Any]) -> str:
    """The field manager of the newest write to the object itself (status writes excluded).

    ``managedFields`` times have one-second resolution; on a tie a ``kubectl*`` manager wins, because
    the target's own writes are recognised exactly by generation (see :meth:`KubeWatch.own_change`).
    """
    entries = [e for e in obj.get("metadata", {}).get("managedFields") or [] if not e.get("subresource")]
    if not entries:
        return ""
    newest = max(e.get("time") or "" for e in entries)
    managers = [e.get("manager", "") for e in entries if (e.get("time") or "") == newest]
    return next((m for m in managers if m.startswith("kubectl")), managers[-1])


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


class KubeWatch:
    """Watches one namespace and journals responder actions; ``start()`` / ``stop()``."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        journal: JournalWriter,
        *,
        own_manager: str = "gameday",
        on_action: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        from kubernetes import client

        self.namespace = namespace
        self.journal = journal
        self.own_manager = own_manager
        self.on_action = on_action
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._deployments: dict[str, dict[str, Any]] = {}
        self._replicasets: dict[str, dict[str, Any]] = {}
        self._pods: dict[str, dict[str, Any]] = {}
        self._deleted_pods: set[str] = set()
        self._seen_events: set[str] = set()
        self._own_lock = threading.Lock()
        self._own_generations: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self._primed = 0

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        specs: list[tuple[str, Callable[..., Any], Callable[[str, dict[str, Any]], None]]] = [
            ("deployments", self.apps.list_namespaced_deployment, self._on_deployment),
            ("replicasets", self.apps.list_namespaced_replica_set, self._on_replicaset),
            ("pods", self.core.list_namespaced_pod, self._on_pod),
            ("events", self.core.list_namespaced_event, self._on_event),
        ]
        for name, lister, handler in specs:
            thread = threading.Thread(
                target=self._run, args=(name, lister, handler), name=f"kubewatch-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """True once every watch has listed its resource (changes after this are journaled)."""
        return self.ready.wait(timeout)

    # ---------------------------------------------------------------- machinery
    def _run(self, name: str, lister: Callable[..., Any], handler: Callable[[str, dict[str, Any]], None]) -> None:
        """List (to prime the cache silently), then watch from that resourceVersion; relist on 410."""
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        sanitize = self.apps.api_client.sanitize_for_serialization
        primed = False
        while not self._stop.is_set():
            try:
                listing = lister(self.namespace)
                for item in listing.items:
                    handler("PRIME", sanitize(item))
                if not primed:
                    primed = True
                    with self._lock:
                        self._primed += 1
                        if self._primed == 4:
                            self.ready.set()
                version = listing.metadata.resource_version
                while not self._stop.is_set():
                    stream = watch.Watch()
                    for event in stream.stream(
                        lister, self.namespace, resource_version=version, timeout_seconds=5,
                        allow_watch_bookmarks=True,
                    ):  # fmt: skip
                        data = event.get("raw_object") or sanitize(event["object"])
                        version = data.get("metadata", {}).get("resourceVersion") or version
                        if event["type"] not in ("BOOKMARK", "ERROR"):
                            handler(event["type"], data)
                        if self._stop.is_set():
                            stream.stop()
                            break
            except ApiException as exc:
                if exc.status != 410:
                    time.sleep(1.0)
            except Exception:  # a flaky connection must not kill the watch thread
                time.sleep(1.0)

    def _emit(self, data: dict[str, Any]) -> None:
        self.journal.emit(EventType.action, ACTOR, data)
        if self.on_action is not None:
            self.on_action(data)

    # ---------------------------------------------------------------- handlers
    def _on_deployment(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        with self._lock:
            old = self._deployments.get(name)
            if kind == "DELETED":
                self._deployments.pop(name, None)
                return
            self._deployments[name] = obj
        if kind == "PRIME" or old is None:
            return
        generation = obj.get("metadata", {}).get("generation")
        if old.get("metadata", {}).get("generation") == generation:
            return  # status or metadata only
        with self._own_lock:  # a change of ours in flight is registered before we look
            if (name, generation) in self._own_generations:
                return
        manager = _latest_manager(obj)
        if not manager.startswith("kubectl"):
            return
        action = classify_deployment_change(old, obj, manager, self._older_templates(old, obj))
        if action is not None:
            action["manager"] = manager
            self._emit(action)

    def _older_templates(self, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
        """Templates of the Deployment's ReplicaSets other than the one it ran until now."""
        uid = new.get("metadata", {}).get("uid")
        with self._lock:
            owned = [
                _strip_hash(_template(rs)) for rs in self._replicasets.values()
                if any(o.get("uid") == uid for o in rs.get("metadata", {}).get("ownerReferences") or [])
            ]  # fmt: skip
        return [t for t in owned if t != _template(old)]

    @contextlib.contextmanager
    def own_change(self, name: str) -> Iterator[Callable[[Any], None]]:
        """Wrap a change the target makes itself; call the yielded function with the API's answer.

        The watch holds events for the object until the new generation is registered, so the
        target's own rollouts and scales are never reported as responder actions.
        """

        def register(result: Any) -> None:
            generation = getattr(getattr(result, "metadata", None), "generation", None)
            if generation is not None:
                self._own_generations.add((name, generation))

        with self._own_lock:
            yield register

    def _on_replicaset(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        with self._lock:
            old = self._replicasets.get(name)
            if kind == "DELETED":
                self._replicasets.pop(name, None)
                return
            self._replicasets[name] = obj
        if kind == "PRIME" or old is None:
            return
        manager = _latest_manager(obj)
        old_replicas = old.get("spec", {}).get("replicas")
        new_replicas = obj.get("spec", {}).get("replicas")
        if manager.startswith("kubectl") and old_replicas != new_replicas:
            self._emit({
                "kind": "scale", "target": f"replicaset/{name}", "manager": manager,
                "detail": f"replicas {old_replicas} -> {new_replicas}", "replicas": new_replicas,
            })  # fmt: skip

    def _on_pod(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata", {})
        name = meta["name"]
        with self._lock:
            self._pods[name] = obj
            if kind == "DELETED":
                self._pods.pop(name, None)
        if kind == "PRIME":
            return
        if not meta.get("deletionTimestamp") and kind != "DELETED":
            return
        with self._lock:
            if name in self._deleted_pods:
                return
            self._deleted_pods.add(name)
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("kind") == "ReplicaSet"), None)
        if owner is None or self._wanted_by_replicaset(owner["name"], name):
            self._emit({"kind": "restart", "target": f"pod/{name}", "detail": "pod deleted", "manager": ACTOR})

    def _wanted_by_replicaset(self, rs_name: str, pod_name: str) -> bool:
        """Did the ReplicaSet still want this pod? Then someone else deleted it."""
        from kubernetes.client.exceptions import ApiException

        try:
            rs = self.apps.read_namespaced_replica_set(rs_name, self.namespace)
        except ApiException:
            return False  # the ReplicaSet itself is gone: garbage collection, not a responder
        if rs.metadata.deletion_timestamp:
            return False
        with self._lock:
            siblings = [
                p for p in self._pods.values()
                if p["metadata"]["name"] != pod_name
                and not p["metadata"].get("deletionTimestamp")
                and any(o.get("name") == rs_name for o in p["metadata"].get("ownerReferences") or [])
            ]  # fmt: skip
        return len(siblings) < (rs.spec.replicas or 0)

    def _on_event(self, kind: str, obj: dict[str, Any]) -> None:
        if kind in ("PRIME", "DELETED"):
            return
        reason = obj.get("reason") or ""
        involved = obj.get("involvedObject") or {}
        key = f"{reason}/{involved.get('kind')}/{involved.get('name')}"
        if reason not in NOTE_REASONS or obj.get("type") != "Warning":
            return
        with self._lock:
            if key in self._seen_events:
                return
            self._seen_events.add(key)
        with contextlib.suppress(Exception):
            self.journal.emit(
                EventType.note,
                "kubernetes",
                {
                    "reason": reason,
                    "object": f"{str(involved.get('kind', '')).lower()}/{involved.get('name')}",
                    "message": obj.get("message", ""),
                },
            )
