"""Where the kind cluster's services appear on this machine: 127.0.0.1 only, through kind's port mappings.

A leaf module (no imports of the target) because the kind config, the target's endpoints and the tests all
need the same numbers.  The ports sit below the ephemeral range and away from the local sandbox's ports
(15432-19100 plus its test offsets), so a sandbox drill and a kind drill can run side by side.
"""

from __future__ import annotations

APP_PORT = 17080  # backend Service (NodePort 30080)
PROMETHEUS_PORT = 17090  # NodePort 30090
ALERTMANAGER_PORT = 17093  # NodePort 30093
#: The runner's Alertmanager webhook for a Kubernetes drill (the bridge posts the cluster's alerts to it).
WEBHOOK_PORT = 17095
NODE_PORTS = {APP_PORT: 30080, PROMETHEUS_PORT: 30090, ALERTMANAGER_PORT: 30093}

#: Cluster networks, out of 10/8, 172.16/12 and 192.168/16.
POD_SUBNET = "100.96.0.0/16"
SERVICE_SUBNET = "100.64.0.0/16"


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"
