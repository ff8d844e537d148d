"""What a war-room write may carry: closed, typed, length-limited request models (one per button).

``parse_request`` turns a JSON body into one of them or raises :class:`RequestRefused` with a one-line
message and an HTTP status, before anything reaches the journal.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from gameday.remediations import RemediationName

#: Whole request bodies larger than this are refused unread (the review is the largest text).
MAX_BODY_BYTES = 256 * 1024
MAX_TEXT = 2000
MAX_REVIEW = 60_000

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60,
                                        pattern=r"^[^\x00-\x1f\x7f<>]+$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80,
                                         pattern=r"^[^\x00-\x1f\x7f]+$")]


class RequestRefused(Exception):
    """A write the war room refuses; ``status`` is the HTTP status, the message says why in one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Name = Field(description="the participant's name, journaled as the actor")


class Ack(_Request):
    type: Literal["ack"]


class Declare(_Request):
    type: Literal["declare"]
    level: int = Field(ge=1, le=9)


class Assign(_Request):
    type: Literal["assign"]
    role: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
    person: Name


class StatusUpdate(_Request):
    type: Literal["update"]
    message: Text
    channels: list[Short] = Field(default_factory=list, max_length=6)


class Hypothesis(_Request):
    type: Literal["hypothesis"]
    text: Text


class Page(_Request):
    type: Literal["page"]
    who: Short = "on-call team"
    level: int = Field(default=1, ge=1, le=9)


class WarRoom(_Request):
    type: Literal["war_room"]
    channel: Short | None = None


class Verify(_Request):
    type: Literal["verify"]


class Resolve(_Request):
    type: Literal["resolve"]


class Close(_Request):
    type: Literal["close"]


class Review(_Request):
    type: Literal["postmortem"]
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_REVIEW)]


class Remediate(_Request):
    type: Literal["remediate"]
    action: RemediationName = Field(description="a remediation of the catalogue (gameday.remediations)")
    replicas: int | None = Field(default=None, ge=1, le=10, description="scale only: the war room's range")


class Hint(_Request):
    type: Literal["hint"]
    text: Text


class Reveal(_Request):
    type: Literal["reveal"]


class Stage(_Request):
    type: Literal["stage"]
    index: int = Field(ge=0, le=20)


class EndDrill(_Request):
    type: Literal["end"]
    reason: Short = "ended by the game master"


RESPONDER_REQUESTS = (Ack, Declare, Assign, StatusUpdate, Hypothesis, Page, WarRoom, Verify, Resolve, Close,
                      Review, Remediate)
GM_REQUESTS = (Hint, Reveal, Stage, EndDrill)
ActionRequest = Annotated[
    Ack | Declare | Assign | StatusUpdate | Hypothesis | Page | WarRoom | Verify | Resolve | Close | Review
    | Remediate | Hint | Reveal | Stage | EndDrill,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(ActionRequest)


def _type_name(model: type[_Request]) -> str:
    return str(model.model_fields["type"].annotation.__args__[0])  # type: ignore[union-attr]


RESPONDER_TYPES = [_type_name(m) for m in RESPONDER_REQUESTS]
GM_TYPES = [_type_name(m) for m in GM_REQUESTS]


def parse_request(body: bytes, *, game_master: bool) -> _Request:
    """Validate one write.  Unknown types, malformed JSON, bad or oversized fields: 4xx, one line."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestRefused(413, f"request body over {MAX_BODY_BYTES} bytes")
    try:
        raw = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise RequestRefused(400, "the request body is not JSON") from None
    if not isinstance(raw, dict):
        raise RequestRefused(400, "the request body must be a JSON object with a 'type'")
    kind = raw.get("type")
    allowed = RESPONDER_TYPES + (GM_TYPES if game_master else [])
    if kind not in allowed:
        if kind in GM_TYPES:
            raise RequestRefused(403, f"only the game master may {kind!r}")
        raise RequestRefused(400, f"unknown event type {kind!r}; expected one of {', '.join(allowed)}")
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "body"
        problem = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise RequestRefused(422, f"{kind}: {where}: {problem}") from None
