"""Responder model for the drills' autopilot: the simulator's step-delay distributions on demand.

The autopilot runs the *same* responder behaviour as the simulator, but on a real-time clock: it asks
this model how long each step takes (in runbook minutes) and sleeps ``minutes * 60 / time_scale``
wall seconds before acting.  The API is kept stable on purpose::

    model = ResponderModel.from_files("scenarios/policies/baseline.yaml")   # runbook: the shipped one
    rng = numpy.random.default_rng(7)
    model.delay_minutes("acknowledge", rng)     # -> float minutes
    model.escalate_after_minutes(2)             # -> 30.0 with the seed runbook
    model.steps                                 # ("acknowledge", "assess", ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gameday.errors import InputError
from gameday.runbook import Runbook, load_runbook
from sim.dists import _Dist
from sim.policy import Policy, RolePolicy, load_policy, per_severity

#: Steps the autopilot performs, in workflow order.
STEPS: tuple[str, ...] = (
    "acknowledge",
    "assess",
    "declare",
    "assemble",
    "investigate",
    "hypothesis",
    "fix",
    "verify",
    "status_update",
)


def status_update_gap(interval_minutes: float, writing_minutes: float, typical_writing_minutes: float) -> float:
    """Minutes from one status update to the next, the way every responder model times them.

    After posting, the writer sets a reminder for the cadence minus the typical writing time; writing the
    next one then takes ``writing_minutes`` (a ``steps.status_update`` draw), so a slow writer posts late
    by the difference and a typical one on the cadence.
    """
    return max(0.0, interval_minutes - typical_writing_minutes) + writing_minutes


def role_delay(role: RolePolicy, u_available: float, u_ack: float, u_wait: float) -> float:
    """Minutes until a role answers: its ack delay, plus a wait when nobody is reachable."""
    delay = float(role.ack.ppf(np.array([u_ack]))[0])
    if u_available >= role.availability:
        delay += float(role.unavailable_delay.ppf(np.array([u_wait]))[0])
    return delay


@dataclass(frozen=True)
class ResponderModel:
    """Step delays (runbook minutes) drawn from a :class:`Policy`, plus the runbook's escalation ladder."""

    policy: Policy
    runbook: Runbook
    steps: tuple[str, ...] = STEPS

    @classmethod
    def from_files(cls, policy_path: str | Path, runbook_path: str | Path | None = None) -> ResponderModel:
        """Load a policy YAML and a runbook (``None`` = the runbook gameday ships)."""
        return cls(policy=load_policy(str(policy_path)), runbook=load_runbook(runbook_path))

    def delay_minutes(self, step: str, rng: np.random.Generator, severity: str | None = None) -> float:
        """Sample how long ``step`` takes, in runbook minutes, using ``rng`` only.

        ``fix`` is a rollback with the policy's ``rollback_probability`` (else a hotfix); ``assemble``
        waits for the slowest role in ``responders.roles``, exactly as the simulator does.
        """
        policy = self.policy
        sev = severity or self.runbook.severities[0].name
        if step == "acknowledge":
            return _draw(policy.responders.ack, rng)
        if step == "fix":
            rollback = rng.random() < per_severity(policy.decisions.rollback_probability, sev)
            return _draw(policy.steps.rollback if rollback else policy.steps.hotfix, rng)
        if step == "assemble":
            base = _draw(policy.steps.assemble, rng)
            waits = [role_delay(r, rng.random(), rng.random(), rng.random()) for r in policy.responders.roles.values()]
            return base + max(waits, default=0.0)
        if step in type(policy.steps).model_fields:
            return _draw(getattr(policy.steps, step), rng)
        raise InputError(None, "step", f"unknown step {step!r}; expected one of {', '.join(self.steps)}")

    def escalate_after_minutes(self, level: int, severity: str | None = None) -> float:
        """Minutes after acknowledgement, the service not yet restored, before ladder ``level`` is paged (0 when
        the severity engages it at once)."""
        rungs = {rung.level: rung for rung in self.runbook.escalation.technical}
        if level not in rungs:
            raise InputError(None, "level", f"the runbook's ladder has levels {sorted(rungs)}, not {level}")
        if severity is not None and severity in rungs[level].or_severities:
            return 0.0
        override = self.policy.escalation.level(level).after_minutes
        return float(override if override is not None else rungs[level].after_minutes)

    def status_update_minutes(self, severity: str) -> float | None:
        """The runbook's update cadence for a severity (None when it names no clock)."""
        return self.runbook.severity(severity).update_interval_minutes

    def status_update_gap_minutes(self, severity: str, rng: np.random.Generator) -> float | None:
        """Minutes until the next status update (:func:`status_update_gap`); None without a cadence."""
        interval = self.status_update_minutes(severity)
        if interval is None:
            return None
        dist = self.policy.steps.status_update
        return status_update_gap(interval, _draw(dist, rng), float(dist.mean()))


def _draw(dist: _Dist, rng: np.random.Generator) -> float:
    return float(dist.ppf(np.array([rng.random()]))[0])
