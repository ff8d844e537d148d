"""What a war-room write may carry: closed, typed, length-limited request models (one per button).

``parse_request`` turns a JSON body into one of them or raises :class:`RequestRefused` with a one-line
message and an HTTP status, before anything reaches the journal.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from gameday.errors import one_line
from gameday.names import shown
from gameday.remediations import RemediationName

#: Whole request bodies larger than this are refused unread (the review is the largest text).
MAX_BODY_BYTES = 256 * 1024
MAX_TEXT = 2000
MAX_REVIEW = 60_000


def _printable(value: str) -> str:
    """A name shown on one line: no control, format or separator characters (U+0085, U+2028, U+202E, ...)."""
    if not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        raise ValueError(f"holds the unprintable character U+{ord(bad):04X}")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60,
                                        pattern=r"^[^\x00-\x1f\x7f<>]+$"), AfterValidator(_printable)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80,
                                         pattern=r"^[^\x00-\x1f\x7f]+$"), AfterValidator(_printable)]

#: JSON nested deeper than this is refused before it is parsed (no request is more than 3 levels deep).
MAX_DEPTH = 32


class RequestRefused(Exception):
    """A write the war room refuses; ``status`` is the HTTP status, the message says why in one line (control
    characters and unpaired surrogates escaped, whatever the request held)."""

    def __init__(self, status: int, message: str) -> None:
        message = one_line(message)
        super().__init__(message)
        self.status = status
        self.message = message


class _Request(BaseModel):
    """Closed and strict: a number is a JSON number (``true`` is not 1, ``"1"`` is not 1), a name a string."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

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


class Declaration(_Request):
    """The declaration message (the runbook's declaration template), to the channels ticked."""

    type: Literal["declaration"]
    message: Text
    channels: list[Short] = Field(default_factory=list, max_length=6)


class Notice(_Request):
    """Users told: the runbook's initial or resolution notification."""

    type: Literal["notice"]
    kind: Literal["initial", "resolution"]
    message: Text
    channels: list[Short] = Field(default_factory=list, max_length=6)


class StatusPage(_Request):
    type: Literal["status_page"]
    status: Short
    message: Text
    channels: list[Short] = Field(default_factory=list, max_length=6)


class Notify(_Request):
    """Business escalation: one person of the runbook's list told."""

    type: Literal["notify"]
    who: Short
    message: Text | None = None
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


RESPONDER_REQUESTS = (Ack, Declare, Assign, StatusUpdate, Declaration, Notice, StatusPage, Notify, Hypothesis, Page,
                      WarRoom, Verify, Resolve, Close, Review, Remediate)
GM_REQUESTS = (Hint, Reveal, Stage, EndDrill)
ActionRequest = Annotated[
    Ack | Declare | Assign | StatusUpdate | Declaration | Notice | StatusPage | Notify | Hypothesis | Page | WarRoom
    | Verify | Resolve | Close | Review | Remediate | Hint | Reveal | Stage | EndDrill,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(ActionRequest)


def _type_name(model: type[_Request]) -> str:
    return str(model.model_fields["type"].annotation.__args__[0])  # type: ignore[union-attr]


RESPONDER_TYPES = [_type_name(m) for m in RESPONDER_REQUESTS]
GM_TYPES = [_type_name(m) for m in GM_REQUESTS]


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _depth(text: str) -> int:
    """How deep the brackets of a JSON text nest (strings skipped), counted without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break
        elif char in "]}":
            depth -= 1
    return deepest


def decode_json(body: bytes) -> Any:
    """The body as JSON (RFC 8259: UTF-8, no NaN/Infinity), nested at most :data:`MAX_DEPTH` deep; 400
    otherwise (a body of 100,000 ``[`` would exhaust the parser's recursion)."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestRefused(413, f"request body over {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise RequestRefused(400, "the request body is empty; send a JSON object with a 'type'")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestRefused(400, f"the request body is not UTF-8 (byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise RequestRefused(400, "the request body starts with a byte-order mark; send plain UTF-8 JSON")
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise RequestRefused(400, f"the request body nests deeper than {MAX_DEPTH} levels")
    try:
        raw = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:
        problem = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise RequestRefused(400, f"the request body is not JSON: {problem[:80]}") from None
    try:  # "\ud800" is valid JSON but no text: it could be neither journaled nor shown back
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RequestRefused(400, "the request body holds an unpaired UTF-16 surrogate (\\ud800-\\udfff)") from None
    return raw


def parse_request(body: bytes, *, game_master: bool) -> _Request:
    """Validate one write.  Unknown types, malformed JSON, bad or oversized fields: 4xx, one line."""
    raw = decode_json(body)
    if not isinstance(raw, dict):
        raise RequestRefused(400, f"the request body must be a JSON object with a 'type', not a JSON "
                             f"{_JSON_NAMES.get(type(raw), type(raw).__name__)}")
    kind = raw.get("type")
    allowed = RESPONDER_TYPES + (GM_TYPES if game_master else [])
    if kind not in allowed:
        if kind in GM_TYPES:
            raise RequestRefused(403, f"only the game master may {kind!r}")
        if "type" not in raw:
            raise RequestRefused(400, f"the request has no 'type'; expected one of {', '.join(allowed)}")
        raise RequestRefused(400, f"unknown event type {shown(kind)}; expected one of {', '.join(allowed)}")
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(_location(p) for p in first.get("loc", ())[1:]) or "body"
        problem = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise RequestRefused(422, f"{kind}: {where}: {problem}") from None


_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _location(part: object) -> str:
    """A field name in an error: the request's own key (an unknown field's) cut short, never a second line."""
    text = str(part)
    return text if len(text) <= 40 and text.isprintable() else shown(text)
