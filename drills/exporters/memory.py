"""Containers' memory and their last termination under the names kube-state-metrics and cAdvisor use, for both
exporters (the sandbox's kubelets' published state, the cluster's pods and metrics API): one place, so the memory
fault's alert reads the same on both targets.

- ``kube_pod_container_status_last_terminated_reason`` (1 per container, labelled ``reason``: OOMKilled, Error,
  Completed): why the container last died; a new pod has none;
- ``kube_pod_container_resource_limits`` (``resource="memory"``, ``unit="byte"``): the container's limit;
- ``container_memory_working_set_bytes``: what it uses now (what ``kubectl top pods`` shows).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily


@dataclass(frozen=True)
class ContainerMemory:
    namespace: str
    pod: str
    container: str
    last_terminated_reason: str | None = None
    limit_bytes: float | None = None
    working_set_bytes: float | None = None


def memory_families(containers: Iterable[ContainerMemory]) -> Iterator[Any]:
    reason = GaugeMetricFamily("kube_pod_container_status_last_terminated_reason",
                               "why the container last terminated (OOMKilled, Error, Completed)",
                               labels=["namespace", "pod", "container", "reason"])  # fmt: skip
    limits = GaugeMetricFamily("kube_pod_container_resource_limits", "the container's resource limits",
                               labels=["namespace", "pod", "container", "resource", "unit"])  # fmt: skip
    usage = GaugeMetricFamily("container_memory_working_set_bytes", "the container's memory in use (bytes)",
                              labels=["namespace", "pod", "container"])  # fmt: skip
    for c in containers:
        key = [c.namespace, c.pod, c.container]
        if c.last_terminated_reason:
            reason.add_metric([*key, c.last_terminated_reason], 1.0)
        if c.limit_bytes is not None:
            limits.add_metric([*key, "memory", "byte"], c.limit_bytes)
        if c.working_set_bytes is not None:
            usage.add_metric(key, c.working_set_bytes)
    yield from (reason, limits, usage)


_UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}


def quantity_bytes(text: str | None) -> float | None:
    """A Kubernetes memory quantity (``384Mi``, ``123456Ki``, ``1G``, ``402653184``) in bytes, else ``None``."""
    if not text:
        return None
    number = text.rstrip("".join({c for unit in _UNITS for c in unit}))
    try:
        return float(number) * _UNITS[text[len(number):]]
    except (KeyError, ValueError):
        return None


def kube_containers(pods: Iterable[Any], namespace: str,
                    usage: dict[tuple[str, str], float]) -> list[ContainerMemory]:
    """``kubernetes`` client V1Pods as :class:`ContainerMemory` rows; ``usage``: ``(pod, container) -> bytes`` from
    the metrics API (what ``kubectl top pods`` reads)."""
    rows = []
    for pod in pods:
        name = pod.metadata.name
        limits = {c.name: quantity_bytes(((c.resources and c.resources.limits) or {}).get("memory"))
                  for c in pod.spec.containers or []}  # fmt: skip
        for status in pod.status.container_statuses or []:
            terminated = status.last_state.terminated if status.last_state else None
            rows.append(ContainerMemory(namespace, name, status.name, terminated.reason if terminated else None,
                                        limits.get(status.name), usage.get((name, status.name))))
    return rows


def metrics_api_usage(answer: dict[str, Any]) -> dict[tuple[str, str], float]:
    """``(pod, container) -> bytes`` from a ``metrics.k8s.io/v1beta1`` PodMetricsList."""
    out = {}
    for item in answer.get("items") or []:
        for container in item.get("containers") or []:
            value = quantity_bytes((container.get("usage") or {}).get("memory"))
            if value is not None:
                out[(item["metadata"]["name"], container["name"])] = value
    return out


class UsagePoller:
    """The metrics API read every ``period`` seconds on a thread of its own: a scrape never waits for it, and an
    answer missing (metrics-server's first scrapes, an API hiccup) is no series rather than a stale one."""

    def __init__(self, fetch: Callable[[], dict[str, Any]], period: float = 5.0) -> None:
        self._fetch = fetch
        self.period = period
        self._usage: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="metrics-api", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._usage = metrics_api_usage(self._fetch())
            except Exception:  # no metrics API (yet): no usage series
                self._usage = {}
            self._stop.wait(self.period)

    @property
    def usage(self) -> dict[tuple[str, str], float]:
        return self._usage

    def stop(self) -> None:
        self._stop.set()
