"""Where a kind cluster's services appear on this machine: 127.0.0.1 only, through kind's port mappings.

A leaf module (no imports of the target) because the kind config, the target's endpoints and the tests all
need the same numbers.  The user's cluster (``gameday``, context ``kind-gameday``) and any non-kind context
use the base ports; every other kind cluster (the test suite's, the bench's) gets its own block of ports
derived from its name, so a test run never collides with a cluster the user keeps up (or a stale one).
The ports sit below the ephemeral range and away from the local sandbox's ports and its test offsets, so a
sandbox drill and a kind drill can run side by side.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

DEFAULT_CLUSTER = "gameday"

#: Cluster networks, out of 10/8, 172.16/12 and 192.168/16.
POD_SUBNET = "100.96.0.0/16"
SERVICE_SUBNET = "100.64.0.0/16"

#: NodePorts of the manifests (drills/k8s/manifests): backend gateway, Prometheus, Alertmanager.
APP_NODE_PORT, PROMETHEUS_NODE_PORT, ALERTMANAGER_NODE_PORT = 30080, 30090, 30093
#: gameday HTTPS front (drills/k8s/front.py): its NodePort on 127.0.0.1:443 for *every* cluster, because the
#: runbook's URLs (https://api.<domain>/health, ...) name no port; so only one cluster at a time serves them
#: (``check_ports_free`` names the one that holds 443).
HTTPS_NODE_PORT, HTTPS_PORT = 30443, 443
_BLOCK = 20  # ports per cluster: 17080-17099 for the default one, then 17100-17119, ...
_BLOCKS = 9  # other clusters' blocks: 17100-17279 (no sandbox port or test offset lands there)


@dataclass(frozen=True)
class ClusterPorts:
    """The host ports of one cluster's mappings, and the drill runner's Alertmanager webhook for it."""

    app: int
    prometheus: int
    alertmanager: int
    webhook: int
    https: int = HTTPS_PORT  # gameday HTTPS front: the same for every cluster (see HTTPS_NODE_PORT)

    @property
    def node_ports(self) -> dict[int, int]:
        """host port -> NodePort, as kind's ``extraPortMappings`` want them."""
        return {self.app: APP_NODE_PORT, self.prometheus: PROMETHEUS_NODE_PORT,
                self.alertmanager: ALERTMANAGER_NODE_PORT, self.https: HTTPS_NODE_PORT}  # fmt: skip


def ports_for_cluster(name: str) -> ClusterPorts:
    """Base ports for the default cluster; a block chosen from the name's CRC for any other (stable)."""
    shift = 0 if name == DEFAULT_CLUSTER else _BLOCK * (1 + zlib.crc32(name.encode()) % _BLOCKS)
    return ClusterPorts(app=17080 + shift, prometheus=17090 + shift, alertmanager=17093 + shift,
                        webhook=17095 + shift)  # fmt: skip


def ports_for_context(context: str) -> ClusterPorts:
    """``kind-<name>`` contexts map to their cluster's block; any other context uses the base ports."""
    return ports_for_cluster(context.removeprefix("kind-") if context.startswith("kind-") else DEFAULT_CLUSTER)


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"
