"""``gameday runbook commands``: the runbook's commands as a card, with what to type on a drill target.

On ``kubernetes`` (kind or a real cluster) a runbook command is typed as written (placeholders kept), except
the steps that go to Slack, PagerDuty or GitHub: during a drill they are journaled with ``gameday drill log``.
On ``local`` (the sandbox: no Kubernetes) each command maps to the ``gameday sandbox ...`` command, file or
URL that does the same, or the card says the sandbox has none.  The mapping is the drills' knowledge; the
core only supplies the commands (:mod:`gameday.runbook.commands`) and their world.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from pydantic import BaseModel, ConfigDict, Field

from gameday.errors import InputError
from gameday.runbook.commands import RunbookCommand, Tool, positional, split
from gameday.runbook.model import Runbook
from gameday.runbook.world import World

TARGETS = ("local", "kubernetes")
#: The sandbox's one Deployment (``gameday sandbox rollout undo backend``).
SANDBOX_DEPLOYMENT = "backend"


class CardRow(BaseModel):
    """One runbook command and what to type for it on one target (``do`` is None: the target has none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str | None
    section: str
    line: int
    command: str = Field(description="the runbook's command, verbatim")
    tool: Tool
    target: str
    do: str | None = Field(description="what to type on the target; None when it has no equivalent")
    note: str = ""


@dataclass(frozen=True)
class Sandbox:
    """Where the local sandbox listens and logs (its configuration, without starting anything)."""

    app_url: str
    prometheus_url: str
    alertmanager_url: str
    logs: Path

    @classmethod
    def from_env(cls) -> Sandbox:
        from drills.sandbox.config import SandboxConfig
        from drills.sandbox.paths import Layout

        cfg = SandboxConfig.from_env()
        ports = cfg.ports
        return cls(app_url=f"http://127.0.0.1:{ports.service}", prometheus_url=f"http://127.0.0.1:{ports.prometheus}",
                   alertmanager_url=f"http://127.0.0.1:{ports.alertmanager}", logs=Layout(cfg.home).logs)


def card(runbook: Runbook, target: str, sandbox: Sandbox | None = None) -> list[CardRow]:
    """Every command of the runbook with what to type for it on ``target`` (local | kubernetes)."""
    if target not in TARGETS:
        raise InputError(None, "--target", f"expected one of {', '.join(TARGETS)}, not {target!r}")
    local = (sandbox or Sandbox.from_env()) if target == "local" else None
    rows = []
    for cmd in runbook.commands:
        do, note = drill_step(cmd, runbook)
        if do is None and not note:
            do, note = on_local(cmd, runbook.world, local) if local else on_kubernetes(cmd, runbook.world)
        rows.append(CardRow(step=cmd.step, section=cmd.section, line=cmd.line, command=cmd.text, tool=cmd.tool,
                            target=target, do=do, note=note))
    return rows


def drill_step(cmd: RunbookCommand, runbook: Runbook) -> tuple[str | None, str]:
    """Slack, PagerDuty and GitHub steps as ``gameday drill log`` (on every target); ("", "") for others."""
    words = split(cmd.text)
    if cmd.tool is Tool.chat:
        if words[0] == "/create":
            channel = next((w for w in words[1:] if w.startswith("#")), None)
            return ("gameday drill log war-room" + (f" {shlex.quote(channel)}" if channel else ""),
                    "journals the war room channel")
        if words[0] == "/invite":
            roles = ", ".join(r.abbreviation for r in runbook.roles)
            return ("gameday drill log assign IC=<NAME>",
                    f"no invite event: journal who takes each role, one assign per role ({roles})")
        return None, f"no drill event for the Slack command {words[0]}"
    if cmd.tool is Tool.pager:
        return "gameday drill log page 'on-call team' --level 1", "journals the page (escalation level 1)"
    if cmd.tool is Tool.tracker:
        return ("gameday drill log postmortem <REVIEW.md>",
                "action items go in the post-incident review; file it with the drill")
    return None, ""


def on_kubernetes(cmd: RunbookCommand, world: World) -> tuple[str | None, str]:
    """On a cluster: the command itself (a PromQL line is asked of Prometheus through the port-forward)."""
    if cmd.tool is Tool.open:
        return cmd.text, "on Linux: " + re.sub(r"^open\b", "xdg-open", cmd.text)
    if cmd.tool is Tool.promql:
        return (_query(f"http://localhost:{world.prometheus_port}", cmd.text),
                f"through the port-forward to svc/{world.prometheus_service} (or paste the query in Prometheus)")
    return cmd.text, ""


def on_local(cmd: RunbookCommand, world: World, sandbox: Sandbox) -> tuple[str | None, str]:
    """On the sandbox: the equivalent command, or (None, why there is none)."""
    if cmd.tool is Tool.kubectl:
        return _kubectl_local(cmd, world, sandbox)
    if cmd.tool in (Tool.curl, Tool.open):
        return _url_local(cmd, world, sandbox)
    if cmd.tool is Tool.promql:
        return _query(sandbox.prometheus_url, cmd.text), "the sandbox's Prometheus"
    return None, "the sandbox has no equivalent"


def _query(base: str, expr: str) -> str:
    return f"curl -sG {base}/api/v1/query --data-urlencode {shlex.quote('query=' + expr)}"


def _pipe(text: str) -> str:
    """`` | tail -20`` of a command: the part from its first pipe, kept on the equivalent."""
    index = text.find(" | ")
    return text[index:] if index >= 0 else ""


def _kubectl_local(cmd: RunbookCommand, world: World, sandbox: Sandbox) -> tuple[str | None, str]:
    words = split(cmd.text)
    args = positional(words[1:])
    verb, rest = (args[0], args[1:]) if args else ("", [])
    resource = rest[0].partition("/")[0] if rest else ""
    pods = resource in ("pod", "pods", "po")
    deployments = resource in ("deployment", "deployments", "deploy")
    status = "gameday sandbox status"
    same = "" if world.backend_deployment == SANDBOX_DEPLOYMENT else (
        f"; the sandbox's Deployment is {SANDBOX_DEPLOYMENT}, not {world.backend_deployment}")
    if verb == "get" and (pods or deployments):
        note = "the backend replicas like `kubectl get pods`"
        if cmd.long_running:
            note += "; no watch: run it again (or `watch gameday sandbox status`)"
        return status + _pipe(cmd.text), note + same
    if verb == "get" and resource in ("events", "event", "ev"):
        return None, "the sandbox keeps no Kubernetes events; `gameday sandbox status` shows states and restarts"
    if verb == "describe" and pods:
        return status, "each replica's state, restarts and version (no describe)"
    if verb == "logs":
        tail = re.search(r"--tail[= ](\d+)", cmd.text)
        follow = any(w in ("-f", "--follow") for w in words)
        files = f"{sandbox.logs}/{SANDBOX_DEPLOYMENT}-*.log"
        head = "tail" + (f" -n {tail.group(1)}" if tail else "") + (" -f" if follow else "")
        return (f"{head} {files}" if head != "tail" else f"cat {files}") + _pipe(cmd.text), \
            "the backend replicas' logs (one file per replica)"
    if verb == "port-forward":
        service = next((w.partition("/")[2] for w in rest if w.partition("/")[0] in ("svc", "service")), "")
        if service == world.prometheus_service or "prometheus" in service:
            return None, f"not needed: the sandbox's Prometheus listens on {sandbox.prometheus_url}"
        if service == world.alertmanager_service or "alertmanager" in service:
            return None, f"not needed: the sandbox's Alertmanager listens on {sandbox.alertmanager_url}"
        return None, "the sandbox has no such service"
    if verb == "rollout" and rest:
        sub = rest[0]
        if sub == "undo":
            return f"gameday sandbox rollout undo {SANDBOX_DEPLOYMENT}", "rolls back and journals it" + same
        if sub == "status":
            return status, "the Deployment's version, revision and ready replicas" + same
        if sub == "history":
            return f"gameday sandbox rollout history {SANDBOX_DEPLOYMENT}", same.lstrip("; ")
        if sub == "restart":
            return f"gameday sandbox restart {SANDBOX_DEPLOYMENT}", "replaces every replica" + same
    if verb == "scale":
        replicas = re.search(r"--replicas[= ](\d+)", cmd.text)
        count = replicas.group(1) if replicas else "<N>"
        return f"gameday sandbox scale {SANDBOX_DEPLOYMENT} --replicas {count}", "journals it" + same
    if verb == "delete" and pods:
        return (f"gameday sandbox restart {SANDBOX_DEPLOYMENT}",
                "replaces every backend replica (the sandbox cannot delete single pods); "
                "PgBouncer: gameday sandbox restart pgbouncer")
    if verb == "top" and pods:
        return ("gameday sandbox top pods --sort-by=memory",
                "each backend replica's memory and limit, as its kubelet reads them (no CPU)")
    if verb == "top":
        return None, "the sandbox has no metrics-server"
    return None, "the sandbox has no equivalent"


def _url_local(cmd: RunbookCommand, world: World, sandbox: Sandbox) -> tuple[str | None, str]:
    if not cmd.urls:
        return None, "the sandbox has no equivalent"
    url = cmd.urls[0]
    parts = urlsplit(url)
    host = parts.netloc.lower()
    rest = url[len(f"{parts.scheme}://{parts.netloc}"):]
    if host == world.api_host:
        base, what = sandbox.app_url, "the sandbox's backend Service"
    elif host == world.prometheus_host:
        base, what = sandbox.prometheus_url, "the sandbox's Prometheus"
    elif host == world.grafana_host:
        return None, f"the sandbox has no Grafana; its Prometheus graphs are at {sandbox.prometheus_url}/graph"
    else:
        return None, f"the sandbox does not serve {host}"
    local = cmd.text.replace(url, base + rest)
    if cmd.tool is Tool.open:
        local = re.sub(r"^open\b", "xdg-open", local)
    return local, what


# -- the command ---------------------------------------------------------------------------------------

def register(app: typer.Typer) -> None:
    """Adds ``gameday runbook commands`` to the core's ``runbook`` group."""
    from gameday.cli import runbook_group

    group = runbook_group(app)
    if not any(info.name == "commands" for info in group.registered_commands):
        group.command("commands")(runbook_commands)


def runbook_commands(
    path: Annotated[Path | None, typer.Argument(help="runbook markdown; default: the shipped one")] = None,
    target: Annotated[str, typer.Option("--target", help="local (the sandbox) | kubernetes")] = "local",
    as_json: Annotated[bool, typer.Option("--json", help="one object per command")] = False,
) -> None:
    """Every runbook command, with what to type for it on the target (a card for the drill)."""
    from gameday.runbook import load_runbook

    if target not in TARGETS:
        raise InputError(None, "--target", f"expected one of {', '.join(TARGETS)}, not {target!r}")
    runbook = load_runbook(path)
    rows = card(runbook, target)
    if as_json:
        typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    typer.echo(f"{runbook.title}: {len(rows)} commands, on {target} ({runbook.source})")
    for row in rows:
        where = f"Step {row.step}" if row.step else row.section
        typer.echo(f"\n{where} (line {row.line}, {row.tool.value})")
        typer.echo(f"  runbook: {row.command}")
        typer.echo(f"  type:    {row.do}" if row.do is not None else f"  type:    none on {target}")
        if row.note:
            typer.echo(f"  note:    {row.note}")
