"""``gameday sandbox ...`` (the local stack and the responder's kubectl-like actions)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
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
    app.add_typer(drill_app, name="drill")


def _target():  # type: ignore[no-untyped-def]
    from drills.targets.local import LocalTarget

    return LocalTarget()


def _check_deployment(name: str) -> None:
    if name != "backend":
        from gameday.errors import InputError

        raise InputError(None, "deployment", f"unknown deployment {name!r}; the sandbox has: backend")


def _act(kind: str, message: str, actor: str | None, **detail: object) -> None:
    """Print what was done and journal it into the drill running on the sandbox, if any."""
    from drills.active import LOCAL_KEY
    from drills.drill_log import record_action

    if record_action(kind, {"detail": message, **detail}, actor, LOCAL_KEY):
        message += " (journaled)"
    typer.echo(message)


@sandbox_app.command("up")
def up(replicas: Annotated[int | None, typer.Option(help="backend replicas (first up only)")] = None) -> None:
    """Start every service (initialising the database on first use) and wait until all are ready."""
    from drills.sandbox.config import SandboxConfig
    from drills.targets.local import LocalTarget

    overrides = {"replicas": replicas} if replicas is not None else {}
    target = LocalTarget(SandboxConfig.from_env(**overrides))
    typer.echo("sandbox: starting PostgreSQL, PgBouncer, the backend, Prometheus and Alertmanager "
               "(first start initialises the database) ...", err=True)
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


@sandbox_app.command("top")
def top(what: Annotated[str, typer.Argument(help="pods (the backend replicas)")],
        sort_by: Annotated[str, typer.Option("--sort-by", help="memory | name")] = "name",
        all_namespaces: Annotated[bool, typer.Option("-A", "--all-namespaces", help="accepted as in kubectl")] = False,
        ) -> None:
    """Each backend replica's memory, its limit and why it last died (`kubectl top pods`)."""
    from drills.sandbox.top import pod_memory, table
    from gameday.errors import InputError

    if what not in ("pod", "pods", "po"):
        raise InputError(None, "top", f"the sandbox can show pods only, not {what!r} (its one node: free -m)")
    if sort_by not in ("memory", "name"):
        raise InputError(None, "--sort-by", f"expected memory or name, got {sort_by!r}")
    typer.echo(table(pod_memory(_target().sandbox, by_memory=sort_by == "memory")))


@rollout_app.command("undo")
def rollout_undo(deployment: DeploymentArg, actor: ActorOpt = None) -> None:
    """Roll the deployment back to its previous version (`kubectl rollout undo`)."""
    from gameday.remediations import Remediation

    _check_deployment(deployment)
    _take(Remediation.rollback, actor, deployment=deployment)


@rollout_app.command("history")
def rollout_history(deployment: DeploymentArg) -> None:
    """Revisions, oldest first (`kubectl rollout history`)."""
    _check_deployment(deployment)
    dep = _target().sandbox.deployment()
    typer.echo(f"{'REVISION':<10}{'VERSION':<14}CHANGE-CAUSE")
    for rev in dep.history:
        typer.echo(f"{rev.revision:<10}{rev.version:<14}{rev.cause}")


@sandbox_app.command("restart")
def restart(deployment: Annotated[str, typer.Argument(help="backend | pgbouncer")], actor: ActorOpt = None) -> None:
    """Replace every backend replica (`kubectl rollout restart`), or restart PgBouncer."""
    from gameday.remediations import Remediation

    if deployment == "pgbouncer":
        _take(Remediation.restart_pgbouncer, actor, deployment=deployment)
        return
    _check_deployment(deployment)
    _take(Remediation.restart, actor, deployment=deployment)


@sandbox_app.command("remediate")
def remediate(action: Annotated[str, typer.Argument(
                  help="a remediation of the catalogue (gameday.remediations), e.g. kill-slow-queries; "
                       "an unknown name lists them all")],
              actor: ActorOpt = None) -> None:
    """Any remediation of the catalogue that takes no parameter (scale: `gameday sandbox scale`)."""
    _take(action, actor)


@sandbox_app.command("scale")
def scale(deployment: DeploymentArg,
          replicas: Annotated[int, typer.Option("--replicas", help="desired replica count")],
          actor: ActorOpt = None) -> None:
    """Change the number of replicas (`kubectl scale`)."""
    from gameday.remediations import Remediation

    _check_deployment(deployment)
    _take(Remediation.scale, actor, {"replicas": replicas}, deployment=deployment, replicas=replicas)


def _take(action: str, actor: str | None, params: dict[str, object] | None = None, **detail: object) -> None:
    """Take a remediation of the catalogue on the sandbox, journaled under the catalogue's kind (an unknown
    name or a missing parameter is refused in one line before the sandbox is touched)."""
    from gameday.remediations import checked, spec_for

    name, _ = checked(action, params)
    _act(spec_for(name).kind, _target().remediate(name, **(params or {})), actor, **detail)


# -- gameday drill: run a drill, and the responders' log commands (drill runner) -------------------------

drill_app = typer.Typer(help="Run a drill; responders journal what they do with `drill log`.", no_args_is_help=True)
drill_log_app = typer.Typer(help="Journal a responder step into the running drill.", no_args_is_help=True)
drill_app.add_typer(drill_log_app, name="log")
ActorOption = Annotated[str | None, typer.Option("--actor", help="who did it (default: $GAMEDAY_ACTOR or $USER)")]
DrillOption = Annotated[str | None, typer.Option("--drill", help="the drill's id when several drills run at once")]


@drill_app.command("run")
def drill_run(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML (kind: scenario)")],
    target: Annotated[str, typer.Option("--target", help="local | kubernetes")] = "local",
    responder: Annotated[str, typer.Option("--responder", help="human | autopilot")] = "human",
    policy: Annotated[Path | None, typer.Option("--policy", help="autopilot delays (policy YAML)")] = None,
    time_scale: Annotated[float | None, typer.Option("--time-scale", help="runbook s per wall s")] = None,
    out: Annotated[Path, typer.Option("--out", help="drills go to OUT/<drill-id>/")] = Path("out"),
    seed: Annotated[int, typer.Option("--seed", min=0, help="blind delay and autopilot draws")] = 0,
    runbook: Annotated[Path | None, typer.Option("--runbook", help="default: the shipped runbook")] = None,
    kubeconfig: Annotated[Path | None, typer.Option("--kubeconfig", help="kubernetes: default $KUBECONFIG")] = None,
    context: Annotated[str | None, typer.Option("--context", help="kubernetes: default $GAMEDAY_KUBE_CONTEXT")] = None,
    allow_context: Annotated[list[str] | None, typer.Option(
        "--allow-context", metavar="PATTERN", help="kubernetes: allowed contexts, repeatable (default kind-*)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="kubernetes: print API changes, make none")] = False,
    war_room: Annotated[bool, typer.Option("--war-room", help="serve the live war-room page (stays up after the "
                                           "drill until Ctrl-C)")] = False,
    host: Annotated[str, typer.Option("--host", help="war room: listen address (0.0.0.0: the LAN)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="war room: port (0 = any free one)")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no live narration; one result line at the end")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the drill summary as JSON on stdout at the end "
                                          "(narration stays on stderr unless --quiet)")] = False,
    notify: Annotated[Path | None, typer.Option("--notify", help="deliver the team's messages for real "
                                                "(kind: notify; default: the journal only)")] = None,
) -> None:
    """Steady state, blind delay, inject, observe until closed/timeout/abort, revert every fault."""
    from drills.runner import DrillOptions, run_drill
    from gameday.errors import InputError
    from gameday.terminal import make_console

    if responder not in ("human", "autopilot"):
        raise InputError(None, "--responder", f"expected human or autopilot, not {responder!r}")
    notifier = _notifier(notify, runbook) if notify is not None else None  # refused before any fault
    room = None
    if war_room:
        from drills.warroom.attach import AttachedWarRoom

        room = AttachedWarRoom(host, port, typer.echo).start()
    try:
        summary = run_drill(DrillOptions(
            scenario_path=scenario, target=target, responder=responder,  # type: ignore[arg-type]
            policy=policy, time_scale=time_scale, out_dir=out, seed=seed, runbook=runbook,
            target_options={"kubeconfig": kubeconfig, "context": context, "allowed_contexts": allow_context or None,
                            "dry_run": dry_run},
        ), make_console(stderr=True, quiet=quiet))
        if as_json:
            typer.echo(summary.model_dump_json(indent=2))
        elif quiet:
            typer.echo(f"{summary.drill_id}: {summary.outcome}; journal {summary.journal}")
        if room is not None and room.server is not None:
            typer.echo("drill over; the war room stays open for the score and the review (Ctrl-C to close it)")
            with contextlib.suppress(KeyboardInterrupt):
                while room.server.running():
                    time.sleep(0.5)
    finally:
        if room is not None:
            room.stop()
        if notifier is not None:
            counts = notifier.stop()
            typer.echo(f"notify: {counts.sent} delivered, {counts.failed} failed (failures are in the journal)",
                       err=True)
    raise typer.Exit(summary.exit_code)


def _notifier(path: Path, runbook: Path | None):  # type: ignore[no-untyped-def]
    """Open the sinks of a notify file (checked against the runbook and the environment first) and follow
    this process's drill once it has a journal."""
    from drills.notify.config import load_notify
    from drills.notify.dispatch import Notifier
    from gameday.runbook import load_runbook

    notifier = Notifier.open(load_notify(path), path, load_runbook(runbook), echo=lambda t: typer.echo(t, err=True))
    for line in notifier.describe():
        typer.echo(f"notify: {line}", err=True)
    return notifier.attach_to_this_process()


def _log(kind: str, actor: str | None, drill: str | None, data: dict[str, object] | None = None) -> None:
    from drills.drill_log import log_event

    event = log_event(kind, actor, data or {}, drill_id=drill)
    typer.echo(f"{event.incident}: {event.type.value} by {event.actor} at {event.t:.1f} s")


@drill_log_app.command("ack")
def log_ack(actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Acknowledge the page."""
    _log("acknowledged", actor, drill)


@drill_log_app.command("declare")
def log_declare(sev: Annotated[int, typer.Option("--sev", help="severity level, 1 = critical")],
                actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Declare the incident's severity."""
    _log("severity_declared", actor, drill, {"level": sev})


@drill_log_app.command("assign")
def log_assign(assignment: Annotated[str, typer.Argument(help="ROLE=name, e.g. IC=alice")],
               actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Assign a runbook role (IC, TL, CL, SME)."""
    role, _, person = assignment.partition("=")
    _log("role_assigned", actor, drill, {"role": role.strip(), "person": person.strip()})


@drill_log_app.command("update")
def log_update(message: Annotated[str, typer.Argument(help="the status update text")],
               channel: Annotated[list[str] | None, typer.Option("--channel", help="repeatable")] = None,
               actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Post a status update."""
    _log("status_update", actor, drill, {"message": message, "channels": channel or []})


ChannelOption = Annotated[list[str] | None, typer.Option("--channel", help="a runbook channel, repeatable")]


@drill_log_app.command("declaration")
def log_declaration(message: Annotated[str, typer.Argument(help="the declaration message (runbook template)")],
                    channel: ChannelOption = None, actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Post the declaration message."""
    _log("declaration_posted", actor, drill, {"message": message, "channels": channel or []})


@drill_log_app.command("notice")
def log_notice(kind: Annotated[str, typer.Argument(help="initial | resolution")],
               message: Annotated[str, typer.Argument(help="the notice (runbook template)")],
               channel: ChannelOption = None, actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Tell users: the initial or the resolution notification."""
    _log("external_notice", actor, drill, {"kind": kind, "message": message, "channels": channel or []})


@drill_log_app.command("status-page")
def log_status_page(status: Annotated[str, typer.Argument(help="a status of the runbook's status page template")],
                    message: Annotated[str, typer.Argument(help="what users read")],
                    channel: ChannelOption = None, actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Update the status page."""
    _log("status_page", actor, drill, {"status": status, "message": message, "channels": channel or []})


@drill_log_app.command("notify")
def log_notify(who: Annotated[str, typer.Argument(help="someone on the runbook's business escalation list")],
               message: Annotated[str | None, typer.Argument(help="what they were told")] = None,
               channel: ChannelOption = None, actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Record a business notification."""
    _log("notified", actor, drill, {"who": who, "channels": channel or [], **({"message": message} if message else {})})


@drill_log_app.command("hypothesis")
def log_hypothesis(text: Annotated[str, typer.Argument(help="what you believe is wrong")],
                   actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Record a hypothesis before acting on it."""
    _log("hypothesis", actor, drill, {"text": text})


@drill_log_app.command("verify")
def log_verify(actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Claim the runbook's verification checks pass (scoring compares with the metrics)."""
    _log("verified", actor, drill)


@drill_log_app.command("resolve")
def log_resolve(actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Mark the incident resolved (after the stability watch)."""
    _log("resolved", actor, drill)


@drill_log_app.command("close")
def log_close(actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Close the incident; the drill ends and reverts its faults."""
    _log("closed", actor, drill)


@drill_log_app.command("page")
def log_page(who: Annotated[str, typer.Argument(help="who was paged")] = "on-call team",
             level: Annotated[int, typer.Option("--level", help="escalation level")] = 1,
             actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Record a page."""
    _log("paged", actor, drill, {"who": who, "level": level})


@drill_log_app.command("war-room")
def log_war_room(channel: Annotated[str | None, typer.Argument(help="default: #incident-<drill id>")] = None,
                 actor: ActorOption = None, drill: DrillOption = None) -> None:
    """Record that the war room channel exists."""
    _log("war_room_created", actor, drill, {"channel": channel} if channel else {})


@drill_log_app.command("postmortem")
def log_postmortem(path: Annotated[Path, typer.Argument(help="the post-incident review (markdown)")],
                   actor: ActorOption = None, drill: DrillOption = None) -> None:
    """File the post-incident review."""
    _log("postmortem_filed", actor, drill, {"path": str(path)})
