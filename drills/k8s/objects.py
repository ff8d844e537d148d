"""The names of the Hospital-ERP objects gameday touches in the drill's namespace, and its own markers.

A leaf module: the target, its fault actuators, the status view and the CLI all need the same names.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gameday.runbook.world import World

#: gameday's own objects (the runbook does not name them); the backend's names are the runbook's (World).
PGBOUNCER = "pgbouncer"
POSTGRES = "postgres"  # a StatefulSet (manifests/postgres.yaml.j2)
IMAGE_REPO = "gameday/hospital-erp-backend"
#: The runtime fault knobs (drills/service/knobs.py) the backend and eligibility pods read from a mounted file.
KNOBS_CONFIGMAP = "erp-knobs"
KNOBS_KEY = "knobs.json"
#: Where the node-loss fault's record lives (a lost node is cluster-wide; its undo record stays in the drill's
#: namespace like every other): rendered with the stack of a cluster with workers (manifests/backend.yaml.j2).
NODE_LOSS_CONFIGMAP = "gameday-node-loss"
#: Where a fault's undo record lives on the object it changed.
INJECTION_ANNOTATION = "gameday.io/injection"
#: Pod-template annotation with the build keys of its locally built images: a rebuilt image replaces the pods.
IMAGE_KEYS_ANNOTATION = "gameday.io/image-keys"
#: Pod-template annotation that marks a broken release (kwok's crashloop stage keys on it; kind ignores it).
CRASHLOOP_ANNOTATION = "gameday.io/crashloop"
VERSION_LABEL = "app.kubernetes.io/version"
#: Our field manager: the kubectl watch tells our changes from responders' by it.
FIELD_MANAGER = "gameday"


@functools.cache
def default_world() -> World:
    """The world of the shipped runbook: what ``gameday cluster up`` deploys unless given another runbook."""
    from gameday.runbook import load_runbook

    return load_runbook().world
