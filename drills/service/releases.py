"""What each release of the demo backend does differently: the bugs the drills replay."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Release:
    version: str
    releases_on_timeout: bool = True  # False = v1.2.3's bug: the timeout handler keeps the connection
    database_url_override: str | None = None  # a release shipped with a wrong DATABASE_URL


RELEASES: dict[str, Release] = {
    "v1.2.2": Release("v1.2.2"),
    "v1.2.3": Release("v1.2.3", releases_on_timeout=False),
    # port 1 on loopback: nothing listens, so the connection is refused at once
    "v1.2.4-rc1": Release("v1.2.4-rc1", database_url_override="postgresql://erp@127.0.0.1:1/erp"),
}


def release(version: str) -> Release:
    """Unknown versions behave like the healthy one (a plain rebuild)."""
    return RELEASES.get(version, Release(version))
