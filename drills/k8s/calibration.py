"""A drill's detection chain on the cluster: Prometheus's and Alertmanager's ConfigMaps rewritten for the
drill's time scale, reloaded through their own reload APIs, and put back when the drill ends.

Why like a fault: the change outlives a runner killed with SIGKILL, so it is undone the way a fault is.
Before the ConfigMaps change, an :class:`~drills.targets.base.InjectionRecord` holding their old data goes
into the Prometheus ConfigMap's ``gameday.io/injection`` annotation; ``pending_injections`` finds it and the
next ``gameday`` start restores the settings (:mod:`drills.recovery`).

A reload is done only when the services say they run the new settings: Prometheus's loaded configuration
and rule durations, Alertmanager's loaded file (the kubelet needs a few seconds to update a mounted
ConfigMap, so the reload is asked again until they match).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from drills.detection import WallDetection
from drills.k8s import monitoring
from drills.k8s.objects import INJECTION_ANNOTATION
from drills.targets.base import InjectionRecord, SetupChange
from gameday.errors import SafetyError, TargetError

if TYPE_CHECKING:
    from drills.k8s.target import KubernetesTarget

#: How long Prometheus and Alertmanager may take to run new settings (kubelet sync + reload).
RELOAD_TIMEOUT_S = float(os.environ.get("GAMEDAY_KUBE_RELOAD_TIMEOUT", "120"))
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}


def seconds(text: str | float | int) -> float:
    """A Prometheus duration (``1m30s``, ``500ms``) or a number of seconds, in seconds."""
    if isinstance(text, int | float):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


class ClusterDetection:
    """Reads, rewrites and reloads the cluster's detection settings for one target."""

    def __init__(self, target: KubernetesTarget) -> None:
        self.target = target
        self.namespace = target.world.monitoring_namespace

    def wanted(self, wall: WallDetection) -> dict[str, dict[str, str]]:
        return monitoring.config_data(wall, self.target.namespace, self.target.alertmanager_address)

    def current(self) -> dict[str, dict[str, str]]:
        return {name: dict(self._read(name).get("data") or {})
                for name in (monitoring.PROMETHEUS_CONFIG, monitoring.ALERTMANAGER_CONFIG)}  # fmt: skip

    def _read(self, name: str) -> dict[str, Any]:
        return self.target._sanitize(self.target._read("ConfigMap", name, self.namespace))

    # -- a drill's change ---------------------------------------------------------------------------------
    def record(self, wall: WallDetection, drill_id: str | None) -> InjectionRecord | None:
        """Record the settings in force on the cluster (before :meth:`write` changes them); ``None`` in dry-run
        mode, where the change is printed instead."""
        prometheus = self._read(monitoring.PROMETHEUS_CONFIG)
        existing = (prometheus["metadata"].get("annotations") or {}).get(INJECTION_ANNOTATION)
        if existing:
            raise SafetyError(f"configmap/{monitoring.PROMETHEUS_CONFIG} in {self.namespace} already carries "
                              f"another drill's detection settings: {existing[:200]}")
        record = InjectionRecord(
            id=uuid.uuid4().hex[:12], target=f"kubernetes:{self.target.context}", fault=SetupChange.detection,
            params={"time_scale": wall.time_scale},
            revert_state={"context": self.target.context, "namespace": self.namespace, "kind": "ConfigMap",
                          "name": monitoring.PROMETHEUS_CONFIG, "data": _pack(self.current())},
            drill_id=drill_id, runner_pid=os.getpid(),
        )  # fmt: skip
        if self.target.dry_run:
            self.target.printer(f"[dry-run] {self.target.context}/{self.namespace}: detection settings at time "
                                f"scale {wall.time_scale:g}: {wall.model_dump()}")
            return None
        self._patch(monitoring.PROMETHEUS_CONFIG, {"metadata": {"annotations": {
            INJECTION_ANNOTATION: record.model_dump_json()}}}, "record")  # fmt: skip
        return record

    def restore(self, record: InjectionRecord) -> bool:
        """Put the recorded settings back, drop the record, reload; False (nothing done) once done."""
        obj = self._read(monitoring.PROMETHEUS_CONFIG)
        raw = (obj["metadata"].get("annotations") or {}).get(INJECTION_ANNOTATION)
        if not raw or InjectionRecord.model_validate_json(raw).id != record.id:
            return False  # already restored (or another drill's: not ours to touch)
        data = _unpack(record.revert_state["data"])
        self.write(data, "restore detection settings", record_json=raw)
        return True

    def write(self, data: dict[str, dict[str, str]], what: str, record_json: str | None = None) -> float:
        """Replace the ConfigMaps' data (the Prometheus one last, dropping ``record_json``'s annotation in the
        same patch), then reload until both services run it; returns the seconds that took."""
        path = "/metadata/annotations/" + INJECTION_ANNOTATION.replace("/", "~1")
        self._patch(monitoring.ALERTMANAGER_CONFIG, [{"op": "replace", "path": "/data",
                                                      "value": data[monitoring.ALERTMANAGER_CONFIG]}], what)
        ops: list[dict[str, Any]] = [{"op": "replace", "path": "/data", "value": data[monitoring.PROMETHEUS_CONFIG]}]
        if record_json is not None:
            ops = [{"op": "test", "path": path, "value": record_json}, *ops, {"op": "remove", "path": path}]
        self._patch(monitoring.PROMETHEUS_CONFIG, ops, what)
        return self.reload(data)

    def _patch(self, name: str, body: Any, what: str) -> None:
        self.target._patch("ConfigMap", name, body, what, namespace=self.namespace)

    # -- reloading ------------------------------------------------------------------------------------------
    def reload(self, data: dict[str, dict[str, str]], timeout: float = RELOAD_TIMEOUT_S) -> float:
        """Ask both services to reload until they run ``data``; :class:`TargetError` after ``timeout``."""
        endpoints = self.target.endpoints()
        checks: dict[str, tuple[str, Callable[[httpx.Client, str], bool]]] = {
            "Prometheus": (endpoints.prometheus_url,
                           lambda c, url: _prometheus_runs(c, url, data[monitoring.PROMETHEUS_CONFIG])),
            "Alertmanager": (endpoints.alertmanager_url,
                             lambda c, url: _alertmanager_runs(c, url, data[monitoring.ALERTMANAGER_CONFIG])),
        }  # fmt: skip
        started = time.monotonic()
        pending = dict(checks)
        with httpx.Client(timeout=5.0) as client:
            while True:
                for name, (url, runs) in list(pending.items()):
                    try:
                        client.post(f"{url}/-/reload")
                        if runs(client, url):
                            del pending[name]
                    except (httpx.HTTPError, ValueError, KeyError, TypeError):
                        pass  # restarting, or the kubelet has not written the file yet: ask again
                if not pending:
                    return round(time.monotonic() - started, 3)
                if time.monotonic() - started > timeout:
                    raise TargetError(f"{' and '.join(pending)} did not load the new detection settings within "
                                      f"{timeout:g} s (GAMEDAY_KUBE_RELOAD_TIMEOUT)")
                time.sleep(0.5)


def _pack(data: dict[str, dict[str, str]]) -> str:
    """The settings as base64: the record's JSON must hold no character Go's JSON encoder escapes (``<``, ``>``,
    ``&``; the rules have them), or the API server's JSON-patch ``test`` of the record would never match."""
    return base64.b64encode(json.dumps(data, sort_keys=True).encode()).decode()


def _unpack(packed: str) -> dict[str, dict[str, str]]:
    return json.loads(base64.b64decode(packed))


def _prometheus_runs(client: httpx.Client, url: str, data: dict[str, str]) -> bool:
    """The loaded global intervals and every alert rule's ``for`` are the ones in ``data``."""
    loaded = yaml.safe_load(client.get(f"{url}/api/v1/status/config").json()["data"]["yaml"])
    groups = client.get(f"{url}/api/v1/rules", params={"type": "alert"}).json()["data"]["groups"]
    want = yaml.safe_load(data[monitoring.PROMETHEUS_FILE])["global"]
    for key in ("scrape_interval", "evaluation_interval"):
        if abs(seconds(loaded["global"][key]) - seconds(want[key])) > 1e-6:
            return False
    wanted_rules = {r["alert"]: seconds(r["for"]) for g in yaml.safe_load(data[monitoring.RULES_FILE])["groups"]
                    for r in g["rules"] if "alert" in r}  # fmt: skip
    loaded_rules = {r["name"]: float(r["duration"]) for g in groups for r in g["rules"]}
    return all(abs(loaded_rules.get(name, -1.0) - wait) < 1e-3 for name, wait in wanted_rules.items())


def _alertmanager_runs(client: httpx.Client, url: str, data: dict[str, str]) -> bool:
    """The loaded route's grouping is ``data``'s (Alertmanager shows its configuration normalized: ``2m`` for
    ``120s``, defaults filled in)."""
    loaded = yaml.safe_load(client.get(f"{url}/api/v2/status").json()["config"]["original"])["route"]
    want = yaml.safe_load(data[monitoring.ALERTMANAGER_FILE])["route"]
    timers = ("group_wait", "group_interval", "repeat_interval")
    return all(abs(seconds(loaded[k]) - seconds(want[k])) < 1e-6 for k in timers) and all(
        loaded.get(k) == v for k, v in want.items() if k not in timers)
