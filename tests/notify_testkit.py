"""Real receivers for the notify tests (tests/notify, the war-room browser test): an SMTP server (aiosmtpd)
that wants STARTTLS and a login, a Slack-style webhook receiver (http.server), and a port nobody listens on.

No mocks: the notifier talks TCP to these exactly as it would to a team's Slack or mail relay.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SMTP_USER = "gameday-bot"
SMTP_PASSWORD = "s3cret-smtp-password"
WEBHOOK_TOKEN = "T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"


def free_port() -> int:
    """A port nothing listens on right now (bound, then closed): also the "dead sink" address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), made by openssl: the SMTP server's, and the CA to trust."""
    cert, key = folder / "smtp.crt", folder / "smtp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1: STARTTLS required, then AUTH (``SMTP_USER``/``SMTP_PASSWORD``); keeps every mail."""

    port: int
    ca_file: Path
    mails: list[Message] = field(default_factory=list)

    def subjects(self) -> list[str]:
        return [str(m["Subject"]).strip() for m in list(self.mails)]  # unfolded, as mail clients show it

    def body(self, subject_part: str) -> str | None:
        for mail in list(self.mails):
            if subject_part in str(mail["Subject"]):
                return str(mail.get_content())  # type: ignore[attr-defined]
        return None


@contextlib.contextmanager
def smtp_server(folder: Path) -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(port=free_port(), ca_file=cert)

    class Collect:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            server.mails.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    def login(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == SMTP_USER \
            and data.password.decode() == SMTP_PASSWORD
        return AuthResult(success=ok)

    controller = Controller(Collect(), hostname="127.0.0.1", port=server.port, tls_context=context,
                            require_starttls=True, authenticator=login, auth_require_tls=True)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class WebhookReceiver:
    """http.server on 127.0.0.1 that answers 200 to POST /hooks/<token> and keeps each JSON body."""

    port: int
    bodies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{WEBHOOK_TOKEN}"

    def texts(self) -> list[str]:
        return [str(b.get("text", "")) for b in list(self.bodies)]


@contextlib.contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != f"/hooks/{WEBHOOK_TOKEN}" or self.headers.get_content_type() != "application/json":
                self.send_response(404)
                self.end_headers()
                return
            receiver.bodies.append(json.loads(raw))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()


def notify_file(path: Path, smtp: SmtpServer, *, dead_port: int | None = None, timeout: float = 3.0) -> Path:
    """A notify file: Slack to the receiver (and to a dead port when given), Email over STARTTLS with a
    login, the Status Page served on a free port.  Secrets are named by environment variable (see
    :func:`notify_env`)."""
    sinks: list[dict[str, Any]] = [{"channel": "Slack", "type": "webhook", "url_env": "GD_TEST_SLACK_URL"}]
    if dead_port is not None:
        sinks.append({"channel": "Slack", "type": "webhook", "url_env": "GD_TEST_DEAD_URL"})
    sinks += [
        {"channel": "Email", "type": "smtp", "host": "127.0.0.1", "port": smtp.port, "starttls": True,
         "ca_file": str(smtp.ca_file), "username_env": "GD_TEST_SMTP_USER", "password_env": "GD_TEST_SMTP_PASSWORD",
         "from": "gameday@example.com", "to": ["oncall@example.com", "support-lead@example.com"]},
        {"channel": "Status Page", "type": "status_page", "host": "127.0.0.1", "port": 0,
         "title": "Hospital ERP status"},
    ]
    path.write_text(json.dumps({"kind": "notify", "timeout_seconds": timeout, "sinks": sinks}, indent=2))
    return path


def notify_env(receiver: WebhookReceiver, dead_port: int | None = None) -> dict[str, str]:
    """The environment the notify file names its secrets by."""
    env = {"GD_TEST_SLACK_URL": receiver.url, "GD_TEST_SMTP_USER": SMTP_USER, "GD_TEST_SMTP_PASSWORD": SMTP_PASSWORD}
    if dead_port is not None:
        env["GD_TEST_DEAD_URL"] = f"http://127.0.0.1:{dead_port}/hooks/{WEBHOOK_TOKEN}"
    return env
