"""``gameday sandbox ...`` (the local stack and the responder's kubectl-like actions)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

sandbox_app = typer.Typer(help="The local sandbox: real PostgreSQL, PgBouncer, Prometheus, Alertmanager.",
                          no_args_is_help=True)
rollout_app = typer.Typer(help="Deployment rollouts (like `kubectl rollout`).", no_args_is_help=True)
sandbox_app.add_typer(rollout_app, name="rollout")

DeploymentArg = Annotated[str, typer.Argument(help="the deployment: backend")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="who acts (journaled); default $GAMEDAY_ACTOR/$USER")]


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")


def _target():  # type: ignore[no-untyped-def]
    from drills.targets.local import LocalTarget

    return LocalTarget()


def _check_deployment(name: str) -> None:
    if name != "backend":
        from gameday.errors import InputError

        raise InputError(None, "deployment", f"unknown deployment {name!r}; the sandbox has: backend")


def _act(kind: str, message: str, actor: str | None, **detail: object) -> None:
    """Print what was done and journal it into the active drill, if any."""
    from drills.sandbox.actions import default_actor, record_action

    who = actor or default_actor()
    if record_action(kind, {"detail": message, **detail}, who):
        message += " (journaled)"
    typer.echo(message)


@sandbox_app.command("up")
def up(replicas: Annotated[int | None, typer.Option(help="backend replicas (first up only)")] = None) -> None:
    """Start every service (initialising the database on first use) and wait until all are ready."""
    from drills.sandbox.config import SandboxConfig
    from drills.targets.local import LocalTarget

    overrides = {"replicas": replicas} if replicas is not None else {}
    target = LocalTarget(SandboxConfig.from_env(**overrides))
    target.up()
    ep = target.endpoints()
    typer.echo(f"sandbox up: app {ep.app_url}, prometheus {ep.prometheus_url}, "
               f"alertmanager {ep.alertmanager_url} ({target.sandbox.layout.home})")


@sandbox_app.command("down")
def down(purge: Annotated[bool, typer.Option(help="also delete data, configs and logs")] = False) -> None:
    """Revert pending faults and stop every service."""
    _target().down() if not purge else _purge()
    typer.echo("sandbox down" + (" (purged)" if purge else ""))


def _purge() -> None:
    target = _target()
    target.down()
    target.sandbox.down(purge=True)


@sandbox_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False) -> None:
    """Processes, replicas (like `kubectl get pods`) and endpoints."""
    target = _target()
    info = target.sandbox.status()
    info["pending_injections"] = [r.id for r in target.pending_injections()] if info["supervisord"] else []
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    if not info["supervisord"]:
        typer.echo(f"sandbox is down ({info['home']})")
        return
    procs = ", ".join(f"{k}={v}" for k, v in info["processes"].items() if not k.startswith("backend-"))
    typer.echo(f"sandbox up ({info['home']}): {procs}")
    dep = info["deployment"] or {}
    typer.echo(f"deployment backend: {dep.get('version')} revision {dep.get('revision')}, "
               f"{dep.get('replicas')} replicas")
    typer.echo(f"{'NAME':<12}{'READY':<7}{'STATUS':<18}{'RESTARTS':<10}VERSION")
    for pod in info["replicas"]:
        typer.echo(f"{pod['name']:<12}{'1/1' if pod['ready'] else '0/1':<7}{pod['state']:<18}"
                   f"{pod['restarts']:<10}{pod['version']}")
    for name, url in info["endpoints"].items():
        typer.echo(f"{name}: {url}")
    if info["pending_injections"]:
        typer.echo(f"pending faults: {', '.join(info['pending_injections'])}")


@rollout_app.command("undo")
def rollout_undo(deployment: DeploymentArg, actor: ActorOpt = None) -> None:
    """Roll the deployment back to its previous version (`kubectl rollout undo`)."""
    _check_deployment(deployment)
    _act("rollback", _target().remediate("rollout_undo"), actor, deployment=deployment)


@rollout_app.command("history")
def rollout_history(deployment: DeploymentArg) -> None:
    """Revisions, oldest first (`kubectl rollout history`)."""
    _check_deployment(deployment)
    dep = _target().sandbox.deployment()
    typer.echo(f"{'REVISION':<10}{'VERSION':<14}CHANGE-CAUSE")
    for rev in dep.history:
        typer.echo(f"{rev.revision:<10}{rev.version:<14}{rev.cause}")


@sandbox_app.command("restart")
def restart(deployment: DeploymentArg, actor: ActorOpt = None) -> None:
    """Replace every replica with a fresh one, same version (`kubectl rollout restart`)."""
    _check_deployment(deployment)
    _act("restart", _target().remediate("restart"), actor, deployment=deployment)


@sandbox_app.command("scale")
def scale(deployment: DeploymentArg,
          replicas: Annotated[int, typer.Option("--replicas", help="desired replica count")],
          actor: ActorOpt = None) -> None:
    """Change the number of replicas (`kubectl scale`)."""
    _check_deployment(deployment)
    _act("scale", _target().remediate("scale", replicas=replicas), actor, deployment=deployment,
         replicas=replicas)
