"""What the network fault does to a link through Toxiproxy, the same on both targets.

Why one module: the sandbox reaches Toxiproxy on 127.0.0.1 and the kind target through the API server
(:class:`drills.sandbox.toxiproxy.Toxiproxy` and its subclass in ``drills/k8s/toxiproxy.py``), but the toxics a
mode adds, and what a revert must do after a partition, must not differ between them.
"""

from __future__ import annotations

from typing import Any

from drills.sandbox.toxiproxy import LINKS, PREFIX, Toxiproxy
from gameday.faults import NetworkParams


def describe_network(params: NetworkParams) -> str:
    """The journal's one-line description of the fault."""
    what = {
        "latency": f"{params.latency_ms} ms (+/- {params.jitter_ms} ms) latency",
        "reset": "connection resets",
        "partition": "a partition",
    }[params.mode]
    share = "" if params.share == 1 else f" on {params.share:.0%} of its connections"
    return f"{what} on the backend's link to {params.link}{share} (Toxiproxy)"


def network_toxics(params: NetworkParams) -> list[tuple[str, str, dict[str, Any]]]:
    """``(stream, toxic type, attributes)`` for a mode.  Latency delays the replies (one round trip longer by
    it); a reset answers the next bytes of either side with RST; a partition (``timeout`` 0) holds every byte
    both ways and never closes, as dropped packets do."""
    if params.mode == "latency":
        return [("downstream", "latency", {"latency": params.latency_ms, "jitter": params.jitter_ms})]
    if params.mode == "reset":
        return [(stream, "reset_peer", {"timeout": 0}) for stream in ("upstream", "downstream")]
    return [(stream, "timeout", {"timeout": 0}) for stream in ("upstream", "downstream")]


def degrade(proxy: Toxiproxy, params: NetworkParams) -> None:
    """Add the mode's toxics to the link, named ``gameday-<mode>-<stream>`` (a revert finds them by the link)."""
    for stream, kind, attributes in network_toxics(params):
        proxy.add(params.link, f"{PREFIX}{params.mode}-{stream}", kind, stream, attributes, params.share)


def heal(proxy: Toxiproxy, undo: dict[str, Any]) -> list[str]:
    """Remove every toxic of the recorded link (anyone's); the names removed.  After a partition whose toxics a
    cut-short revert already removed, still drop the connections it held (:meth:`Toxiproxy.reconnect`)."""
    link = str(undo.get("link", "pgbouncer"))
    removed = proxy.clear(link)
    if undo.get("mode") == "partition" and not removed:
        proxy.reconnect(link)
    return removed


def failover(proxy: Toxiproxy) -> str:
    """The ``failover-network`` remediation: stands for moving the traffic to a healthy path, so every link of the
    backend ends without toxics (a partition's held connections dropped, as :meth:`Toxiproxy.clear` does)."""
    cleared = {link: proxy.clear(link) for link in LINKS}
    degraded = [link for link, names in cleared.items() if names]
    return f"failed over the network path to {', '.join(degraded)}" if degraded else "no degraded link found"
