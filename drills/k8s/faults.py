"""The faults on Kubernetes, one actuator class each (registered in :data:`KUBE_FAULTS`).

Each fault is an ordinary API change a bad deploy or a bad config push would make, on one object of the
drill's namespace: a rollout of a bad release (pool leak, crash loop), PgBouncer scaled to 0, or runtime
knobs in the ``erp-knobs`` ConfigMap (slow queries, error burst; the same knob names and values as on the
local sandbox, :mod:`drills.faults.knobs`).  :class:`~drills.k8s.target.KubernetesTarget` reads the
object, stores the undo data from :meth:`prepare` in the object's annotation, then calls :meth:`inject`;
:meth:`revert` puts back what was recorded and drops the annotation in one JSON patch that first tests the
annotation is still this record's.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from drills.faults.base import FaultActuator, FaultRegistry
from drills.faults.knobs import LEAK_KNOBS, MEMORY_KNOBS, knob_values, leak_pacing, memory_pacing
from drills.faults.network import degrade, describe_network, heal
from drills.k8s.objects import (
    CRASHLOOP_ANNOTATION,
    IMAGE_REPO,
    INJECTION_ANNOTATION,
    KNOBS_CONFIGMAP,
    NODE_LOSS_CONFIGMAP,
    PGBOUNCER,
    POSTGRES,
    VERSION_LABEL,
)
from drills.k8s.toxiproxy import TOXIPROXY, ClusterToxiproxy, replace_pods
from gameday.errors import TargetError
from gameday.faults import (
    CrashloopParams,
    DatabaseDownParams,
    FaultParams,
    FaultType,
    MemoryLeakParams,
    PgbouncerDownParams,
    PoolLeakParams,
)

if TYPE_CHECKING:
    from drills.k8s.target import KubernetesTarget
    from gameday.faults import NetworkParams, NodeLossParams
    from gameday.runbook.world import World

ANNOTATION_PATH = "/metadata/annotations/" + INJECTION_ANNOTATION.replace("/", "~1")


@dataclass(frozen=True)
class KubeObject:
    """The object a fault changes, as read from the API (``body``: plain JSON), and the target to patch it."""

    target: KubernetesTarget
    kind: str
    name: str
    body: dict[str, Any]

    def patch(self, body: Any, what: str) -> None:
        self.target._patch(self.kind, self.name, body, what)

    def restore(self, ops: list[dict[str, Any]], what: str) -> None:
        """Apply ``ops`` and drop the undo record, only if the record on the object is still the one read."""
        recorded = self.body["metadata"]["annotations"][INJECTION_ANNOTATION]
        self.patch([{"op": "test", "path": ANNOTATION_PATH, "value": recorded}, *ops,
                    {"op": "remove", "path": ANNOTATION_PATH}], what)  # fmt: skip


KubeFault = FaultActuator[KubeObject, Any]
KUBE_FAULTS: FaultRegistry[KubeFault] = FaultRegistry("kubernetes")


class _KubeFault(FaultActuator[KubeObject, Any]):
    kind: ClassVar[str] = "Deployment"
    #: the object's name when it is gameday's own; ``None`` = the runbook's backend Deployment
    name: ClassVar[str | None] = None

    def object_name(self, world: World) -> str:
        """The object this fault changes in the runbook's world."""
        return self.name or world.backend_deployment

    def check(self, target: KubernetesTarget, params: FaultParams) -> None:
        """Refuse, before the record is read or written, a fault this cluster cannot take (one line)."""

    def restore_ops(self, obj: KubeObject, undo: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def revert(self, obj: KubeObject, undo: dict[str, Any]) -> str:
        obj.restore(self.restore_ops(obj, undo), f"revert {self.fault.value}")
        return f"{self.kind.lower()}/{obj.name} restored"


class _WorkloadFault(_KubeFault):
    """Changes a Deployment; the undo data is its pod template and replica count."""

    def prepare(self, obj: KubeObject, params: FaultParams) -> dict[str, Any]:
        return {"replicas": obj.body["spec"].get("replicas"), "template": obj.body["spec"]["template"]}

    def restore_ops(self, obj: KubeObject, undo: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"op": "replace", "path": "/spec/template", "value": undo["template"]},
                {"op": "replace", "path": "/spec/replicas", "value": undo["replicas"]}]  # fmt: skip


class _Rollout(_WorkloadFault):
    """Roll the backend out to the release the parameters name (image, APP_VERSION, version label).

    ``strategy``: how this release rolls out, when not as the team's Deployment says.  The Deployment's own
    strategy is back (the fault's change, not a person's) once the release is out everywhere, so a responder's
    ``rollout undo`` rolls as the team's would; the undo record keeps it for the revert too.
    """

    marks_crashloop: ClassVar[bool] = False
    strategy: ClassVar[dict[str, Any] | None] = None

    def describe(self, params: PoolLeakParams | CrashloopParams) -> str:
        return f"to {IMAGE_REPO}:{params.version}: {self.spec.summary}"

    def prepare(self, obj: KubeObject, params: FaultParams) -> dict[str, Any]:
        return {**super().prepare(obj, params), "strategy": obj.body["spec"].get("strategy")}

    def restore_ops(self, obj: KubeObject, undo: dict[str, Any]) -> list[dict[str, Any]]:
        ops = super().restore_ops(obj, undo)
        if undo.get("strategy"):
            ops.append({"op": "replace", "path": "/spec/strategy", "value": undo["strategy"]})
        return ops

    def inject(self, obj: KubeObject, params: PoolLeakParams | CrashloopParams) -> None:
        template = self.template(obj.body["spec"]["template"], params.version)
        ops = [{"op": "replace", "path": "/spec/template", "value": template}]
        own = obj.body["spec"].get("strategy")
        if self.strategy is not None and own:
            ops.append({"op": "replace", "path": "/spec/strategy",
                        "value": {"type": "RollingUpdate", "rollingUpdate": self.strategy}})  # fmt: skip
        obj.patch(ops, f"inject {self.fault.value}")
        if self.strategy is not None and own:
            obj.target.once_rolled_out(params.version, lambda: obj.patch(
                [{"op": "replace", "path": "/spec/strategy", "value": own}],
                f"{self.fault.value}: the Deployment's own rollout strategy back"))  # fmt: skip

    def template(self, template: dict[str, Any], version: str) -> dict[str, Any]:
        """The backend pod template as the bad release would make it."""
        new = copy.deepcopy(template)
        container = next((c for c in new["spec"]["containers"] if c["name"] == "backend"), None)
        if container is None:
            raise TargetError("the backend's pod template has no container named 'backend'; manifests changed?")
        container["image"] = f"{IMAGE_REPO}:{version}"
        container["env"] = [e for e in container.get("env") or [] if e.get("name") != "APP_VERSION"]
        container["env"].append({"name": "APP_VERSION", "value": version})
        metadata = new.setdefault("metadata", {})
        metadata.setdefault("labels", {})[VERSION_LABEL] = version
        if self.marks_crashloop:
            metadata["annotations"] = {**(metadata.get("annotations") or {}), CRASHLOOP_ANNOTATION: "true"}
        return new


@KUBE_FAULTS.register
class KubePoolLeak(_Rollout):
    """The leaking release, paced like the sandbox's (:func:`drills.faults.knobs.leak_pacing`) at the drill's
    time scale through the knobs ConfigMap, so it keeps to runbook time whatever the request rate."""

    fault = FaultType.connection_pool_leak
    #: every leaking pod starts at once, the old ones serving until they are ready: a container's start cannot be
    #: scaled, and one pod after the other took 9 s (9 runbook minutes at scale 60) before the schedule could start
    strategy: ClassVar[dict[str, Any] | None] = {"maxSurge": "100%", "maxUnavailable": 0}

    def prepare(self, obj: KubeObject, params: FaultParams) -> dict[str, Any]:
        knobs = obj.target.knobs()
        return {**super().prepare(obj, params), "knobs": {k: knobs[k] for k in LEAK_KNOBS if k in knobs}}

    def inject(self, obj: KubeObject, params: PoolLeakParams) -> None:
        target = obj.target
        injected = time.time()
        pacing = leak_pacing(target.time_scale, injected)
        due = pacing["slow_plan_from"]
        # "serving everywhere this long after the deploy starts": a container's start cannot be scaled, so where the
        # rollout takes longer than that (kind at high time scales) each leaking pod starts the schedule as it starts
        # serving (its first request past the due time), and the fault's runbook clock starts that much later
        # (journaled as `fault_active` by the runner).  The knobs are written before the rollout: the new pods read
        # them as they start (a later change would reach them only at the kubelet's next ConfigMap sync, seconds
        # late — runbook minutes at high time scales).
        target.set_knobs("pace the pool leak", **pacing)
        target.clock_start = None  # known once the release serves

        def serving() -> None:
            target.clock_start = injected + max(0.0, time.time() - due)

        super().inject(obj, params)
        target.once_rolled_out(params.version, serving, serving=True)

    def revert(self, obj: KubeObject, undo: dict[str, Any]) -> str:
        # the knobs first: the template's restore drops the record, so a runner killed between the two must find
        # the record still there (the next start reverts again; restoring the knobs twice is harmless)
        if "knobs" in undo:  # the pacing knobs as they were (absent = the default)
            obj.target.set_knobs("stop pacing the pool leak", drop=[k for k in LEAK_KNOBS if k not in undo["knobs"]],
                                 **undo["knobs"])
        return super().revert(obj, undo)


@KUBE_FAULTS.register
class KubeMemoryLeak(_Rollout):
    """The memory-leaking release, its pace in the knobs ConfigMap at the drill's time scale (as on the sandbox,
    :func:`drills.faults.knobs.memory_pacing`); the container's ``limits.memory`` is the Deployment's, and the
    kernel's OOM killer does the rest (OOMKilled, restarts with back-off)."""

    fault = FaultType.memory_leak

    def prepare(self, obj: KubeObject, params: FaultParams) -> dict[str, Any]:
        knobs = obj.target.knobs()
        return {**super().prepare(obj, params), "knobs": {k: knobs[k] for k in MEMORY_KNOBS if k in knobs}}

    def inject(self, obj: KubeObject, params: MemoryLeakParams) -> None:  # type: ignore[override]
        obj.target.set_knobs("pace the memory leak", **memory_pacing(params.mib_per_minute, obj.target.time_scale))
        super().inject(obj, params)  # type: ignore[arg-type]

    def revert(self, obj: KubeObject, undo: dict[str, Any]) -> str:
        # the knobs first, as for the pool leak: the template's restore drops the record a killed runner needs
        if "knobs" in undo:
            obj.target.set_knobs("stop pacing the memory leak",
                                 drop=[k for k in MEMORY_KNOBS if k not in undo["knobs"]], **undo["knobs"])
        return super().revert(obj, undo)


@KUBE_FAULTS.register
class KubeCrashloop(_Rollout):
    fault = FaultType.crashloop
    marks_crashloop = True
    #: the release replaces every pod at once, as on the sandbox: Step 2.1's "All 3 backend pods in
    #: CrashLoopBackOff" (one pod at a time stalls after the first, which never becomes ready)
    strategy: ClassVar[dict[str, Any] | None] = {"maxSurge": 0, "maxUnavailable": "100%"}


@KUBE_FAULTS.register
class KubePgbouncerDown(_WorkloadFault):
    fault = FaultType.pgbouncer_down
    name = PGBOUNCER

    def describe(self, params: PgbouncerDownParams) -> str:
        return "scale to 0"

    def inject(self, obj: KubeObject, params: PgbouncerDownParams) -> None:
        obj.patch([{"op": "replace", "path": "/spec/replicas", "value": 0}], f"inject {self.fault.value}")


@KUBE_FAULTS.register
class KubeDatabaseDown(_WorkloadFault):
    """PostgreSQL's StatefulSet scaled to 0 (its volume stays); PgBouncer keeps running."""

    fault = FaultType.database_down
    kind = "StatefulSet"
    name = POSTGRES

    def describe(self, params: DatabaseDownParams) -> str:
        return "scale the postgres StatefulSet to 0 (PgBouncer keeps running)"

    def inject(self, obj: KubeObject, params: DatabaseDownParams) -> None:
        obj.patch([{"op": "replace", "path": "/spec/replicas", "value": 0}], f"inject {self.fault.value}")


class _DatabaseRollout(_Rollout):
    """A release whose damage stays in the database once the release is gone (a migrated schema, wrong rows).

    Revert: the template back, then, once no pod of the release is left to start again (and migrate) or to serve
    (and write), the database put right in PostgreSQL's own pod (``target.database``: drills/k8s/database.py).
    The record goes last, so a runner killed anywhere in between leaves it for the next start, which does the rest
    again (each step is safe twice).
    """

    def database_step(self, target: KubernetesTarget, undo: dict[str, Any]) -> str:
        raise NotImplementedError

    def revert(self, obj: KubeObject, undo: dict[str, Any]) -> str:
        from drills.k8s.rollout import ROLLOUT_WAIT_S, wait_rolled_out

        recorded = obj.body["metadata"]["annotations"][INJECTION_ANNOTATION]
        still_ours = {"op": "test", "path": ANNOTATION_PATH, "value": recorded}
        obj.patch([still_ours, *self.restore_ops(obj, undo)], f"revert {self.fault.value}: the release before")
        version = ((undo["template"].get("metadata") or {}).get("labels") or {}).get(VERSION_LABEL, "")
        release = version or "its release"
        if not wait_rolled_out(obj.target, version or None):
            raise TargetError(f"revert {self.fault.value}: deployment/{obj.name} not back on {release} within "
                              f"{ROLLOUT_WAIT_S:g} s; the database is left alone and the record stays (the next "
                              f"gameday start finishes the revert)")
        done = self.database_step(obj.target, undo)
        obj.restore([], f"revert {self.fault.value}: done")
        return f"deployment/{obj.name} back on {release}; {done}"


@KUBE_FAULTS.register
class KubeForwardMigration(_DatabaseRollout):
    """The care-unit release: its first pod migrates the schema forward as it starts (the backend's own start-up
    migration), and nothing migrates back.  Revert rolls back, then migrates the schema back to what the release
    before needs (recorded from the release catalogue)."""

    fault = FaultType.forward_migration

    def prepare(self, obj: KubeObject, params: FaultParams) -> dict[str, Any]:
        from gameday.releases import release

        labels = (obj.body["spec"]["template"].get("metadata") or {}).get("labels") or {}
        return {**super().prepare(obj, params), "schema": release(labels.get(VERSION_LABEL, "")).schema}

    def database_step(self, target: KubernetesTarget, undo: dict[str, Any]) -> str:
        schema = int(undo.get("schema", 1))
        if schema >= 2:
            return f"schema left at {schema}, as recorded"
        target.database.migrate_back()
        return "schema back to 1 (patients.ward)"


#: The knob the data-at-risk branch turns (maintenance mode), put back as it was by the revert.
MAINTENANCE_KNOBS = ("maintenance",)


@KUBE_FAULTS.register
class KubeDataCorruption(_DatabaseRollout):
    """The double-booking release; revert rolls back and, once no pod of the release serves (so none can book twice
    again), puts maintenance mode back as it was and removes the duplicates it wrote from the real tables (the
    drill's wrong data is its fault too)."""

    fault = FaultType.data_corruption

    def prepare(self, obj: KubeObject, params: FaultParams) -> dict[str, Any]:
        knobs = obj.target.knobs()
        return {**super().prepare(obj, params), "knobs": {k: knobs[k] for k in MAINTENANCE_KNOBS if k in knobs}}

    def database_step(self, target: KubernetesTarget, undo: dict[str, Any]) -> str:
        before = undo.get("knobs") or {}  # a knob missing from it was at its default (maintenance off)
        target.set_knobs("maintenance mode as before the fault",
                         drop=[k for k in MAINTENANCE_KNOBS if k not in before], **before)
        removed = target.database.repair()
        return f"maintenance mode as before; {removed} duplicated appointment(s) removed"


class _KnobFault(_KubeFault):
    """Runtime knobs in the ConfigMap the backend and eligibility pods mount (no restart)."""

    kind = "ConfigMap"
    name = KNOBS_CONFIGMAP

    def describe(self, params: FaultParams) -> str:
        return f"knobs {knob_values(params)}: {self.spec.summary}"

    def prepare(self, obj: KubeObject, params: FaultParams) -> dict[str, Any]:
        return {"data": obj.body.get("data") or {}}

    def inject(self, obj: KubeObject, params: FaultParams) -> None:
        obj.target.set_knobs(f"inject {self.fault.value}", **knob_values(params))

    def restore_ops(self, obj: KubeObject, undo: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"op": "replace" if "data" in obj.body else "add", "path": "/data", "value": undo.get("data") or {}}]


@KUBE_FAULTS.register
class KubeSlowQueries(_KnobFault):
    fault = FaultType.slow_queries


@KUBE_FAULTS.register
class KubeErrorBurst(_KnobFault):
    fault = FaultType.error_burst


@KUBE_FAULTS.register
class KubeConfigChange(_KnobFault):
    """A configuration push without a new image: the ``erp-knobs`` ConfigMap the pods read."""

    fault = FaultType.config_change


@KUBE_FAULTS.register
class KubeNetwork(_KubeFault):
    """Toxics on one of the backend's links through the namespace's Toxiproxy (the backend reaches PgBouncer and
    the eligibility service through it: manifests/toxiproxy.yaml.j2), added and removed through the API server
    (drills/k8s/toxiproxy.py) exactly as on the sandbox (drills/faults/network.py).

    The undo record goes on the Toxiproxy Deployment, whose process holds the toxics, so a killed runner's fault is
    found there.  When Toxiproxy's API does not answer, the revert replaces its pods (the new ones start from the
    config file with every link healthy; the Deployment stays as it was), so the record goes only once no toxic can
    remain.
    """

    fault = FaultType.network
    name = TOXIPROXY

    def describe(self, params: NetworkParams) -> str:
        return describe_network(params)

    def prepare(self, obj: KubeObject, params: NetworkParams) -> dict[str, Any]:
        return {"link": params.link, "mode": params.mode}

    def inject(self, obj: KubeObject, params: NetworkParams) -> None:
        degrade(ClusterToxiproxy(obj.target), params)

    def revert(self, obj: KubeObject, undo: dict[str, Any]) -> str:
        link = str(undo.get("link", "pgbouncer"))
        try:
            removed = heal(ClusterToxiproxy(obj.target), undo)
        except TargetError as exc:
            replaced = replace_pods(obj.target, obj.body)
            obj.restore([], f"revert {self.fault.value}")
            return f"Toxiproxy's pods replaced ({', '.join(replaced) or 'none ran'}; {exc}): links without toxics"
        obj.restore([], f"revert {self.fault.value}")
        return f"link to {link} healthy again: removed {', '.join(removed) or 'no toxic'}"


@KUBE_FAULTS.register
class KubeNodeLoss(_KubeFault):
    """A worker node lost: its kind container stopped (``docker stop``: the kubelet and its pods with it), or the
    node drained (cordoned, the drill's pods on it evicted as the PodDisruptionBudget allows): drills/k8s/nodes.py.

    The node is cluster-wide, so its record goes on gameday's own ConfigMap in the drill's namespace (rendered with
    the stack of a cluster with workers), found there by the next start after a kill.  The record names the node;
    :meth:`inject` reads it back, so what is changed is exactly what the revert will find.  Revert: start the
    container (or uncordon), wait until the node is Ready, then drop the record; a node that does not come back
    keeps the record for the next start.  Once the node is back, the backend is spread over the workers again (a
    rollout restart when its pods all stayed on the nodes left), so the next drill does not start lopsided.
    """

    fault = FaultType.node_loss
    kind = "ConfigMap"
    name = NODE_LOSS_CONFIGMAP

    def describe(self, params: NodeLossParams) -> str:
        which = f"worker {params.worker}" if params.worker else "the worker running the most backend pods"
        how = "stop its machine (docker stop)" if params.mode == "stop" else "drain it (cordon, evict its pods)"
        return f"node loss: {which}: {how}"

    def check(self, target: KubernetesTarget, params: FaultParams) -> None:
        from drills.k8s import nodes

        nodes.choose(target, getattr(params, "worker", None))  # a kind cluster with that worker, or one line

    def prepare(self, obj: KubeObject, params: NodeLossParams) -> dict[str, Any]:
        from drills.k8s import nodes

        return {"node": nodes.choose(obj.target, params.worker), "mode": params.mode}

    def inject(self, obj: KubeObject, params: NodeLossParams) -> None:
        from drills.k8s import nodes

        record = obj.target._load_record(obj.target._sanitize(obj.target._read(self.kind, obj.name)))
        node = str(record.revert_state["node"]) if record else nodes.choose(obj.target, params.worker)
        if params.mode == "stop":
            nodes.stop(obj.target, node)
        else:
            nodes.drain(obj.target, node)

    def revert(self, obj: KubeObject, undo: dict[str, Any]) -> str:
        from drills.k8s import nodes

        node = str(undo["node"])
        started = nodes.start(obj.target, node)
        nodes.set_unschedulable(obj.target, node, False)
        if not nodes.wait_ready(obj.target, node):
            raise TargetError(f"revert node-loss: node {node} not Ready within {nodes.READY_WAIT_S:g} s; the record "
                              "stays (the next gameday start tries again)")
        spread = nodes.spread_again(obj.target)  # the next drill starts with the backend on every worker again
        obj.restore([], f"revert {self.fault.value}")
        return (f"node {node} {'started again' if started else 'running'}, schedulable and Ready; the backend "
                + ("spread over the workers again" if spread else "not spread over every worker yet"))
