"""Join tokens and CSRF tokens.

Two random join tokens (responders, game master) are printed in the war room's URLs.  Opening a join URL
stores the token in an HttpOnly, SameSite=Strict cookie; the page then receives a CSRF token derived from
it (HMAC with a per-server secret), which every write must echo in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["responder", "gm"]
COOKIE = "gameday_warroom"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Access:
    responder_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    gm_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def __post_init__(self) -> None:
        if self.responder_token == self.gm_token:
            raise ValueError("the responders' and the game master's tokens must differ")

    def role_of(self, token: str | None) -> Role | None:
        if not token:
            return None
        given = token.encode("utf-8", errors="surrogateescape")
        if hmac.compare_digest(given, self.gm_token.encode()):
            return "gm"
        if hmac.compare_digest(given, self.responder_token.encode()):
            return "responder"
        return None

    def csrf_for(self, token: str) -> str:
        return hmac.new(self.secret, b"csrf:" + token.encode("utf-8", errors="surrogateescape"),
                        hashlib.sha256).hexdigest()

    def csrf_ok(self, token: str, candidate: str | None) -> bool:
        """Compared as bytes: a header of any characters is a wrong token, never an error (compare_digest
        refuses non-ASCII text)."""
        if not candidate:
            return False
        given = str(candidate).encode("utf-8", errors="surrogateescape")
        return hmac.compare_digest(self.csrf_for(token).encode(), given)
