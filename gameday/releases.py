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
    #: The database schema it needs; a release with a newer schema migrates forward when it starts, and that
    #: migration has no way back (schema 2 renames ``patients.ward`` to ``unit``: older releases then fail).
    schema: int = 1
    #: A bug in the ward list of the first release on schema 2 (it sorts by a column that does not exist).
    broken_ward_list: bool = False
    #: Books every appointment twice (a retry without an idempotency check): wrong data, successful requests.
    double_booking: bool = False
    #: Keeps every search result in a cache it never evicts: memory grows until the container is OOM-killed.
    leaks_memory: bool = False


HEALTHY = Release("v1.2.2", "the healthy release: every connection goes back to the pool")
LEAKY = Release("v1.2.3", "incident 2026-01-24-001: leaks a pooled connection on every query timeout",
                releases_on_timeout=False)  # fmt: skip
# port 1 on loopback: nothing listens, so the connection is refused at once
CRASHLOOP = Release("v1.2.4-rc1", "ships a DATABASE_URL that cannot reach the database",
                    database_url_override="postgresql://erp@127.0.0.1:1/erp")  # fmt: skip

# issue 22's unsafe rollback: a forward-only migration, a bug, and the fix to roll forward to
MIGRATING = Release("v1.3.0", "care units: migrates the schema forward (ward -> unit, no way back); its ward "
                    "list fails", schema=2, broken_ward_list=True)  # fmt: skip
FIXED = Release("v1.3.1", "the care-unit release with its ward list fixed (roll forward to it)", schema=2)
# issue 22's data at risk: requests succeed while the data goes wrong
DOUBLE_BOOKING = Release("v1.2.5", "retries every booking without checking it was made: each appointment is "
                         "booked twice, and every request succeeds", double_booking=True)  # fmt: skip
# issue 22's memory fault: a leak that ends in OOMKilled
MEMORY_LEAK = Release("v1.2.6", "caches search results and never evicts one: memory grows until the container is "
                      "OOM-killed", leaks_memory=True)  # fmt: skip

#: Every release, healthy first (the kind build makes one backend image per entry).
RELEASES: dict[str, Release] = {r.version: r for r in (HEALTHY, LEAKY, CRASHLOOP, MIGRATING, FIXED,
                                                          DOUBLE_BOOKING, MEMORY_LEAK)}


def release(version: str) -> Release:
    """The catalogue's release; an unknown version behaves like the healthy one (a plain rebuild)."""
    return RELEASES.get(version) or Release(version)
