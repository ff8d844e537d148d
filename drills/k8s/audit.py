"""Who deleted a pod, as the API server's audit log says: the exact answer the kubectl watch needs.

Why: a pod deletion carries no field manager, so without this the watch infers the deleter from counts and the
ReplicaSet controller's ``SuccessfulDelete`` events — and client-go rate-limits those events per object (25,
then one per 5 minutes), so on a cluster that has run a few drills a controller's scale-down loses its event and
looked like a person's ``kubectl delete pod``.  The audit log names the user and the user agent of every
deletion (``kubectl/…`` for a person at the terminal, a controller's service account or agent otherwise).

Clusters gameday creates log pod deletions (nothing else: the policy below) to a file on the host (kind:
``$GAMEDAY_CACHE/kind/clusters/<name>/audit/``, mounted into the node); ``$GAMEDAY_KUBE_AUDIT_LOG`` names another
(the test control plane).  Without a log the watch keeps its inference.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

AUDIT_LOG_ENV = "GAMEDAY_KUBE_AUDIT_LOG"
#: Where a kind node keeps the log and its policy (a host directory mounted there: see drills/k8s/cluster.py).
NODE_DIR = "/var/log/kubernetes/gameday-audit"
LOG_NAME = "audit.log"
POLICY_NAME = "policy.yaml"
#: The user agent of gameday's own API client: its deletions are never a responder's.
GAMEDAY_AGENT = "gameday"
#: Agents of the cluster's own components (the test control plane's run with the admin's credentials).
COMPONENT_AGENTS = ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-apiserver", "kwok", GAMEDAY_AGENT)
#: How far before the watch saw a deletion its request may have come (a loaded watch lags by seconds).
LOOK_BACK_S = 30.0
#: Deletions older than this are forgotten (a verdict looks seconds back, a re-list minutes).
KEEP_S = 900.0

#: Pod deletions only, once each (at the response): small enough to keep for the cluster's life.
POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted", "Panic"],
    "rules": [
        {
            "level": "Metadata",
            "verbs": ["delete", "deletecollection"],
            "resources": [{"group": "", "resources": ["pods"]}],
        },
        {"level": "None"},
    ],
}


def log_for(context: str) -> Path | None:
    """The audit log of the cluster behind ``context``: ``$GAMEDAY_KUBE_AUDIT_LOG``, else a kind cluster gameday
    created (``kind-<name>``), else None."""
    named = os.environ.get(AUDIT_LOG_ENV)
    if named:
        return Path(named)
    if context.startswith("kind-"):
        from drills.k8s.build.versions import kind_cache

        path = kind_cache() / "clusters" / context.removeprefix("kind-") / "audit" / LOG_NAME
        readable = path.parent.is_dir() and (not path.exists() or os.access(path, os.R_OK))
        return path if readable else None  # a cluster made before gameday kept one, or not ours to read
    return None


@dataclass(frozen=True)
class Deletion:
    """One successful pod deletion the API server recorded."""

    namespace: str
    name: str  # "" for a deletecollection (every pod of the namespace it matched)
    username: str
    agent: str
    at: datetime

    @property
    def by_person(self) -> bool:
        """kubectl at a terminal (or any client that is neither a component nor a service account)."""
        if self.agent.startswith("kubectl"):
            return True
        return not self.username.startswith("system:") and not self.agent.startswith(COMPONENT_AGENTS)


def parse(line: str) -> Deletion | None:
    """A successful pod deletion from one audit line; None for anything else (or a torn line)."""
    try:
        entry = json.loads(line)
        ref = entry.get("objectRef") or {}
        if (
            ref.get("resource") != "pods"
            or ref.get("subresource")
            or entry.get("verb") not in ("delete", "deletecollection")
        ):
            return None
        if int((entry.get("responseStatus") or {}).get("code") or 0) >= 300:
            return None
        at = datetime.fromisoformat(str(entry.get("requestReceivedTimestamp")).replace("Z", "+00:00"))
    except (ValueError, TypeError, AttributeError):
        return None
    user = entry.get("user") or {}
    return Deletion(namespace=str(ref.get("namespace") or ""), name=str(ref.get("name") or ""),
                    username=str(user.get("username") or ""), agent=str(entry.get("userAgent") or ""),
                    at=at)  # fmt: skip


class AuditTail:
    """Follows one audit log from where it ends at ``start()`` (a thread polling it), indexing pod deletions of
    one namespace by pod name."""

    def __init__(self, path: Path, namespace: str, *, poll_s: float = 0.1) -> None:
        self.path = path
        self.namespace = namespace
        self.poll_s = poll_s
        self._by_name: dict[str, list[Deletion]] = defaultdict(list)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._offset = 0
        self._inode: int | None = None
        self._partial = ""

    def start(self) -> AuditTail:
        try:
            stat = self.path.stat()
            self._offset, self._inode = stat.st_size, stat.st_ino
        except OSError:
            self._offset, self._inode = 0, None  # not written yet: read it from its start once it is
        self._thread = threading.Thread(target=self._run, daemon=True, name="kubewatch-audit")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.read()
            except OSError as exc:  # rotated or not there yet: next time
                log.debug("audit log %s: %s", self.path, exc)

    def read(self) -> None:
        """Index what was appended since the last read (a rotated log is read from its start)."""
        stat = self.path.stat()
        if self._inode is not None and (stat.st_ino != self._inode or stat.st_size < self._offset):
            self._offset, self._partial = 0, ""
        self._inode = stat.st_ino
        if stat.st_size == self._offset:
            return
        with self.path.open("r", encoding="utf-8", errors="replace") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
            self._offset = handle.tell()
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()
        found = [d for d in map(parse, lines) if d is not None and d.namespace == self.namespace]
        if not found:
            return
        horizon = found[-1].at - timedelta(seconds=KEEP_S)
        with self._lock:
            for deletion in found:
                self._by_name[deletion.name].append(deletion)
            for name in list(self._by_name):
                kept = [d for d in self._by_name[name] if d.at >= horizon]
                if kept:
                    self._by_name[name] = kept
                else:
                    del self._by_name[name]

    def deletions(self, name: str, since: datetime) -> list[Deletion]:
        """The recorded deletions of pod ``name`` (or of the whole namespace) at or after ``since``."""
        with self._lock:
            return [d for d in self._by_name.get(name, []) + self._by_name.get("", []) if d.at >= since]

    def by_person(self, name: str, seen: datetime, wait_s: float) -> bool | None:
        """Did a person delete pod ``name`` (seen deleted at ``seen``)?  None when the log has no deletion of it
        within ``wait_s`` (the caller infers as before).  A pod a person deleted and its node then removed has two
        deletions: one of them a person's is enough; the log is in order, so a component's alone is the answer."""
        since = seen - timedelta(seconds=LOOK_BACK_S)
        deadline = time.monotonic() + wait_s
        while True:
            found = self.deletions(name, since)
            if found:
                return any(d.by_person for d in found)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)
