"""Malformed bodies against the real war-room server: every one is a 4xx with a one-line message, never a 5xx,
the journal is left byte for byte as it was, and the server keeps answering.

``POST /api/act`` is the only route that reads a body; the explicit cases cover each way a body can be wrong
(JSON, content type, encoding, nesting, size, types, fields, names, shape), then Hypothesis throws generated
JSON values and raw bytes at it.  Remediations and stages reach a stand-in target (a generated body may well be
a valid ``remediate``), and the game master's ``end`` is never generated: it would signal this test process,
the stand-in drill's runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warroom_helpers import LiveRoom

from drills.warroom.requests import GM_TYPES, MAX_BODY_BYTES, RESPONDER_TYPES

JSON = {"Content-Type": "application/json"}


class StandIn:
    """A target that does nothing: a generated ``remediate`` or ``stage`` must not reach a real one."""

    def remediate(self, action: Any, **params: Any) -> str:
        return f"{action} (stand-in)"

    def inject(self, fault: Any, drill_id: str = "") -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(id="stand-in", params={})

    def close(self) -> None:
        pass


@pytest.fixture
def room(live_room: LiveRoom) -> Iterator[LiveRoom]:
    app = live_room.server._server.config.app  # type: ignore[attr-defined]
    app.state.room.target_factory = lambda active: StandIn()
    yield live_room


def nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length): the server must count it as it comes."""
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


#: (what, body, headers): each must be refused with a 4xx and one line.
CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("invalid JSON", b"{", JSON),
    ("single quotes", b"{'type': 'ack', 'actor': 'a'}", JSON),
    ("form encoding as JSON", b"type=ack&actor=a", JSON),
    ("trailing garbage", b'{"type": "ack", "actor": "a"} x', JSON),
    ("NaN", b'{"type": "declare", "actor": "a", "level": NaN}', JSON),
    ("Infinity", b'{"type": "page", "actor": "a", "level": Infinity}', JSON),
    ("1e400", b'{"type": "declare", "actor": "a", "level": 1e400}', JSON),
    ("text/plain", b'{"type": "ack", "actor": "a"}', {"Content-Type": "text/plain"}),
    ("form content type", b"type=ack&actor=a", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("multipart", b"--x\r\n\r\n--x--", {"Content-Type": "multipart/form-data; boundary=x"}),
    ("no content type", b'{"type": "ack", "actor": "a"}', {"Content-Type": ""}),
    ("content type with a C1 byte", b'{"type": "ack", "actor": "a"}', {"Content-Type": b"application/\x85json"}),
    ("not UTF-8", b'{"type": "ack", "actor": "\xff\xfe"}', JSON),
    ("latin-1", '{"type": "ack", "actor": "José"}'.encode("latin-1"), JSON),
    ("UTF-16", '{"type": "ack", "actor": "a"}'.encode("utf-16"), JSON),
    ("overlong UTF-8", b'{"type": "ack", "actor": "\xc0\xaf"}', JSON),
    ("byte-order mark", b'\xef\xbb\xbf{"type": "ack", "actor": "a"}', JSON),
    ("NUL bytes", b'\x00\x00{"type": "ack"}', JSON),
    ("unpaired surrogate", b'{"type": "hypothesis", "actor": "a", "text": "\\ud800"}', JSON),
    ("surrogate in a key", b'{"type": "ack", "actor": "a", "\\udc80": 1}', JSON),
    ("100,000 nested arrays", nested(100_000), JSON),
    ("100,000 open arrays", b"[" * 100_000, JSON),
    ("nested objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, JSON),
    ("nesting in a field", b'{"type": "hypothesis", "actor": "a", "text": ' + nested(5_000) + b"}", JSON),
    ("huge body", json.dumps({"type": "postmortem", "actor": "a", "text": "x" * 300_000}).encode(), JSON),
    ("huge chunked body", "chunked:5000000", JSON),
    ("body just over the limit, chunked", f"chunked:{MAX_BODY_BYTES + 1}", JSON),
    ("huge key", json.dumps({"type": "ack", "actor": "a", "k" * 200_000: 1}).encode(), JSON),
    ("wrong type: level a string", b'{"type": "declare", "actor": "a", "level": "one"}', JSON),
    ("wrong type: level a bool", b'{"type": "declare", "actor": "a", "level": true}', JSON),
    ("wrong type: level a fraction", b'{"type": "declare", "actor": "a", "level": 1.5}', JSON),
    ("wrong type: actor a number", b'{"type": "ack", "actor": 123}', JSON),
    ("wrong type: actor null", b'{"type": "ack", "actor": null}', JSON),
    ("wrong type: actor a list", b'{"type": "ack", "actor": ["a"]}', JSON),
    ("wrong type: type an object", b'{"type": {"type": "ack"}, "actor": "a"}', JSON),
    ("wrong type: type a list", b'{"type": ["ack"], "actor": "a"}', JSON),
    ("wrong type: channels a string", b'{"type": "update", "actor": "a", "message": "m", "channels": "Slack"}', JSON),
    ("unknown field", b'{"type": "ack", "actor": "a", "seq": 0}', JSON),
    ("unknown field with a newline", b'{"type": "ack", "actor": "a", "x\\ny": 0}', JSON),
    ("unknown type", b'{"type": "drop_table", "actor": "a"}', JSON),
    ("huge unknown type", json.dumps({"type": "x" * 100_000, "actor": "a"}).encode(), JSON),
    ("no type", b'{"actor": "a"}', JSON),
    ("unknown severity level", b'{"type": "declare", "actor": "a", "level": 9}', JSON),
    ("unknown role", b'{"type": "assign", "actor": "a", "role": "XX", "person": "b"}', JSON),
    ("unknown ladder level", b'{"type": "page", "actor": "a", "level": 9}', JSON),
    ("unknown remediation", b'{"type": "remediate", "actor": "a", "action": "rolback"}', JSON),
    ("control character in a name", b'{"type": "ack", "actor": "a\\u0007b"}', JSON),
    ("line separator in a name", b'{"type": "ack", "actor": "a\\u2028b"}', JSON),
    ("next line (C1) in a name", b'{"type": "ack", "actor": "a\\u0085b"}', JSON),
    ("right-to-left override in a name", b'{"type": "ack", "actor": "\\u202eecila"}', JSON),
    ("markup in a name", b'{"type": "ack", "actor": "<img src=x>"}', JSON),
    ("empty name", b'{"type": "ack", "actor": "   "}', JSON),
    ("empty body", b"", JSON),
    ("whitespace body", b" \n\t ", JSON),
    ("JSON list", b'[{"type": "ack", "actor": "a"}]', JSON),
    ("JSON string", b'"ack"', JSON),
    ("JSON number", b"42", JSON),
    ("JSON null", b"null", JSON),
    ("JSON true", b"true", JSON),
    ("game master only", b'{"type": "hint", "actor": "a", "text": "psst"}', JSON),
]


def send(client: httpx.Client, body: Any, headers: dict[str, str]) -> httpx.Response:
    if isinstance(body, str) and body.startswith("chunked:"):
        try:
            return client.post("/api/act", content=chunks(int(body.split(":")[1])), headers=headers)
        except (httpx.RemoteProtocolError, httpx.WriteError) as exc:  # refused before it was all sent
            pytest.fail(f"the server dropped the connection instead of answering 413: {exc}")
    return client.post("/api/act", content=body, headers=headers)


def assert_refused(response: httpx.Response, what: str) -> str:
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    error = response.json()["error"]
    assert isinstance(error, str) and error.strip(), f"{what}: {response.text[:300]}"
    assert "\n" not in error and "\r" not in error and error.isprintable(), f"{what}: not one line: {error!r}"
    assert len(error) < 400, f"{what}: {len(error)} characters: {error[:120]!r}..."
    return error


def test_every_malformed_body_is_a_4xx_with_one_line(room: LiveRoom) -> None:
    """All the cases against one server (a server per case would cost a second each): each refused, the
    journal unchanged after each, the server answering after each."""
    client = room.client()
    failures = []
    for what, body, headers in CASES:
        before = room.lines()
        try:
            error = assert_refused(send(client, body, headers), what)
            assert room.lines() == before, f"{what}: the journal changed ({error})"
            assert client.get("/api/state").status_code == 200, f"{what}: the server stopped answering"
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)


def test_status_codes_say_what_was_wrong(room: LiveRoom) -> None:
    client = room.client()

    def status(body: Any, headers: dict[str, str] = JSON) -> int:
        return send(client, body, headers).status_code

    assert status(b'{"type": "ack", "actor": "a"}', {"Content-Type": "text/plain"}) == 415
    assert status(nested(100_000)) == 400
    assert status(f"chunked:{MAX_BODY_BYTES + 1}") == 413
    assert status(b"[]") == 400
    assert status(b'{"type": "declare", "actor": "a", "level": "one"}') == 422
    # and a well-formed one still goes through, with a charset parameter and a name in any script
    answer = send(client, '{"type": "ack", "actor": "José 김 😀"}'.encode(),
                  {"Content-Type": "application/json; charset=utf-8"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["actor"] == "José 김 😀"


def test_headers_of_any_bytes_are_refused_not_errors(room: LiveRoom) -> None:
    client = room.client()
    before = room.lines()
    for csrf in ("é".encode() * 32, b"\xff" * 10, b"x" * 10_000):
        answer = client.post("/api/act", content=b'{"type": "ack", "actor": "a"}',
                             headers={**JSON, "X-CSRF-Token": csrf})
        assert answer.status_code == 403 and "X-CSRF-Token" in assert_refused(answer, repr(csrf[:5]))
    stranger = httpx.Client(base_url=room.server.base_url, timeout=30)  # type: ignore[attr-defined]
    odd_cookie = {**JSON, "Cookie": b"gameday_warroom=" + "é".encode() * 50 + b"\xff"}
    assert_refused(stranger.post("/api/act", content=b"{}", headers=odd_cookie), "odd cookie")  # type: ignore[arg-type]
    for path in ("/api/state", "/api/score", "/", "/api/draft/x", "/report/x"):  # routes without a body
        assert 400 <= client.post(path, content=nested(100_000), headers=JSON).status_code < 500, path
    assert room.lines() == before


# -- generated ---------------------------------------------------------------------------------------------

FIELDS = ["type", "actor", "level", "role", "person", "message", "channels", "text", "who", "channel", "action",
          "replicas", "index", "reason", "seq", ""]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
requests = st.fixed_dictionaries(
    {"type": st.sampled_from([*RESPONDER_TYPES, *(t for t in GM_TYPES if t != "end"), "end-not", "", "ACK"])},
    optional={field: json_values | st.sampled_from(["a", "IC", "rollback", "scale", "Slack", 1, 2, 9, 0, -1])
              for field in FIELDS if field != "type"},
)
bodies = st.one_of(
    requests.map(lambda r: json.dumps(r).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    requests.map(lambda r: json.dumps(r).encode()).flatmap(
        lambda raw: st.integers(0, max(0, len(raw) - 1)).map(lambda cut: raw[:cut])),  # cut short
)
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_generated_bodies_never_get_a_5xx(room: LiveRoom) -> None:
    responder, gm = room.client(), room.client(gm=True)

    @FUZZ
    @given(body=bodies, as_gm=st.booleans())
    def one(body: bytes, as_gm: bool) -> None:
        if as_gm and b'"end"' in body:
            return  # the game master's end would stop this process (the stand-in drill's runner)
        before = room.lines()
        answer = (gm if as_gm else responder).post("/api/act", content=body, headers=JSON)
        assert answer.status_code < 500, (body[:200], answer.status_code, answer.text[:300])
        if answer.status_code >= 400:
            assert_refused(answer, repr(body[:80]))
            assert room.lines() == before, body[:200]

    one()
    assert responder.get("/api/state").status_code == 200
