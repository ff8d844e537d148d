"""``kind: notify``: where a drill's messages go, per runbook channel, with secrets named by environment variable.

```yaml
kind: notify
sinks:
  - channel: Slack            # a channel the runbook names (Slack, Status Page, Email, ...)
    type: webhook             # Slack, Mattermost and Rocket.Chat incoming webhooks take {"text": ...}
    url_env: GAMEDAY_SLACK_WEBHOOK
  - channel: Email
    type: smtp
    host: smtp.example.com
    port: 587
    starttls: true
    username_env: GAMEDAY_SMTP_USER
    password_env: GAMEDAY_SMTP_PASSWORD
    from: gameday@example.com
    to: [oncall@example.com]
  - channel: Status Page
    type: status_page         # served by gameday on 127.0.0.1 while the drill runs
    port: 8089
```

A secret written into the file (a webhook URL, which carries its token, or a password) is refused: the file
lives in a repository, the environment does not.  The file is checked like every gameday file (``gameday
validate``): shape first, then :meth:`NotifyConfig.check_against` (every channel is one the runbook names),
and :meth:`NotifyConfig.resolve` at the start of a drill (every variable it names is set), before any fault.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from gameday.errors import InputError

if TYPE_CHECKING:
    from gameday.runbook.model import Runbook

#: An environment variable's name (what ``*_env`` fields hold; never the value).
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
Address = Annotated[str, StringConstraints(pattern=r"^[^@\s<>,]+@[^@\s<>,]+$", max_length=254)]
#: Keys that would put a secret into the file, and the ``*_env`` key that names it instead.
INLINE_SECRETS = {"url": "url_env", "webhook_url": "url_env", "password": "password_env", "token": "token_env",
                  "secret": "secret_env", "api_key": "api_key_env", "webhook": "url_env"}


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)


def _refuse_inline_secrets(data: Any, example: str) -> Any:
    """A secret written into the file is refused naming its key, never echoing its value."""
    if isinstance(data, dict):
        for key, instead in INLINE_SECRETS.items():
            if key in data:
                raise ValueError(f"{key} is a secret written inline; put it in an environment variable and "
                                 f"name that variable ({instead}: {example})")
    return data


class WebhookSink(_Closed):
    """A Slack-style incoming webhook: POST ``{"text": ...}`` as JSON (Slack, Mattermost, Rocket.Chat)."""

    type: Literal["webhook"]
    channel: str = Field(min_length=1, description="the runbook channel it delivers (Slack, ...)")
    url_env: EnvName = Field(description="environment variable holding the webhook URL (it carries a token)")

    @model_validator(mode="before")
    @classmethod
    def _secrets(cls, data: Any) -> Any:
        data = _refuse_inline_secrets(data, "GAMEDAY_SLACK_WEBHOOK")
        if isinstance(data, dict) and "url_env" not in data:
            raise ValueError("missing the webhook URL: name the environment variable that holds it "
                             "(url_env: GAMEDAY_SLACK_WEBHOOK)")
        return data


class SmtpSink(_Closed):
    """Email over SMTP: plain, STARTTLS (``starttls``) or implicit TLS (``tls``), with optional login."""

    type: Literal["smtp"]
    channel: str = Field(min_length=1)
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = Field(default=True, description="upgrade with STARTTLS (port 587)")
    tls: bool = Field(default=False, description="implicit TLS from the first byte (port 465)")
    ca_file: Path | None = Field(default=None, description="CA bundle to trust for the server's certificate")
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    sender: Address = Field(alias="from")
    to: list[Address] = Field(min_length=1, max_length=50)

    @model_validator(mode="before")
    @classmethod
    def _secrets(cls, data: Any) -> Any:
        data = _refuse_inline_secrets(data, "GAMEDAY_SMTP_PASSWORD")
        if isinstance(data, dict) and "username" in data:
            raise ValueError("username is written inline; name the environment variable that holds it "
                             "(username_env: GAMEDAY_SMTP_USER)")
        return data

    @field_validator("ca_file")
    @classmethod
    def _beside_the_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """A relative CA file is read beside the notify file, wherever gameday runs from."""
        base = (info.context or {}).get("base_dir")
        return Path(base) / value if value is not None and not value.is_absolute() and base is not None else value

    @model_validator(mode="after")
    def _modes(self) -> SmtpSink:
        if self.tls and self.starttls:
            raise ValueError("tls (implicit TLS) and starttls exclude each other; set starttls: false with tls")
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("login needs both username_env and password_env")
        return self


class StatusPageSink(_Closed):
    """The read-only status page gameday serves while the drill runs (the runbook's Status Page channel)."""

    type: Literal["status_page"]
    channel: str = Field(min_length=1)
    host: str = Field(default="127.0.0.1", pattern=r"^[A-Za-z0-9.:-]+$", max_length=253)
    port: int = Field(default=0, ge=0, le=65535, description="0 = any free port (printed at start)")
    title: str = Field(default="Service status", min_length=1, max_length=120)

    @model_validator(mode="before")
    @classmethod
    def _secrets(cls, data: Any) -> Any:
        return _refuse_inline_secrets(data, "GAMEDAY_STATUS_TOKEN")


Sink = Annotated[WebhookSink | SmtpSink | StatusPageSink, Field(discriminator="type")]


class NotifyConfig(_Closed):
    """Which sinks deliver which runbook channel during a drill."""

    kind: Literal["notify"] = "notify"
    name: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9-]*)?$")
    description: str = ""
    timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="per delivery attempt")
    sinks: list[Sink] = Field(min_length=1, max_length=20)

    def check_against(self, runbook: Runbook) -> None:
        """Every channel is one the runbook's severities name (Slack, Status Page, Email, ...), so a message
        sent to a channel always has a sink that can be found by that name."""
        from gameday.names import unknown

        known = runbook_channels(runbook)
        for i, sink in enumerate(self.sinks):
            if sink.channel not in known:
                raise InputError(None, f"sinks.{i}.channel", unknown("channel", sink.channel, known))

    def resolve(self, path: str | Path | None = None, env: Mapping[str, str] | None = None) -> list[ResolvedSink]:
        """The sinks with their secrets read from the environment; a variable that is unset or empty, a URL
        that is not http(s) or a CA file that is missing is refused naming the field (the value is never
        echoed: it is a secret)."""
        env = os.environ if env is None else env
        out = []
        for i, sink in enumerate(self.sinks):
            secrets: dict[str, str] = {}
            for field in ("url_env", "username_env", "password_env"):
                name = getattr(sink, field, None)
                if name is None:
                    continue
                value = env.get(name, "")
                if not value:
                    raise InputError(path, f"sinks.{i}.{field}", f"${name} is not set (export it before the drill)")
                secrets[field.removesuffix("_env")] = value
            if "url" in secrets:
                parts = urlsplit(secrets["url"])
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise InputError(path, f"sinks.{i}.url_env", f"${sink.url_env} is not an http(s) URL")  # type: ignore[union-attr]
            ca_file = getattr(sink, "ca_file", None)
            if ca_file is not None and not Path(ca_file).is_file():
                raise InputError(path, f"sinks.{i}.ca_file", f"no such file: {ca_file}")
            out.append(ResolvedSink(index=i, spec=sink, secrets=secrets))
        return out


@dataclass(frozen=True)
class ResolvedSink:
    """A sink and its secrets (kept in memory only: never logged, never journaled)."""

    index: int
    spec: WebhookSink | SmtpSink | StatusPageSink
    secrets: dict[str, str]

    @property
    def label(self) -> str:
        """How failures name the sink: its channel and type, never its address or credentials."""
        return f"{self.spec.channel} ({self.spec.type.replace('_', ' ')}, sink {self.index + 1})"

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this sink (and a URL's path and query, where tokens live) masked."""
        for key, value in self.secrets.items():
            if not value:
                continue
            text = text.replace(value, f"${getattr(self.spec, key + '_env', key)}")
            if key == "url":
                parts = urlsplit(value)
                if parts.path not in ("", "/"):
                    text = text.replace(parts.path, "/…")
        return re.sub(r"(https?://[^/\s'\"]+)/[^\s'\"]*", r"\1/…", text)


def runbook_channels(runbook: Runbook) -> list[str]:
    """The channels the runbook's severities post updates to, in the order it first names them."""
    return list(dict.fromkeys(channel for severity in runbook.severities for channel in severity.update_channels))


def load_notify(path: str | Path) -> NotifyConfig:
    """A ``kind: notify`` file, shape checked (one line naming file and field otherwise)."""
    from gameday.files import load_model, read_yaml

    kind = read_yaml(path).get("kind")
    if kind != "notify":
        raise InputError(path, "kind", f"expected kind: notify, not {kind!r}")
    return load_model(path, NotifyConfig)
