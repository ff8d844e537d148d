"""The runbook's world: the namespace, Deployment, services, hosts and paths its commands and URLs name.

Derived from :mod:`gameday.runbook.commands` (never from prose):

========================  ==========================================================  ============================
field                     read from                                                   documented default
========================  ==========================================================  ============================
``namespace``             ``-n X`` of kubectl commands on pods, deployments, events,  ``hospital-erp-system``
                          logs (not the monitoring namespace, not ``<PLACEHOLDER>``)
``backend_deployment``    ``deployment/X`` (or ``deployment X``) of kubectl commands  ``backend``
``backend_labels``        ``-l k=v[,k=v]`` / ``--selector`` of kubectl commands       ``app=<backend_deployment>``
``monitoring_namespace``  ``-n X`` of ``kubectl port-forward ... svc/prometheus...``  ``monitoring``
``prometheus_service``    that port-forward's ``svc/X``                               ``prometheus-operated``
``prometheus_port``       its ``LOCAL:REMOTE`` (the service port is REMOTE)           ``9090``
``alertmanager_service``  a ``kubectl port-forward ... svc/alertmanager...``          ``alertmanager-operated``
``alertmanager_port``     its service port                                            ``9093``
``prometheus_host``       host of a URL whose host begins ``prometheus.``             ``prometheus.<domain>``
``alerts_path``           that URL's path (when it names alerts)                      ``/alerts``
``grafana_host``          host of a URL whose host begins ``grafana.``                ``grafana.<domain>``
``dashboard_path``        that URL's path (the first ``/d/...`` dashboard named)      ``/d/system-overview``
``api_host``              host of a URL whose path is a health check                  ``api.<domain>``
``health_path``           that URL's path (``/health``, ``/healthz``, ``/ready``...)  ``/health``
========================  ==========================================================  ============================

``<domain>`` is ``hospital-erp.example.com``.  The defaults are the values the team's runbook uses (its
Alertmanager is not named there: it runs beside Prometheus, as the Prometheus Operator names it).
:attr:`World.defaults` lists every field that fell back.
Two different values for one field (two Deployment names, two app namespaces, two selectors, two Prometheus
services, two hosts) are a :class:`RunbookError` naming both lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gameday.errors import RunbookError
from gameday.runbook.commands import RunbookCommand, Tool, positional, split

DEFAULT_NAMESPACE = "hospital-erp-system"
DEFAULT_BACKEND_DEPLOYMENT = "backend"
DEFAULT_LABEL_KEY = "app"  # the team labels a Deployment's pods app=<deployment name>
DEFAULT_MONITORING_NAMESPACE = "monitoring"
DEFAULT_PROMETHEUS_SERVICE = "prometheus-operated"
DEFAULT_PROMETHEUS_PORT = 9090
DEFAULT_ALERTMANAGER_SERVICE = "alertmanager-operated"
DEFAULT_ALERTMANAGER_PORT = 9093
DEFAULT_PROMETHEUS_HOST = "prometheus.hospital-erp.example.com"
DEFAULT_GRAFANA_HOST = "grafana.hospital-erp.example.com"
DEFAULT_API_HOST = "api.hospital-erp.example.com"
DEFAULT_ALERTS_PATH = "/alerts"
DEFAULT_DASHBOARD_PATH = "/d/system-overview"
DEFAULT_HEALTH_PATH = "/health"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_HOST = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:\d{1,5})?$")
_HEALTH = re.compile(r"/(health|healthz|livez|readyz|ready|ping)/?$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"<[^>]*>")
_POD_RESOURCES = {"pod", "pods", "po", "deployment", "deployments", "deploy", "event", "events", "ev",
                  "replicaset", "replicasets", "rs"}
_POD_VERBS = {"logs", "rollout", "exec", "attach", "top", "scale", "describe", "get", "delete", "set"}
_DEPLOYMENT_WORDS = ("deployment", "deployments", "deploy")


def dns1123_label(value: str, what: str = "name") -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValueError(f"{value!r} is not a valid Kubernetes {what} (DNS-1123 label: lower-case letters, "
                         f"digits and '-', at most 63)")
    return value


def dns1123_subdomain(value: str, what: str = "name") -> str:
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        raise ValueError(f"{value!r} is not a valid Kubernetes {what} (DNS-1123 subdomain: lower-case letters, "
                         f"digits, '-' and '.', at most 253)")
    return value


class World(BaseModel):
    """Where the runbook's commands act: what a drill target (the kind stack, a cluster) must provide."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str = Field(description="the application's namespace: hospital-erp-system")
    backend_deployment: str = Field(description="the backend's Deployment: backend")
    backend_labels: dict[str, str] = Field(description="its pods' label selector: {'app': 'backend'}")
    monitoring_namespace: str = Field(description="where Prometheus and Alertmanager run: monitoring")
    prometheus_service: str = Field(description="prometheus-operated")
    prometheus_port: int = Field(ge=1, le=65535, description="the service port: 9090")
    alertmanager_service: str = Field(description="alertmanager-operated")
    alertmanager_port: int = Field(ge=1, le=65535, description="the service port: 9093")
    prometheus_host: str = Field(description="prometheus.hospital-erp.example.com")
    grafana_host: str = Field(description="grafana.hospital-erp.example.com")
    api_host: str = Field(description="api.hospital-erp.example.com")
    alerts_path: str = Field(description="Prometheus' alerts page: /alerts")
    dashboard_path: str = Field(description="the Grafana dashboard: /d/system-overview")
    health_path: str = Field(description="the API's health check: /health")
    defaults: list[str] = Field(default_factory=list, description="fields the runbook does not name (defaults)")

    @field_validator("namespace", "monitoring_namespace", "prometheus_service", "alertmanager_service")
    @classmethod
    def _label_name(cls, value: str) -> str:
        return dns1123_label(value)

    @field_validator("backend_deployment")
    @classmethod
    def _subdomain_name(cls, value: str) -> str:
        return dns1123_subdomain(value, "Deployment name")

    @field_validator("backend_labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("the selector needs at least one label")
        for key, val in value.items():
            prefix, _, name = key.rpartition("/")
            if (prefix and not _DNS1123_SUBDOMAIN.match(prefix)) or len(name) > 63 or not _LABEL_NAME.match(name):
                raise ValueError(f"{key!r} is not a valid label key")
            if len(val) > 63 or not _LABEL_VALUE.match(val):
                raise ValueError(f"{val!r} is not a valid label value (for {key})")
        return value

    @field_validator("prometheus_host", "grafana_host", "api_host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.match(value) or len(value) > 253:
            raise ValueError(f"{value!r} is not a host name")
        return value

    @field_validator("alerts_path", "dashboard_path", "health_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} is not a URL path (starts with '/', no spaces)")
        return value

    @property
    def selector(self) -> str:
        """``app=backend`` (as ``kubectl -l`` takes it)."""
        return ",".join(f"{k}={v}" for k, v in self.backend_labels.items())

    @property
    def prometheus_url(self) -> str:
        return f"https://{self.prometheus_host}{self.alerts_path}"

    @property
    def grafana_url(self) -> str:
        return f"https://{self.grafana_host}{self.dashboard_path}"

    @property
    def health_url(self) -> str:
        return f"https://{self.api_host}{self.health_path}"


@dataclass
class _Found:
    value: object
    line: int
    said: str  # what the runbook wrote, for the error: "deployment/backend", "-n payments"


class _Facts:
    """Collects each field's first value and refuses a different second one."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: dict[str, _Found] = {}

    def add(self, field: str, value: object, line: int, said: str) -> None:
        first = self.found.get(field)
        if first is None:
            self.found[field] = _Found(value, line, said)
        elif first.value != value:
            raise RunbookError(self.source, f"world.{field}",
                               f"line {first.line} says {first.said}, line {line} says {said}")


def derive_world(commands: list[RunbookCommand], source: str = "<runbook>") -> World:
    """The :class:`World` the commands name; fields they do not name take the documented defaults."""
    facts = _Facts(source)
    for cmd in commands:
        if cmd.tool is Tool.kubectl:
            _monitoring(facts, cmd)
    monitoring = facts.found.get("monitoring_namespace")
    monitoring_ns = str(monitoring.value) if monitoring else DEFAULT_MONITORING_NAMESPACE
    for cmd in commands:
        if cmd.tool is Tool.kubectl:
            _app(facts, cmd, monitoring_ns)
        for url in cmd.urls:
            _url(facts, url, cmd.line)

    values: dict[str, object] = {}
    defaults: list[str] = []
    deployment = facts.found.get("backend_deployment")
    fallback: dict[str, object] = {
        "namespace": DEFAULT_NAMESPACE,
        "backend_deployment": DEFAULT_BACKEND_DEPLOYMENT,
        "backend_labels": {DEFAULT_LABEL_KEY: deployment.value if deployment else DEFAULT_BACKEND_DEPLOYMENT},
        "monitoring_namespace": DEFAULT_MONITORING_NAMESPACE,
        "prometheus_service": DEFAULT_PROMETHEUS_SERVICE,
        "prometheus_port": DEFAULT_PROMETHEUS_PORT,
        "alertmanager_service": DEFAULT_ALERTMANAGER_SERVICE,
        "alertmanager_port": DEFAULT_ALERTMANAGER_PORT,
        "prometheus_host": DEFAULT_PROMETHEUS_HOST,
        "grafana_host": DEFAULT_GRAFANA_HOST,
        "api_host": DEFAULT_API_HOST,
        "alerts_path": DEFAULT_ALERTS_PATH,
        "dashboard_path": DEFAULT_DASHBOARD_PATH,
        "health_path": DEFAULT_HEALTH_PATH,
    }
    for field, default in fallback.items():
        if field in facts.found:
            values[field] = facts.found[field].value
        else:
            values[field] = default
            defaults.append(field)
    try:
        return World(**values, defaults=defaults)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "world"
        problem = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        where = facts.found.get(field)
        at = f" (line {where.line}: {where.said})" if where else ""
        raise RunbookError(source, f"world.{field}", f"{problem}{at}") from None


def _flag(words: list[str], short: str, long: str) -> str | None:
    """The value of a kubectl flag in any of its spellings: ``-n X``, ``--namespace X``, ``--namespace=X``,
    ``-nX``."""
    for index, word in enumerate(words):
        if word in (short, long) and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(long + "="):
            return word.split("=", 1)[1]
        if word.startswith(short) and len(word) > 2 and not word.startswith("--"):
            return word[2:]
    return None


def _namespace(words: list[str]) -> str | None:
    return _flag(words, "-n", "--namespace")


def _selector(words: list[str]) -> str | None:
    return _flag(words, "-l", "--selector")


def _monitoring(facts: _Facts, cmd: RunbookCommand) -> None:
    """``kubectl port-forward -n monitoring svc/prometheus-operated 9090:9090`` (Alertmanager alike)."""
    words = split(cmd.text)
    if "port-forward" not in words:
        return
    namespace = _namespace(words)
    for index, word in enumerate(words):
        match = re.match(r"^(?:svc|service|services)/(.+)$", word)
        if not match:
            continue
        service = match.group(1)
        kind = "prometheus" if "prometheus" in service else "alertmanager" if "alertmanager" in service else None
        if kind is None or _PLACEHOLDER.search(service):
            continue
        if namespace and not _PLACEHOLDER.search(namespace):
            facts.add("monitoring_namespace", namespace, cmd.line, f"-n {namespace}")
        facts.add(f"{kind}_service", service, cmd.line, word)
        ports = [w for w in words[index + 1:] if re.match(r"^(\d*:)?\d+$", w)]
        if ports:
            port = int(ports[0].rpartition(":")[2])
            facts.add(f"{kind}_port", port, cmd.line, f"{word} {ports[0]}")


def _app(facts: _Facts, cmd: RunbookCommand, monitoring_ns: str) -> None:
    """Namespace, Deployment and selector of kubectl commands on the application's pods."""
    words = split(cmd.text)
    args = words[1:]
    verbs = positional(args)
    if "port-forward" in verbs[:1]:
        return
    deployment = None
    for index, word in enumerate(args):
        head, _, name = word.partition("/")
        if head in _DEPLOYMENT_WORDS and name:
            deployment = (name, word)
            break
        if word in _DEPLOYMENT_WORDS and index + 1 < len(args) and not args[index + 1].startswith("-"):
            nxt = args[index + 1]
            deployment = (nxt, f"{word} {nxt}")
            break
    on_pods = deployment is not None or any(
        w.partition("/")[0] in _POD_RESOURCES for w in verbs[1:]) or (verbs[:1] == ["logs"])
    if not on_pods or (verbs and verbs[0] not in _POD_VERBS):
        return
    namespace = _namespace(words)
    in_app = namespace is None or (not _PLACEHOLDER.search(namespace) and namespace != monitoring_ns)
    if namespace and in_app:
        facts.add("namespace", namespace, cmd.line, f"-n {namespace}")
    if not in_app:
        return
    if deployment and not _PLACEHOLDER.search(deployment[0]):
        facts.add("backend_deployment", deployment[0], cmd.line, deployment[1])
    selector = _selector(words)
    if selector and not _PLACEHOLDER.search(selector):
        labels = _parse_selector(selector)
        if labels is not None:
            facts.add("backend_labels", labels, cmd.line, f"-l {selector}")


def _parse_selector(selector: str) -> dict[str, str] | None:
    """``app=backend,tier=web`` -> dict; set-based or negated selectors name no labels (None)."""
    out: dict[str, str] = {}
    for part in selector.split(","):
        match = re.match(r"^\s*([^=!\s]+)\s*==?\s*([^=!\s]*)\s*$", part)
        if not match:
            return None
        out[match.group(1)] = match.group(2)
    return out


def _url(facts: _Facts, url: str, line: int) -> None:
    parts = urlsplit(url)
    host, path = parts.netloc.lower(), parts.path or "/"
    if not host or _PLACEHOLDER.search(url):
        return
    if host.startswith("prometheus."):
        facts.add("prometheus_host", host, line, url)
        if "alert" in path:
            facts.found.setdefault("alerts_path", _Found(path, line, url))
    elif host.startswith("grafana."):
        facts.add("grafana_host", host, line, url)
        if path.startswith("/d/"):
            facts.found.setdefault("dashboard_path", _Found(path, line, url))
    elif _HEALTH.search(path):
        facts.add("api_host", host, line, url)
        facts.add("health_path", path, line, url)
