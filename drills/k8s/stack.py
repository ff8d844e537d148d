"""The Hospital-ERP stack as Kubernetes objects, rendered from the runbook's world.

Why rendered: in a game day people type the commands of their own runbook, so the stack must carry the
names those commands use (``deployment/backend`` with ``app=backend`` in ``hospital-erp-system``,
``svc/prometheus-operated`` in ``monitoring``, ...).  Those names are facts of the runbook model
(:class:`gameday.runbook.world.World`); the templates in ``manifests/`` name none of them, and a runbook that
names ``deployment/api -n payments`` gets that stack.  The application's objects go into the world's
namespace, Prometheus and Alertmanager into its monitoring namespace, their configuration at the resting
time scale (:mod:`drills.k8s.monitoring`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
import yaml

from drills.detection import WallDetection
from drills.k8s import monitoring
from drills.k8s.build.toxiproxy import image_tag as toxiproxy_image
from drills.k8s.endpoints import ALERTMANAGER_NODE_PORT, APP_NODE_PORT, PROMETHEUS_NODE_PORT
from drills.k8s.objects import IMAGE_REPO, VERSION_LABEL
from gameday.releases import HEALTHY, Release
from gameday.runbook.world import World

MANIFESTS = Path(__file__).resolve().parent / "manifests"
#: Templates whose objects live in the application's namespace / in the monitoring namespace.
APP_TEMPLATES = ("postgres", "pgbouncer", "backend", "gateway", "eligibility", "cluster-exporter", "toxiproxy")
MONITORING_TEMPLATES = ("prometheus", "alertmanager")
PART_OF = {"app.kubernetes.io/part-of": "hospital-erp"}


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(MANIFESTS), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, autoescape=False)


def alertmanager_address(world: World) -> str:
    """Where Prometheus sends alerts: the Alertmanager Service beside it."""
    return f"{world.alertmanager_service}:{world.alertmanager_port}"


def backend_image(release: Release) -> str:
    """The backend's image of ``release`` (the kind build makes one per release of the catalogue)."""
    return f"{IMAGE_REPO}:{release.version}"


def _docs(template: str, world: World, release: Release = HEALTHY, workers: int = 0) -> list[dict[str, Any]]:
    """One template's objects; the backend (and the eligibility service, the same image) run ``release``;
    ``workers``: the cluster's worker nodes (the backend's spread and disruption budget)."""
    text = _environment().get_template(f"{template}.yaml.j2").render(
        world=world,
        release=release,
        workers=workers,
        backend_image=backend_image(release),
        toxiproxy_image=toxiproxy_image(),
        backend_pod_labels={**world.backend_labels, VERSION_LABEL: release.version},
        node_ports={"app": APP_NODE_PORT, "prometheus": PROMETHEUS_NODE_PORT, "alertmanager": ALERTMANAGER_NODE_PORT},
    )
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render(world: World, detection: WallDetection | None = None, release: Release = HEALTHY,
           workers: int = 0) -> list[dict[str, Any]]:
    """Every object of the stack, namespaced, with the monitoring configuration at ``detection``
    (default: the resting time scale) and the backend on ``release`` (default: the catalogue's healthy one);
    ``workers`` > 0: the backend spread over that many worker nodes, with a PodDisruptionBudget."""
    docs = _docs("namespace", world)
    for names, namespace in ((APP_TEMPLATES, world.namespace), (MONITORING_TEMPLATES, world.monitoring_namespace)):
        for name in names:
            for doc in _docs(name, world, release, workers):
                doc.setdefault("metadata", {})["namespace"] = namespace
                docs.append(doc)
    docs += monitoring.config_maps(detection or monitoring.resting(), world.monitoring_namespace, world.namespace,
                                   alertmanager_address(world))
    return finish(docs)


def finish(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What every object of the stack gets, the front's included: the part-of label, and pods without
    Docker-link variables (a Service the runbook names ``backend`` would give every pod of the namespace
    ``BACKEND_PORT=tcp://...``, which gameday's own settings use for a port number)."""
    for doc in docs:
        doc.setdefault("metadata", {}).setdefault("labels", {}).update(PART_OF)
        pod = doc.get("spec", {}).get("template", {}).get("spec")
        if pod is not None:
            pod.setdefault("enableServiceLinks", False)
    return docs


#: The control-plane node's label and taint (kind keeps the taint once a cluster has workers).
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


def pin_to_control_plane(docs: list[dict[str, Any]], world: World | None) -> list[dict[str, Any]]:
    """A cluster with workers: every workload but the backend runs on the control-plane node.

    Why: the node-loss fault stops or drains a worker, and what it tests is the backend's spread and budget.  The
    single PostgreSQL, PgBouncer and Toxiproxy, the gateway behind the NodePorts and the monitoring chain stay on
    the node no drill stops (the team's managed database and ingress), so a lost worker takes backend pods only.
    ``world`` None: pin every workload of ``docs`` (kube-system's metrics-server).
    """
    for doc in docs:
        if doc.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        if world is not None and doc["metadata"]["name"] == world.backend_deployment:
            continue
        pod = doc["spec"]["template"]["spec"]
        pod.setdefault("nodeSelector", {})[CONTROL_PLANE] = ""
        tolerations = pod.setdefault("tolerations", [])
        tolerations.append({"key": CONTROL_PLANE, "operator": "Exists", "effect": "NoSchedule"})
    return docs
