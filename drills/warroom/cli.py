"""``gameday war-room JOURNAL``: open the war room of a running or finished drill."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

HostOpt = Annotated[str, typer.Option("--host", help="listen address; 0.0.0.0 shares it on the LAN")]
PortOpt = Annotated[int, typer.Option("--port", help="0 = any free port")]


def war_room(
    journal: Annotated[Path, typer.Argument(help="the drill's journal.jsonl")],
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 0,
) -> None:
    """Serve the live war-room page for a drill (read-only once the drill is over); Ctrl-C stops it."""
    from drills.warroom.server import start_war_room

    server = start_war_room(journal, host=host, port=port)
    print_urls(server)
    try:
        while server.running():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def print_urls(server: object, echo: object = typer.echo) -> None:
    echo(f"war room (responders):  {server.responder_url}")  # type: ignore[attr-defined, operator]
    echo(f"war room (game master): {server.game_master_url}")  # type: ignore[attr-defined, operator]


def register(app: typer.Typer) -> None:
    app.command("war-room")(war_room)
