"""The Kubernetes drill target: the Hospital-ERP stack in one namespace of an allowed cluster.

Faults are ordinary API changes a bad deploy would make (image rollout, config rollout, scale to 0),
so responders can fix them with plain ``kubectl``. Safety:

- the kube context is checked against an allowlist (default ``kind-*``) from the kubeconfig file,
  before a client exists, so a refused cluster never sees a request;
- every call is scoped to the drill's namespace;
- before a fault changes an object, the whole undo state goes into the object's annotation
  ``gameday.io/injection`` (an :class:`InjectionRecord` as JSON), so the cluster itself remembers what
  to revert even when the runner is killed with SIGKILL; ``pending_injections`` lists those objects;
- ``dry_run=True`` prints every change instead of sending it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import urllib3
import yaml

from drills.detection import DetectionChain, WallDetection
from drills.faults.knobs import CONFIG_KNOBS
from drills.k8s import guard
from drills.k8s.audit import GAMEDAY_AGENT
from drills.k8s.database import ClusterDatabase, Database
from drills.k8s.endpoints import ports_for_context, url
from drills.k8s.faults import KUBE_FAULTS, KubeObject
from drills.k8s.objects import (
    FIELD_MANAGER,
    IMAGE_KEYS_ANNOTATION,
    INJECTION_ANNOTATION,
    KNOBS_CONFIGMAP,
    KNOBS_KEY,
    PGBOUNCER,
    POSTGRES,
    VERSION_LABEL,
    default_world,
)
from drills.k8s.rollout import observed, wait_rolled_out
from drills.k8s.stack import alertmanager_address
from drills.k8s.status import pod_state
from drills.k8s.toxiproxy import TOXIPROXY
from drills.targets.base import (
    Endpoints,
    InjectionRecord,
    RemedyRegistry,
    ReplicaState,
    SetupChange,
    repair_through_app,
)
from gameday import __version__
from gameday.errors import SafetyError, TargetError
from gameday.journal import JournalWriter
from gameday.remediations import (
    DeploymentParams,
    NoParams,
    Remediation,
    RollbackParams,
    RollForwardParams,
    ScaleParams,
)
from gameday.runbook.world import World
from gameday.scenario import Fault

CONTEXT_ENV = guard.CONTEXT_ENV
#: What the backend needs answering before it starts (``apply`` waits for these first).
DATABASE_PATH = frozenset({POSTGRES, PGBOUNCER, TOXIPROXY})
#: The Deployment of the exporter that probes the links (manifests/cluster-exporter.yaml.j2).
CLUSTER_EXPORTER = "cluster-exporter"
NAMESPACE_ENV = "GAMEDAY_KUBE_NAMESPACE"
#: Wall seconds a rollback waits for the Deployment's controller to see the change just made (milliseconds, idle).
OBSERVE_WAIT_S = 10.0
#: Wall seconds close() waits for a rollout pacer to notice it is ended (it looks every 0.5 s, an API call at most)
PACER_JOIN_S = 5.0
#: The catalogue's remediations through the API (gameday.remediations), one method each on the target.
KUBE_REMEDIES: RemedyRegistry[KubernetesTarget] = RemedyRegistry("kubernetes")


class KubernetesTarget:
    """Implements :class:`drills.targets.base.Target` with the official ``kubernetes`` client."""

    name = "kubernetes"
    remedies = KUBE_REMEDIES

    def __init__(
        self,
        context: str | None = None,
        *,
        kubeconfig: str | Path | None = None,
        namespace: str | None = None,
        world: World | None = None,
        allowed_contexts: Sequence[str] | None = None,
        dry_run: bool = False,
        kubectl: str | None = None,
        endpoints: Endpoints | None = None,
        printer: Callable[[str], None] = print,
    ) -> None:
        self.kubeconfig = str(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG") or None
        # Guardrail first: nothing below may run for a context that is not allowed.
        self.context = guard.resolve_context(self.kubeconfig, context)
        self.allowed = guard.allowed_patterns(allowed_contexts)
        guard.check_context(self.context, self.allowed)
        # the runbook's names (namespace, Deployment, selector, monitoring); ``namespace`` moves the app's
        self.world = world or default_world()
        if namespace and namespace != self.world.namespace:  # the whole stack in that one namespace
            self.world = self.world.model_copy(update={"namespace": namespace, "monitoring_namespace": namespace})
        self.namespace = self.world.namespace
        self.backend = self.world.backend_deployment
        #: runbook seconds per wall second of the drill on this target (faults pace themselves by it)
        self.time_scale = 1.0
        self._calibration: InjectionRecord | None = None
        #: ends what the fault being injected leaves running (once_rolled_out's pacers): set by that fault's revert
        self._closing = threading.Event()
        #: each fault's event by its record's id, so a revert ends its own fault's pacers, not the latest fault's
        self._fault_closing: dict[str, threading.Event] = {}
        #: the threads once_rolled_out started, with the event that ends each: close() ends and joins them all
        self._pacers: list[tuple[threading.Event, threading.Thread]] = []
        self._wall: WallDetection | None = None
        #: when the last fault's runbook clock started (a fault whose start waits for pods sets it later)
        self.clock_start: float | None = None
        self.dry_run = dry_run
        self.kubectl_bin = kubectl or shutil.which("kubectl") or "kubectl"
        ports = ports_for_context(self.context)
        self._endpoints = endpoints or Endpoints(
            app_url=url(ports.app),
            prometheus_url=url(ports.prometheus),
            alertmanager_url=url(ports.alertmanager),
            extra={"webhook_port": str(ports.webhook)},
        )
        self.printer = printer
        self._watch: Any = None
        self._bridge: Any = None
        #: PostgreSQL in its pod (psql through pods/exec): the reverts' down-migration and repair
        self.database: Database = ClusterDatabase(self)

        from kubernetes import client, config

        self.api_client = config.new_client_from_config(config_file=self.kubeconfig, context=self.context)
        self.api_client.user_agent = f"{GAMEDAY_AGENT}/{__version__}"  # the audit log tells our deletions apart
        self.apps = client.AppsV1Api(self.api_client)
        self.core = client.CoreV1Api(self.api_client)

    @classmethod
    def from_env(cls, **kwargs: Any) -> KubernetesTarget:
        """``$GAMEDAY_KUBE_CONTEXT`` (required), ``$KUBECONFIG``, ``$GAMEDAY_KUBE_NAMESPACE``, allowlist env."""
        context = os.environ.get(CONTEXT_ENV)
        if not context:
            raise SafetyError(
                f"set {CONTEXT_ENV} to the kube context to drill on (allowed: {guard.allowed_patterns()})"
            )
        return cls.with_options(context, **kwargs)

    @classmethod
    def with_options(cls, context: str | None = None, **kwargs: Any) -> KubernetesTarget:
        """What the CLI builds: ``context`` or ``$GAMEDAY_KUBE_CONTEXT``, ``$GAMEDAY_KUBE_NAMESPACE``; options
        left as ``None`` (an unset ``--kubeconfig`` / ``--allow-context``) fall back to their defaults."""
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        kwargs.setdefault("namespace", os.environ.get(NAMESPACE_ENV) or None)
        context = guard.preflight(context, kwargs.get("kubeconfig"), kwargs.get("allowed_contexts"))
        return cls(context, **kwargs)

    @property
    def key(self) -> str:
        """One drill at a time per namespace of a kube context."""
        return f"kubernetes:{self.context}/{self.namespace}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The drill's namespaces: the application's and the monitoring one; nothing else is touched."""
        return tuple(dict.fromkeys((self.namespace, self.world.monitoring_namespace)))  # type: ignore[return-value]

    @property
    def alertmanager_address(self) -> str:
        return alertmanager_address(self.world)

    def calibrate(self, time_scale: float, detection: DetectionChain, drill_id: str | None = None) -> dict[str, Any]:
        """The cluster's Prometheus and Alertmanager at the drill's time scale (recorded, reloaded and verified:
        :mod:`drills.k8s.calibration`); the pool leak paces itself by the same scale."""
        from drills.k8s.calibration import ClusterDetection

        self.time_scale = time_scale
        wall = self._wall = detection.at(time_scale)
        cluster = ClusterDetection(self)
        # recorded first: a write or reload that fails half-way is restored like the rest (restore_calibration)
        self._calibration = cluster.record(wall, drill_id)
        reload_s = cluster.write(cluster.wanted(wall), f"detection at time scale {time_scale:g}") \
            if self._calibration else 0.0
        return {"scaled": True, **wall.model_dump(), "record": self._calibration.id if self._calibration else None,
                "reload_seconds": reload_s}

    def restore_calibration(self) -> dict[str, Any] | None:
        """The detection settings as they were before :meth:`calibrate` (also done by the next start after a
        runner was killed: the record is on the Prometheus ConfigMap)."""
        from drills.k8s.calibration import ClusterDetection

        record, self._calibration = self._calibration, None
        if record is None:
            return None
        started = time.monotonic()
        if not ClusterDetection(self).restore(record):
            return None  # already put back (the runner's end reverts every pending record first)
        record.reverted_at = datetime.now(UTC)
        return {"record": record.id, "reload_seconds": round(time.monotonic() - started, 3)}

    def close(self) -> None:
        self._closing.set()
        for closing, thread in self._pacers:  # an earlier fault's too: each holds the event of its own fault
            closing.set()
            if thread is not threading.current_thread():  # a pacer's own callback may close the target
                thread.join(PACER_JOIN_S)
        self._pacers.clear()
        self.stop_observers()
        self.api_client.close()

    # ---------------------------------------------------------------- plumbing
    def _sanitize(self, obj: Any) -> dict[str, Any]:
        return self.api_client.sanitize_for_serialization(obj)

    def _change(self, what: str, body: Any, send: Callable[[], Any]) -> Any:
        """Every API change goes through here: printed in dry-run mode, sent otherwise."""
        if self.dry_run:
            self.printer(f"[dry-run] {self.context}/{self.namespace}: {what}: {json.dumps(body, default=str)}")
            return None
        return send()

    def _read(self, kind: str, name: str, namespace: str | None = None) -> Any:
        from kubernetes.client.exceptions import ApiException

        namespace = self._own(namespace)
        try:
            if kind == "Deployment":
                return self.apps.read_namespaced_deployment(name, namespace)
            if kind == "StatefulSet":
                return self.apps.read_namespaced_stateful_set(name, namespace)
            if kind == "ConfigMap":
                return self.core.read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            raise TargetError(f"cannot read {kind} {namespace}/{name}: {exc.status} {exc.reason}") from None
        raise TargetError(f"unsupported kind {kind}")

    def _own(self, namespace: str | None) -> str:
        """``namespace`` (default: the application's) when it is one of the drill's, else a SafetyError."""
        namespace = namespace or self.namespace
        if namespace not in self.namespaces:
            guard.check_namespace(namespace, self.namespace, "an object")
        return namespace

    def _patch(self, kind: str, name: str, body: Any, what: str, namespace: str | None = None) -> Any:
        """Patch an object of the drill's namespaces; a list body is a JSON patch, a dict a merge patch."""
        namespace = self._own(namespace)
        fn = {
            "Deployment": self.apps.patch_namespaced_deployment,
            "StatefulSet": self.apps.patch_namespaced_stateful_set,
            "ConfigMap": self.core.patch_namespaced_config_map,
        }[kind]

        def send() -> Any:
            from kubernetes.client.exceptions import ApiException

            try:
                if self._watch is None or kind == "ConfigMap":  # the watch follows workloads only
                    return fn(name, namespace, body, field_manager=FIELD_MANAGER)
                with self._watch.own_change(name) as register:
                    result = fn(name, namespace, body, field_manager=FIELD_MANAGER)
                    register(result)
                    return result
            except ApiException as exc:  # one line for people (a revert at start-up, a remediation)
                raise TargetError(f"cannot patch {kind.lower()}/{name} in {namespace} ({what}): {exc.status} "
                                  f"{exc.reason}") from None

        where = "" if namespace == self.namespace else f" in {namespace}"
        return self._change(f"patch {kind.lower()}/{name}{where} ({what})", body, send)

    def kubectl_argv(self) -> list[str]:
        """``kubectl`` pinned to this target's kubeconfig and (allowed) context."""
        cmd = [self.kubectl_bin, "--context", self.context]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        return cmd

    def _kubectl(self, *args: str, stdin: str | None = None, timeout: float = 300.0) -> str:
        cmd = [*self.kubectl_argv(), *args]
        try:
            result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            raise TargetError(f"kubectl not found ({self.kubectl_bin}); install it or pass kubectl=") from None
        if result.returncode != 0:
            raise TargetError(f"kubectl {' '.join(args[:3])} failed: {result.stderr.strip()[:500]}")
        return result.stdout

    # ---------------------------------------------------------------- Target: lifecycle
    def render_manifests(self, images: dict[str, str] | None = None, image_keys: dict[str, str] | None = None,
                         extra: Sequence[dict[str, Any]] = (), workers: int = 0) -> list[dict[str, Any]]:
        """The stack rendered from the runbook's world (:mod:`drills.k8s.stack`, no request); every object
        must belong to one of the drill's namespaces.

        ``images`` replaces container images by name (``--pull``: upstream images for the data services).
        ``image_keys`` (tag -> build key of a locally built image) go into the pod template's annotation
        ``gameday.io/image-keys``, so pods are replaced when an image was rebuilt under the same tag.
        ``workers``: the cluster's worker nodes (> 0: the backend spreads over them, the rest stays on the control
        plane, :func:`drills.k8s.stack.pin_to_control_plane`).
        """
        from drills.k8s.stack import finish, pin_to_control_plane, render

        docs = [*render(self.world, workers=workers), *finish(list(extra))]
        if workers:
            pin_to_control_plane(docs, self.world)
        for doc in docs:
            template = doc.get("spec", {}).get("template", {})
            containers = template.get("spec", {}).get("containers") or []
            for container in containers:
                if images and container.get("image") in images:
                    container["image"] = images[container["image"]]
            keys = sorted({image_keys[c["image"]] for c in containers if image_keys and c.get("image") in image_keys})
            if keys:
                annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
                annotations[IMAGE_KEYS_ANNOTATION] = ",".join(keys)
            meta = doc.get("metadata", {})
            namespace = meta.get("name") if doc.get("kind") == "Namespace" else meta.get("namespace")
            if namespace not in self.namespaces:
                guard.check_namespace(namespace, self.namespace, f"{doc.get('kind')}/{meta.get('name')}")
        return docs

    def up(self, timeout: float = 300.0) -> None:
        """What a drill needs before it starts: the deployed stack, ready.  It never redeploys (a drill must
        not change the stack's definition; ``gameday cluster up`` deploys, :meth:`apply`)."""
        from kubernetes.client.exceptions import ApiException

        try:
            self.apps.read_namespaced_deployment(self.backend, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise TargetError(f"cannot read deployment/{self.backend}: {exc.status} {exc.reason}") from None
            raise TargetError(f"the Hospital-ERP stack of this runbook (deployment/{self.backend}) is not deployed "
                              f"in {self.namespace} on {self.context}: run `gameday cluster up` with the same "
                              f"runbook first") from None
        if not self.dry_run:
            self.wait_ready(timeout)

    def apply(self, timeout: float = 300.0, images: dict[str, str] | None = None,
              image_keys: dict[str, str] | None = None, extra: Sequence[dict[str, Any]] = (), workers: int = 0) -> None:
        """Server-side apply the stack (and ``extra`` objects of the drill's namespaces, e.g. the HTTPS front),
        then wait until every workload is ready (idempotent)."""
        docs = self.render_manifests(images, image_keys, extra, workers)
        # Toxiproxy's clients last, once the database path behind it is ready.  The backend exits when it cannot
        # reach the database at start (as the real service does), each exit costing the kubelet's growing
        # back-off; and Toxiproxy dials one client's upstream at a time, so probes that reach it before
        # PgBouncer's Service is routed hold everyone behind a dial that times out.
        clients = {self.backend, CLUSTER_EXPORTER}
        late = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] in clients]
        deadline = time.monotonic() + timeout
        steps = (([d for d in docs if d not in late], lambda: self.is_ready(names=DATABASE_PATH)),
                 (late, self.is_ready))
        for part, ready in steps:
            self._apply_docs(part)
            if not self.dry_run:
                self._wait(ready, deadline, timeout)

    def _apply_docs(self, docs: list[dict[str, Any]]) -> None:
        rendered = yaml.safe_dump_all(docs, sort_keys=False)
        self._change(
            "apply --server-side",
            [f"{d['kind']}/{d['metadata']['name']}" for d in docs],
            lambda: self._kubectl(
                "apply",
                "--server-side",
                "--force-conflicts",
                f"--field-manager={FIELD_MANAGER}",
                "-f",
                "-",
                stdin=rendered,
            ),
        )

    def wait_ready(self, timeout: float = 300.0) -> None:
        self._wait(self.is_ready, time.monotonic() + timeout, timeout)

    def _wait(self, ready: Callable[[], bool], deadline: float, timeout: float) -> None:
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(1.0)
        raise TargetError(f"hospital-erp stack in {self.namespace} not ready after {timeout:.0f}s")

    def down(self) -> None:
        """Revert pending faults, then delete the drill's namespaces (and only them)."""
        for record in self.pending_injections():
            self.revert(record)
        for namespace in self.namespaces:
            self._change(f"delete namespace {namespace}", {},
                         lambda namespace=namespace: self.core.delete_namespace(namespace))

    def is_ready(self, names: frozenset[str] | None = None) -> bool:
        """Every workload of the drill's namespaces ready (``names``: only those of the app namespace)."""
        from kubernetes.client.exceptions import ApiException

        try:
            workloads = [w for namespace in self.namespaces for w in (
                *self.apps.list_namespaced_deployment(namespace).items,
                *self.apps.list_namespaced_stateful_set(namespace).items)]
        except ApiException:
            return False
        if names is not None:
            workloads = [w for w in workloads if w.metadata.namespace == self.namespace and w.metadata.name in names]
            if {w.metadata.name for w in workloads} != names:
                return False
        elif not any(w.metadata.name == self.backend for w in workloads):
            return False
        for w in workloads:
            want = w.spec.replicas if w.spec.replicas is not None else 1
            status = w.status
            if (status.observed_generation or 0) < (w.metadata.generation or 0):
                return False
            if (status.ready_replicas or 0) != want or (status.updated_replicas or 0) != want:
                return False
            if (status.replicas or 0) != want:  # old pods still terminating
                return False
        return True

    def endpoints(self) -> Endpoints:
        return self._endpoints

    # ---------------------------------------------------------------- Target: observe
    def replicas(self) -> list[ReplicaState]:
        """Backend pods as ``kubectl get pods`` shows them."""
        from kubernetes.client.exceptions import ApiException

        try:
            pods = self.core.list_namespaced_pod(self.namespace, label_selector=self.world.selector).items
        except ApiException as exc:
            raise TargetError(f"cannot list pods: {exc.status} {exc.reason}") from None
        out = []
        for pod in sorted(pods, key=lambda p: p.metadata.name):
            state, ready, restarts = pod_state(pod)
            version = (pod.metadata.labels or {}).get(VERSION_LABEL, "")
            out.append(ReplicaState(name=pod.metadata.name, state=state, ready=ready, restarts=restarts,
                                    version=version))  # fmt: skip
        return out

    def rollout_history(self) -> list[str]:
        """Backend versions by ReplicaSet revision, oldest first (``kubectl rollout history``)."""
        return [version for _, version, _ in self._revisions()]

    def _revisions(self) -> list[tuple[int, str, Any]]:
        dep = self._read("Deployment", self.backend)
        rss = self.apps.list_namespaced_replica_set(self.namespace).items
        out = []
        for rs in rss:
            if not any(o.uid == dep.metadata.uid for o in rs.metadata.owner_references or []):
                continue
            revision = int((rs.metadata.annotations or {}).get("deployment.kubernetes.io/revision", "0"))
            version = (rs.spec.template.metadata.labels or {}).get(VERSION_LABEL, "")
            out.append((revision, version, rs))
        return sorted(out, key=lambda r: r[0])

    # ---------------------------------------------------------------- Target: faults
    def knobs(self) -> dict[str, Any]:
        """The runtime knobs the pods read now (``{}`` = every knob at its default)."""
        obj = self._read("ConfigMap", KNOBS_CONFIGMAP)
        return json.loads((obj.data or {}).get(KNOBS_KEY) or "{}")

    def set_knobs(self, what: str, drop: Sequence[str] = (), **values: float) -> None:
        """Merge ``values`` into the knobs the pods read (a fault's, or a responder's fix); ``drop`` puts
        knobs back to their defaults."""
        knobs = {k: v for k, v in {**self.knobs(), **values}.items() if k not in drop}
        body = {"data": {KNOBS_KEY: json.dumps(knobs, sort_keys=True)}}
        self._patch("ConfigMap", KNOBS_CONFIGMAP, body, what)

    def once_rolled_out(self, version: str, then: Callable[[], None], timeout: float = 300.0, *,
                        serving: bool = False) -> None:
        """Call ``then`` (on a daemon thread) once every backend pod runs ``version`` and none is terminating
        (``serving``: once as many pods of ``version`` are ready as the Deployment wants; older pods may still be
        on their way out, they no longer serve), or after ``timeout``; not at all once the drill's faults are
        reverted or the target is closed."""
        if self.dry_run:
            return  # nothing rolls out
        closing = self._closing

        def wait() -> None:
            deadline = time.monotonic() + timeout
            while not closing.is_set():
                try:
                    pods = self.replicas()
                    wanted = self._read("Deployment", self.backend).spec.replicas
                    if serving:
                        out = sum(p.version == version and p.ready and p.state != "Terminating" for p in pods) >= wanted
                    else:
                        out = len(pods) == wanted and all(p.version == version and p.state != "Terminating"
                                                          for p in pods)  # fmt: skip
                except (TargetError, OSError, urllib3.exceptions.HTTPError):
                    out = False  # the API unreachable for a moment (or gone with its cluster): look again
                if out or time.monotonic() > deadline:
                    if not closing.is_set():
                        # reverted meanwhile (nothing left to pace), or the cluster is gone
                        with contextlib.suppress(TargetError, OSError, urllib3.exceptions.HTTPError):
                            then()
                    return
                closing.wait(0.5)

        thread = threading.Thread(target=wait, name=f"rolled-out-{version}", daemon=True)
        self._pacers = [(c, t) for c, t in self._pacers if t.is_alive()]
        self._pacers.append((closing, thread))
        thread.start()

    def _object(self, kind: str, name: str) -> KubeObject:
        return KubeObject(self, kind, name, self._sanitize(self._read(kind, name)))

    def describe(self, fault: Fault) -> str:
        actuator = KUBE_FAULTS[fault.type]
        return f"{actuator.kind.lower()}/{actuator.object_name(self.world)} {actuator.describe(fault.params)}"

    def inject(self, fault: Fault, drill_id: str | None = None) -> InjectionRecord:
        """Write the undo state into the object's annotation, then make the change."""
        actuator = KUBE_FAULTS[fault.type]
        actuator.check(self, fault.params)
        obj = self._object(actuator.kind, actuator.object_name(self.world))
        existing = (obj.body["metadata"].get("annotations") or {}).get(INJECTION_ANNOTATION)
        if existing:
            raise SafetyError(f"{obj.kind.lower()}/{obj.name} already carries a pending fault: {existing[:200]}")
        record = InjectionRecord(
            id=uuid.uuid4().hex[:12],
            target=f"kubernetes:{self.context}",
            fault=fault.type,
            params=fault.params.model_dump(),
            revert_state={"context": self.context, "namespace": self.namespace, "kind": obj.kind, "name": obj.name,
                          **actuator.prepare(obj, fault.params)},
            drill_id=drill_id,
            runner_pid=os.getpid(),
        )  # fmt: skip
        # 1. persist: the cluster now knows how to undo what follows
        obj.patch({"metadata": {"annotations": {INJECTION_ANNOTATION: record.model_dump_json()}}}, "record")
        # 2. change; what it leaves running (a pacer) ends with this record's revert
        self._closing = self._fault_closing[record.id] = threading.Event()
        self.clock_start = time.time()
        actuator.inject(obj, fault.params)
        return record

    def fault_clock_start(self) -> float | None:
        return self.clock_start

    def _load_record(self, obj: dict[str, Any]) -> InjectionRecord | None:
        raw = (obj["metadata"].get("annotations") or {}).get(INJECTION_ANNOTATION)
        if not raw:
            return None
        try:
            return InjectionRecord.model_validate_json(raw)
        except ValueError:
            return None

    def revert(self, record: InjectionRecord) -> None:
        """Put the object back as recorded and drop the annotation; a no-op the second time."""
        state = record.revert_state
        if state.get("namespace") not in self.namespaces:
            guard.check_namespace(state.get("namespace"), self.namespace, f"the fault {record.id}")
        # nothing of the fault goes on after its revert (a leak's schedule waiting to start); a record another process
        # wrote (recovery) left nothing running here
        if (ending := self._fault_closing.pop(record.id, None)) is not None:
            ending.set()
        if record.fault is SetupChange.detection:
            from drills.k8s.calibration import ClusterDetection

            ClusterDetection(self).restore(record)
            record.reverted_at = record.reverted_at or datetime.now(UTC)
            return
        obj = self._object(state["kind"], state["name"])
        current = self._load_record(obj.body)
        if current is None or current.id != record.id:
            record.reverted_at = record.reverted_at or datetime.now(UTC)
            return  # already reverted (or replaced by another drill's record: not ours to touch)
        KUBE_FAULTS[record.fault].revert(obj, state)
        record.reverted_at = datetime.now(UTC)

    def pending_injections(self) -> list[InjectionRecord]:
        """Records still on objects of the drill's namespace: faults injected and never reverted."""
        from kubernetes.client.exceptions import ApiException

        objects: list[Any] = []
        for namespace in self.namespaces:
            try:
                objects += [
                    *self.apps.list_namespaced_deployment(namespace).items,
                    *self.apps.list_namespaced_stateful_set(namespace).items,
                    *self.core.list_namespaced_config_map(namespace).items,
                ]
            except ApiException as exc:
                if exc.status != 404:
                    raise TargetError(f"cannot list workloads in {namespace}: {exc.status} {exc.reason}") from None
        records = []
        for obj in objects:
            record = self._load_record(self._sanitize(obj))
            if record is not None:
                records.append(record)
        return records

    # ---------------------------------------------------------------- Target: remediate
    def remediate(self, action: Remediation | str, **params: Any) -> str:
        """A responder's fix through the API: rollouts and scaling like kubectl, knob changes for the
        runtime faults; one method per catalogued remediation (:data:`KUBE_REMEDIES`)."""
        return KUBE_REMEDIES.take(self, action, params)

    @KUBE_REMEDIES.register(Remediation.rollback)
    def _rollback(self, params: RollbackParams) -> str:
        return self._rollout_undo(params.deployment or self.backend, params.to_revision)

    @KUBE_REMEDIES.register(Remediation.restart)
    def _restart(self, params: DeploymentParams) -> str:
        return self._rollout_restart(params.deployment or self.backend)

    @KUBE_REMEDIES.register(Remediation.scale)
    def _scale(self, params: ScaleParams) -> str:
        name = params.deployment or self.backend
        self._patch("Deployment", name, {"spec": {"replicas": params.replicas}}, "scale")
        return f"deployment/{name} scaled to {params.replicas}"

    @KUBE_REMEDIES.register(Remediation.restart_pgbouncer)
    def _restart_pgbouncer(self, params: NoParams) -> str:
        dep = self._read("Deployment", PGBOUNCER)
        if not dep.spec.replicas:  # stopped: bring it back (what "restart the pooler" means then)
            self._patch("Deployment", PGBOUNCER, {"spec": {"replicas": 1}}, "scale")
            return f"deployment/{PGBOUNCER} scaled from 0 to 1"
        return self._rollout_restart(PGBOUNCER)

    @KUBE_REMEDIES.register(Remediation.kill_slow_queries)
    def _kill_slow_queries(self, params: NoParams) -> str:
        """Stands for cancelling the runaway job behind the slow queries."""
        self.set_knobs("kill slow queries", query_latency_s=0.0)
        return "cancelled the slow queries"

    @KUBE_REMEDIES.register(Remediation.failover_upstream)
    def _failover_upstream(self, params: NoParams) -> str:
        """Stands for switching to a healthy eligibility instance."""
        self.set_knobs("fail over the eligibility upstream", upstream_error_fraction=0.0)
        return "failed over the eligibility upstream"

    @KUBE_REMEDIES.register(Remediation.revert_config)
    def _revert_config(self, params: NoParams) -> str:
        """The configuration's good values are the knobs' defaults: dropping them from the ConfigMap puts them back."""
        self.set_knobs("revert the configuration change", drop=CONFIG_KNOBS)
        return f"configuration reverted ({', '.join(CONFIG_KNOBS)} back to the defaults)"

    @KUBE_REMEDIES.register(Remediation.roll_forward)
    def _roll_forward(self, params: RollForwardParams) -> str:
        """A new revision of the Deployment on the fixed release's image (what a hotfix deploy does)."""
        from drills.k8s.faults import KubePoolLeak  # its template(): the image, APP_VERSION and version label

        name = params.deployment or self.backend
        dep = self._read("Deployment", name)
        template = self._sanitize(dep.spec.template)
        new = KubePoolLeak().template(template, params.version)
        self._patch("Deployment", name, [{"op": "replace", "path": "/spec/template", "value": new}], "roll forward")
        return f"deployment/{name} rolled forward to {params.version}"

    @KUBE_REMEDIES.register(Remediation.maintenance_on)
    def _maintenance_on(self, params: NoParams) -> str:
        self.set_knobs("maintenance mode on", maintenance=True)
        return "maintenance mode on: writes are refused"

    @KUBE_REMEDIES.register(Remediation.repair_data)
    def _repair_data(self, params: NoParams) -> str:
        """As on the sandbox, whose rollouts are over when they return: first the backend's rollout (``kubectl
        rollout status``), so no pod of a release being replaced writes again after the repair."""
        settled = wait_rolled_out(self)
        removed = repair_through_app(self.endpoints().app_url)
        late = "" if settled else f" (deployment/{self.backend}'s rollout was still going on)"
        return f"repaired: {removed} duplicated appointment(s) removed{late}"

    @KUBE_REMEDIES.register(Remediation.maintenance_off)
    def _maintenance_off(self, params: NoParams) -> str:
        self.set_knobs("maintenance mode off", drop=["maintenance"])
        return "maintenance mode off: writes are accepted again"

    @KUBE_REMEDIES.register(Remediation.restart_database)
    def _restart_database(self, params: NoParams) -> str:
        sts = self._read("StatefulSet", POSTGRES)
        if not sts.spec.replicas:  # stopped: bring it back
            self._patch("StatefulSet", POSTGRES, {"spec": {"replicas": 1}}, "scale")
            return f"statefulset/{POSTGRES} scaled from 0 to 1"
        body = {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": datetime.now(UTC).isoformat()}}}}}  # fmt: skip
        self._patch("StatefulSet", POSTGRES, body, "restart")
        return f"statefulset/{POSTGRES} restarted"

    @KUBE_REMEDIES.register(Remediation.restore_node)
    def _restore_node(self, params: NoParams) -> str:
        """Every stopped worker of this kind cluster started again, every cordoned one uncordoned (the fault's
        record stays: its revert finds the node back and only drops it)."""
        from drills.k8s import nodes

        done = []
        for node in nodes.workers(self):
            if nodes.start(self, node):
                done.append(f"{node} started")
            if self.core.read_node(node).spec.unschedulable:
                nodes.set_unschedulable(self, node, False)
                done.append(f"{node} uncordoned")
        return "; ".join(done) if done else "every worker node runs and is schedulable"

    @KUBE_REMEDIES.register(Remediation.failover_network)
    def _failover_network(self, params: NoParams) -> str:
        """Stands for moving traffic to a healthy path: every link of the namespace's Toxiproxy without toxics."""
        from drills.faults.network import failover
        from drills.k8s.toxiproxy import ClusterToxiproxy

        return failover(ClusterToxiproxy(self))

    def _rollout_restart(self, name: str) -> str:
        body = {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": datetime.now(UTC).isoformat()}}}}}  # fmt: skip
        self._patch("Deployment", name, body, "rollout restart")
        return f"deployment/{name} restarted"

    def _wait_observed(self, name: str, timeout: float = OBSERVE_WAIT_S) -> None:
        """Until the Deployment's controller has seen its latest change (:func:`rollout.observed`), or ``timeout``;
        a dry run changes nothing to wait for."""
        deadline = time.monotonic() + timeout
        while not self.dry_run and time.monotonic() < deadline:
            if observed(self._read("Deployment", name)):
                return
            time.sleep(0.2)

    def _rollout_undo(self, name: str, to_revision: int | None) -> str:
        """What ``kubectl rollout undo`` does: copy an older ReplicaSet's template into the Deployment.  Right after
        a change (a roll forward, a fault's release) its ReplicaSet may not exist yet: the controller is given a
        moment to see it, so the undo goes back past that change, as it would a second later."""
        if name == self.backend:
            self._wait_observed(name)
        revisions = self._revisions() if name == self.backend else []
        if len(revisions) < 2:
            raise TargetError(f"deployment/{name} has no previous revision to roll back to")
        if to_revision is None:
            _, version, rs = revisions[-2]
        else:
            match = [r for r in revisions if r[0] == int(to_revision)]
            if not match:
                raise TargetError(f"deployment/{name} has no revision {to_revision}")
            _, version, rs = match[0]
        template = self._sanitize(rs.spec.template)
        template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
        body = [{"op": "replace", "path": "/spec/template", "value": template}]
        self._patch("Deployment", name, body, "rollout undo")
        return f"deployment/{name} rolled back to {version or 'previous revision'}"

    # ---------------------------------------------------------------- kubectl watch
    def start_watch(self, journal: JournalWriter, timeout: float = 30.0) -> Any:
        """Journal what responders do with kubectl in this namespace as ``action`` events (actor kubectl)."""
        from drills.k8s.watch import KubeWatch

        self.stop_watch()
        from drills.k8s.audit import log_for

        self._watch = KubeWatch(self.api_client, self.namespace, journal, own_manager=FIELD_MANAGER,
                                audit_log=log_for(self.context))  # fmt: skip
        self._watch.start()
        if not self._watch.wait_ready(timeout):
            fatal = self._watch.fatal
            self.stop_watch()
            raise fatal or TargetError(f"the Kubernetes watch did not start within {timeout:g} s")
        return self._watch

    def stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def start_observers(self, journal: JournalWriter, alert_webhook_url: str | None = None) -> None:
        """What a drill runner needs besides the Target protocol: the kubectl watch and, when the
        runner has an Alertmanager webhook receiver, the bridge from the in-cluster Alertmanager to it."""
        from drills.k8s.alerts import AlertBridge

        self.start_watch(journal)
        if alert_webhook_url and not self.dry_run:
            # the calibrated chain's group wait (none before a calibration), polled a few times per group wait
            # so the bridge adds little to the detection chain
            wait = self._wall.group_wait_s if self._wall else 0.0
            self._bridge = AlertBridge(self._endpoints.alertmanager_url, alert_webhook_url,
                                       interval=min(1.0, max(0.1, wait / 4)) if wait else 1.0,
                                       group_wait=wait).start()

    def observer_error(self) -> TargetError | None:
        """The kubectl watch's fatal error (the API refused it: 401/403), if it stopped for good."""
        return self._watch.fatal if self._watch is not None else None

    def stop_observers(self) -> None:
        self.stop_watch()
        if self._bridge is not None:
            self._bridge.stop()
            self._bridge = None
