"""Every check, registered once, in the order reports list them: the runbook's phases (``checks``), Phase 4
and the roles (``checks_comms``), then the decision tree's other branches (``checks_branches``)."""

from __future__ import annotations

from gameday.scoring import checks, checks_branches, checks_comms, registry

#: The check modules in report order (importing them registered their checks).
MODULES = (checks.__name__, checks_comms.__name__, checks_branches.__name__)
#: Every check: by module as above, then in the order each module defines them.
CHECKS: list[registry.Check] = sorted(registry.CHECKS, key=lambda c: MODULES.index(c.run.__module__))


def check_ids() -> list[str]:
    return [c.id for c in CHECKS]
