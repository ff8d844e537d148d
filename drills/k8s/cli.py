"""``gameday cluster ...``: the Hospital-ERP stack on Kubernetes (kind by default) and the responder's
remediations on it, with the same guardrails as the drill target.

Guardrails come first in every command: the kube context must match the allowlist (``--allow-context``,
else ``$GAMEDAY_KUBE_ALLOWED_CONTEXTS``/``$GAMEDAY_ALLOWED_CONTEXTS``, else ``kind-*``) before any client
exists, everything happens in the drill's namespace, and ``--dry-run`` prints each change instead of
making it. Heavy imports (the kubernetes client) stay inside the commands.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from drills.k8s.target import KubernetesTarget
    from gameday.runbook.world import World

cluster_app = typer.Typer(help="The Hospital-ERP stack on Kubernetes (a local kind cluster by default).",
                          no_args_is_help=True)  # fmt: skip
rollout_app = typer.Typer(help="Deployment rollouts (like `kubectl rollout`).", no_args_is_help=True)
cluster_app.add_typer(rollout_app, name="rollout")

DEFAULT_NAME = "gameday"

KubeconfigOpt = Annotated[
    Path | None, typer.Option("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
]
ContextOpt = Annotated[
    str | None,
    typer.Option("--context", help="kube context (default: $GAMEDAY_KUBE_CONTEXT, else kind-gameday)"),
]
AllowOpt = Annotated[
    list[str] | None,
    typer.Option("--allow-context", metavar="PATTERN",
                 help="allowed kube contexts, fnmatch, repeatable (default: $GAMEDAY_KUBE_ALLOWED_CONTEXTS "
                      "or $GAMEDAY_ALLOWED_CONTEXTS, comma-separated, else kind-*)"),
]  # fmt: skip
NamespaceOpt = Annotated[
    str | None, typer.Option("--namespace", help="the drill's namespace (default: hospital-erp-system)")
]
RunbookOpt = Annotated[
    Path | None, typer.Option("--runbook", help="the runbook whose names the stack carries (default: the shipped one)")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="print every change instead of making it")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="who acts (journaled); default $GAMEDAY_ACTOR/$USER")]
DeploymentArg = Annotated[str, typer.Argument(help="the deployment: backend | pgbouncer")]


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")


# -- plumbing ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _api_errors(context: str) -> Iterator[None]:
    """An unreachable or failing API server is one line, not a urllib3 traceback."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from gameday.errors import TargetError

    try:
        yield
    except ApiException as exc:
        raise TargetError(f"kube context {context}: API error {exc.status} {exc.reason}") from None
    except (HTTPError, OSError) as exc:
        raise TargetError(f"kube context {context}: cannot reach the API server ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200]})") from None  # fmt: skip


def _default_context(context: str | None) -> str:
    from drills.k8s.guard import CONTEXT_ENV

    return context or os.environ.get(CONTEXT_ENV) or f"kind-{DEFAULT_NAME}"


def _target(
    kubeconfig: Path | None,
    context: str | None,
    allow: list[str] | None,
    namespace: str | None = None,
    dry_run: bool = False,
    world: World | None = None,
) -> KubernetesTarget:
    """The guarded target: the allowlist is checked from the kubeconfig file before a client exists."""
    from drills.k8s.target import KubernetesTarget

    return KubernetesTarget.with_options(
        _default_context(context), kubeconfig=kubeconfig, allowed_contexts=allow or None, namespace=namespace,
        dry_run=dry_run, printer=typer.echo, world=world,
    )  # fmt: skip


def _deployment(name: str) -> str:
    from drills.k8s.objects import PGBOUNCER, default_world
    from gameday.errors import InputError

    backend = default_world().backend_deployment  # the runbook's name; "backend" always means it
    names = {"backend": backend, backend: backend, "pgbouncer": PGBOUNCER}
    if name not in names:
        raise InputError(None, "deployment", f"unknown deployment {name!r}; expected backend or pgbouncer")
    return names[name]


def _act(kind: str, done: tuple[str, str], actor: str | None, dry_run: bool, **detail: object) -> None:
    """Print what was done and, when a drill runs on this context and namespace, journal it as an ``action``."""
    from drills.drill_log import record_action

    message, target_key = done
    if not dry_run:
        data = {"detail": message, "target": f"deployment/{detail.get('deployment', '')}", **detail}
        if record_action(kind, data, actor, target_key):
            message += " (journaled)"
    typer.echo(message)


def _take(kubeconfig: Path | None, context: str | None, allow: list[str] | None, namespace: str | None,
          dry_run: bool, action: str, actor: str | None, **params: object) -> None:  # fmt: skip
    """Take a remediation of the catalogue on the cluster and journal it under the catalogue's kind (into the
    drill running on that context and namespace); an unknown name or a bad parameter is refused first."""
    from gameday.remediations import checked, spec_for

    name, _ = checked(action, params)
    target = _target(kubeconfig, context, allow, namespace, dry_run)
    try:
        with _api_errors(target.context):
            done = target.remediate(name, **params), target.key
    finally:
        target.close()
    spec = spec_for(name)
    detail = {k: v for k, v in params.items() if k != "to_revision"}
    if "deployment" not in detail:
        detail["target"] = spec.acts_on
    _act(spec.kind, done, actor, dry_run, **detail)


# -- the cluster ------------------------------------------------------------------------------------------


@cluster_app.command("up")
def up(
    name: Annotated[str, typer.Option("--name", help="kind cluster name (context kind-NAME)")] = DEFAULT_NAME,
    context: Annotated[
        str | None, typer.Option("--context", help="apply to this existing (allowed) cluster instead; no kind/docker")
    ] = None,
    kubeconfig: KubeconfigOpt = None,
    allow: AllowOpt = None,
    dry_run: DryRunOpt = False,
    node_image: Annotated[
        str | None, typer.Option("--node-image", help="use this kind node image (e.g. kindest/node:v1.37.2) "
                                                      "instead of building one here")
    ] = None,
    pull: Annotated[
        bool, typer.Option("--pull", help="where a registry is reachable: upstream PostgreSQL, PgBouncer, "
                                          "Prometheus and Alertmanager images instead of building them")
    ] = False,
    hosts: Annotated[
        bool, typer.Option("--hosts/--no-hosts", help="map the runbook's hostnames to 127.0.0.1 in /etc/hosts "
                                                      "(a marked block; $GAMEDAY_HOSTS_FILE overrides the file)")
    ] = True,
    trust: Annotated[
        bool, typer.Option("--trust", help="add the cluster's CA to the system trust store, so plain curl "
                                           "accepts https://<runbook host>/ (root; `down` removes it)")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for ready workloads")] = 600.0,
    workers: Annotated[
        int, typer.Option("--workers", min=0, max=5, help="worker nodes beside the control plane (the node-loss "
                                                          "fault; pod networking by flannel, host-gw): the backend "
                                                          "spreads over them with a PodDisruptionBudget")
    ] = 0,
    runbook: RunbookOpt = None,
) -> None:
    """Build what is missing (kind, node image, app images; cached), create the kind cluster, load the images,
    apply the stack with the runbook's names, wait until ready.  Needs a running Docker daemon (on CI:
    `make docker-up`)."""
    from drills.k8s import guard
    from drills.k8s.cluster import KindCluster
    from gameday.runbook import load_runbook

    world = load_runbook(runbook).world
    if context is not None:  # an existing cluster: the target's own (guarded, dry-run aware) apply
        target = _target(kubeconfig, context, allow, dry_run=dry_run, world=world)
        try:
            with _api_errors(target.context):
                target.apply(timeout=timeout, workers=workers)
        finally:
            target.close()
        if not dry_run:
            typer.echo(f"stack ready in {target.namespace} on {target.context}")
        return
    cluster = KindCluster(name=name, kubeconfig=kubeconfig, echo=_progress_line, node_image=node_image, pull=pull,
                          workers=workers)
    guard.check_context(cluster.context, guard.allowed_patterns(allow))  # before any tool runs
    if dry_run:
        for step in cluster.plan():
            typer.echo(f"[dry-run] {step}")
        return
    _front_preflight(hosts, trust)  # gameday HTTPS front: refuse before a long build, not after it
    target = cluster.up(timeout=timeout, allowed_contexts=allow or None, printer=typer.echo, world=world)
    try:
        endpoints = target.endpoints()
    finally:
        target.close()
    times = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in cluster.progress.times.items() if seconds >= 1)
    typer.echo(f"cluster {cluster.context} ready: app {endpoints.app_url}, prometheus {endpoints.prometheus_url}, "
               f"alertmanager {endpoints.alertmanager_url}" + (f" ({times})" if times else ""))  # fmt: skip
    for line in cluster.publish(hosts=hosts, trust=trust):  # gameday HTTPS front: /etc/hosts, the CA
        typer.echo(line)


# -- gameday HTTPS front: the runbook's URLs on this machine (drills/k8s/front.py, hosts.py, tls.py) ----------


def _front_preflight(hosts: bool, trust: bool) -> None:
    """What `up --trust` / the hosts block need, checked before anything is built (one line, exit 2)."""
    from drills.k8s import hosts as etc_hosts
    from gameday.errors import TargetError

    if hosts and (problem := etc_hosts.writable_problem()):
        raise TargetError(f"{problem}: run as root, or `gameday cluster up --no-hosts` and add the lines of "
                          f"`gameday cluster hosts` to {etc_hosts.hosts_file()} yourself")
    if trust and os.geteuid() != 0:
        raise TargetError("--trust adds the cluster's CA to the system trust store and needs root; without it "
                          "`cluster up` prints the CA's path and the `curl --cacert` form")


def _front_world() -> object:
    """The runbook model's world where it provides one (drills.k8s.objects.default_world), else the team
    runbook's names (front.RunbookHosts)."""
    try:
        from drills.k8s.objects import default_world
    except ImportError:
        from drills.k8s.front import RunbookHosts

        return RunbookHosts()
    return default_world()


@cluster_app.command("hosts")
def hosts_block(
    name: Annotated[str, typer.Option("--name", help="kind cluster name (context kind-NAME)")] = DEFAULT_NAME,
) -> None:
    """Print the /etc/hosts block `cluster up` writes: the runbook's hostnames on 127.0.0.1, where the kind
    cluster's HTTPS front listens (port 443)."""
    from drills.k8s.front import hostnames
    from drills.k8s.hosts import hosts_block as block

    typer.echo(block(name, hostnames(_front_world())), nl=False)


@cluster_app.command("build")
def build(
    node_image: Annotated[
        str | None, typer.Option("--node-image", help="skip the node image build; this one will be used")
    ] = None,
    pull: Annotated[bool, typer.Option("--pull", help="skip the data images (upstream images are pulled)")] = False,
    prepare: Annotated[
        bool, typer.Option("--prepare", help="only what needs no Kubernetes binaries (roots, app, "
                                             "metrics-server and flannel images), e.g. while `make k8s-testenv` "
                                             "compiles")
    ] = False,
) -> None:
    """Build kind, the node image and the app images where the cache lacks them (what `up` builds first)."""
    from drills.k8s.build import docker
    from drills.k8s.cluster import KindCluster

    docker.daemon_version()
    cluster = KindCluster(echo=_progress_line, node_image=node_image, pull=pull)
    cluster.kind()
    node, tags = cluster.build(prepare_only=prepare)
    times = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in cluster.progress.times.items())
    typer.echo(f"node image {node or '(not yet: --prepare)'}; app images {', '.join(tags)}")
    typer.echo(f"stage times: {times}")


def _progress_line(line: str) -> None:
    typer.echo(line, err=True)


@cluster_app.command("down")
def down(
    name: Annotated[str, typer.Option("--name", help="kind cluster name (context kind-NAME)")] = DEFAULT_NAME,
    context: Annotated[
        str | None, typer.Option("--context", help="an existing (allowed) cluster: delete only the namespace")
    ] = None,
    keep_cluster: Annotated[
        bool, typer.Option("--keep-cluster", help="revert faults and delete the namespace, keep the kind cluster")
    ] = False,
    kubeconfig: KubeconfigOpt = None,
    allow: AllowOpt = None,
    namespace: NamespaceOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Delete the kind cluster (or, with --context/--keep-cluster, revert pending faults and delete the namespace)."""
    import shlex

    from drills.k8s import guard
    from drills.k8s.cluster import KindCluster, require_tools

    if context is not None or keep_cluster:
        target = _target(kubeconfig, context or f"kind-{name}", allow, namespace, dry_run=dry_run)
        try:
            with _api_errors(target.context):
                target.down()
        finally:
            target.close()
        if not dry_run:
            typer.echo(f"namespace {target.namespace} deleted on {target.context} (pending faults reverted first)")
        return
    cluster = KindCluster(name=name, kubeconfig=kubeconfig, echo=_progress_line)
    guard.check_context(cluster.context, guard.allowed_patterns(allow))
    if dry_run:
        argv = ["kind", "delete", "cluster", "--name", name, *cluster._kubeconfig_args()]
        typer.echo(f"[dry-run] delete the kind cluster: {shlex.join(argv)}")
        return
    require_tools("docker")
    if not cluster.exists():
        cluster.unpublish()  # gameday HTTPS front: a stale /etc/hosts block or trusted CA goes anyway
        typer.echo(f"no kind cluster named {name!r}; nothing to do")
        return
    cluster.delete()
    typer.echo(f"kind cluster {name!r} deleted")


@cluster_app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    allow: AllowOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Workloads (ready/desired, images), pods (like `kubectl get pods`) and pending gameday faults."""
    from drills.k8s.status import cluster_status, render

    target = _target(kubeconfig, context, allow, namespace)
    try:
        with _api_errors(target.context):
            info = cluster_status(target)
    finally:
        target.close()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for line in render(info):
        typer.echo(line)


# -- remediations (what a responder does; journaled into a running Kubernetes drill) -----------------------


@rollout_app.command("undo")
def rollout_undo(
    deployment: DeploymentArg,
    to_revision: Annotated[int | None, typer.Option("--to-revision", help="default: the previous one")] = None,
    actor: ActorOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    allow: AllowOpt = None,
    namespace: NamespaceOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Roll the deployment back to its previous revision (`kubectl rollout undo`)."""
    from gameday.remediations import Remediation

    name = _deployment(deployment)
    _take(kubeconfig, context, allow, namespace, dry_run, Remediation.rollback, actor, deployment=name,
          to_revision=to_revision)  # fmt: skip


@rollout_app.command("history")
def rollout_history(
    deployment: DeploymentArg,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    allow: AllowOpt = None,
    namespace: NamespaceOpt = None,
) -> None:
    """Backend versions by revision, oldest first (`kubectl rollout history`)."""
    from drills.k8s.objects import default_world
    from gameday.errors import InputError

    if _deployment(deployment) != default_world().backend_deployment:
        raise InputError(None, "deployment", "rollout history is kept for the backend only")
    target = _target(kubeconfig, context, allow, namespace)
    try:
        with _api_errors(target.context):
            revisions = target._revisions()
    finally:
        target.close()
    typer.echo(f"{'REVISION':<10}VERSION")
    for revision, version, _ in revisions:
        typer.echo(f"{revision:<10}{version}")


@cluster_app.command("restart")
def restart(
    deployment: DeploymentArg,
    actor: ActorOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    allow: AllowOpt = None,
    namespace: NamespaceOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Replace every pod of the deployment (`kubectl rollout restart`)."""
    from gameday.remediations import Remediation

    name = _deployment(deployment)
    _take(kubeconfig, context, allow, namespace, dry_run, Remediation.restart, actor, deployment=name)


@cluster_app.command("scale")
def scale(
    deployment: DeploymentArg,
    replicas: Annotated[int, typer.Option("--replicas", min=0, help="desired replica count")],
    actor: ActorOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    allow: AllowOpt = None,
    namespace: NamespaceOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Change the number of replicas (`kubectl scale`)."""
    from gameday.remediations import Remediation

    _take(kubeconfig, context, allow, namespace, dry_run, Remediation.scale, actor, deployment=_deployment(deployment),
          replicas=replicas)  # fmt: skip


@cluster_app.command("remediate")
def remediate(
    action: Annotated[str, typer.Argument(help="a remediation of the catalogue (gameday.remediations), e.g. "
                                               "kill-slow-queries; an unknown name lists them all")],
    actor: ActorOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    allow: AllowOpt = None,
    namespace: NamespaceOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Any remediation of the catalogue that takes no parameter (scale: `gameday cluster scale`)."""
    _take(kubeconfig, context, allow, namespace, dry_run, action, actor)
