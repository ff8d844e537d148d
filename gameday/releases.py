"""The release catalogue: the demo backend's releases the drills deploy, and what each does differently.

One place for every version: the healthy release the sandbox and the kind stack start on, the releases the
rollout faults deploy (:mod:`gameday.faults`), the images the kind build makes (one per release), and the
bugs the backend replays (``drills/service``).  Plain Python, no dependency: the backend's image ships this
file (``drills/k8s/build/apps.py`` ``APP_SOURCES``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Release:
    version: str
    summary: str = "a rebuild of the healthy release"
    #: False: the timeout handler keeps the pooled connection (incident 2026-01-24-001).
    releases_on_timeout: bool = True
    #: A release shipped with a wrong DATABASE_URL.
    database_url_override: str | None = None


HEALTHY = Release("v1.2.2", "the healthy release: every connection goes back to the pool")
LEAKY = Release("v1.2.3", "incident 2026-01-24-001: leaks a pooled connection on every query timeout",
                releases_on_timeout=False)  # fmt: skip
# port 1 on loopback: nothing listens, so the connection is refused at once
CRASHLOOP = Release("v1.2.4-rc1", "ships a DATABASE_URL that cannot reach the database",
                    database_url_override="postgresql://erp@127.0.0.1:1/erp")  # fmt: skip

#: Every release, healthy first (the kind build makes one backend image per entry).
RELEASES: dict[str, Release] = {r.version: r for r in (HEALTHY, LEAKY, CRASHLOOP)}


def release(version: str) -> Release:
    """The catalogue's release; an unknown version behaves like the healthy one (a plain rebuild)."""
    return RELEASES.get(version) or Release(version)
