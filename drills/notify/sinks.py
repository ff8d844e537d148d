"""The sinks: a Slack-style incoming webhook, email over SMTP, and the drill's read-only status page.

Each ``deliver`` makes one attempt bounded by the configured timeout and raises :class:`DeliveryError` with a
one-line reason that names no secret; the notifier journals it and goes on.
"""

from __future__ import annotations

import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import httpx

from drills.notify.config import ResolvedSink, SmtpSink, StatusPageSink, WebhookSink
from drills.notify.messages import Message


class DeliveryError(Exception):
    """A delivery that did not happen; the message is one line with the sink's secrets masked."""


class Sink(Protocol):
    resolved: ResolvedSink

    def deliver(self, message: Message) -> None: ...

    def close(self) -> None: ...


class WebhookDelivery:
    """POST ``{"text": ...}`` as JSON: what Slack, Mattermost and Rocket.Chat incoming webhooks accept."""

    def __init__(self, resolved: ResolvedSink, timeout: float) -> None:
        self.resolved = resolved
        self.timeout = timeout
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def deliver(self, message: Message) -> None:
        text = f"*{message.subject}*\n{message.text}" if message.text else f"*{message.subject}*"
        try:
            response = self._client.post(self.resolved.secrets["url"], json={"text": text})
        except httpx.HTTPError as exc:
            raise DeliveryError(self.resolved.scrub(f"{type(exc).__name__}: {exc}")) from None
        if response.status_code >= 300:
            raise DeliveryError(f"the webhook answered HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()


class SmtpDelivery:
    """One email per message over SMTP (implicit TLS, STARTTLS or plain), logging in when told to."""

    def __init__(self, resolved: ResolvedSink, timeout: float) -> None:
        self.resolved = resolved
        self.spec: SmtpSink = resolved.spec  # type: ignore[assignment]
        self.timeout = timeout

    def _tls(self) -> ssl.SSLContext:
        cafile = str(self.spec.ca_file) if self.spec.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def deliver(self, message: Message) -> None:
        spec = self.spec
        mail = EmailMessage(policy=policy.SMTP)  # folds long subjects as mail clients expect (compat32 does not)
        mail["Subject"] = message.subject
        mail["From"] = spec.sender
        mail["To"] = ", ".join(spec.to)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain="gameday.invalid")
        mail["X-Gameday-Event"] = f"{message.kind} #{message.seq}"
        mail.set_content(message.text or message.subject)
        try:
            if spec.tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(spec.host, spec.port, timeout=self.timeout,
                                                        context=self._tls())
            else:
                client = smtplib.SMTP(spec.host, spec.port, timeout=self.timeout)
            with client:
                if spec.starttls:
                    client.starttls(context=self._tls())
                if "username" in self.resolved.secrets:
                    client.login(self.resolved.secrets["username"], self.resolved.secrets["password"])
                client.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(self.resolved.scrub(f"{type(exc).__name__}: {exc}")) from None

    def close(self) -> None:
        return None


class StatusPageDelivery:
    """Posts to the status page gameday serves (it is up before the drill starts; see :mod:`status_page`)."""

    def __init__(self, resolved: ResolvedSink, timeout: float) -> None:
        from drills.notify.status_page import StatusPageServer

        self.resolved = resolved
        self.spec: StatusPageSink = resolved.spec  # type: ignore[assignment]
        self.server = StatusPageServer(self.spec.host, self.spec.port, self.spec.title).start()

    @property
    def url(self) -> str:
        return self.server.url

    def deliver(self, message: Message) -> None:
        self.server.board.post(message)

    def close(self) -> None:
        self.server.stop()


def open_sink(resolved: ResolvedSink, timeout: float) -> Sink:
    """The delivery object for one configured sink (a status page starts serving here)."""
    spec = resolved.spec
    if isinstance(spec, WebhookSink):
        return WebhookDelivery(resolved, timeout)
    if isinstance(spec, SmtpSink):
        return SmtpDelivery(resolved, timeout)
    return StatusPageDelivery(resolved, timeout)
