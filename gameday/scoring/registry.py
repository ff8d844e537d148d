"""The check registry and what every check module shares: the context a check reads, the registered check,
and small readings of the journal.

A leaf module so that the check modules (``checks``, ``checks_comms``, ``checks_branches``) each import it and
none imports another; :mod:`gameday.scoring.catalogue` imports them all, which registers every check once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gameday.journal import Event
from gameday.metrics import declares
from gameday.runbook.model import Runbook
from gameday.scoring.result import CheckResult, Status
from gameday.scoring.view import IncidentView

if TYPE_CHECKING:
    from gameday.scoring.weights import ScoringConfig


@dataclass
class Context:
    view: IncidentView
    runbook: Runbook
    config: ScoringConfig
    expected: str | None  # severity the incident really had (scenario / simulator)
    declared: str | None  # severity the team declared
    severity: str | None  # the one whose rules apply: expected, else declared

    @property
    def lenient(self) -> bool:
        """Timelines record highlights, not everything: absence is not evidence."""
        return self.view.source == "timeline"



@dataclass(frozen=True)
class Check:
    """A registered check: ``id`` names it everywhere (result, weight, JUnit case), ``title`` for people."""

    id: str
    title: str
    run: Callable[[Context, Check], CheckResult]

    def __call__(self, ctx: Context) -> CheckResult:
        return self.run(ctx, self)

    def na(self, expected: str, reason: str) -> CheckResult:
        return CheckResult(
            id=self.id, title=self.title, status=Status.not_applicable, expected=expected, observed="—",
            feedback=f"Not applicable: {reason}.",
        )

    def result(self, ok: bool, expected: str, observed: str, good: str, bad: str) -> CheckResult:
        return CheckResult(
            id=self.id, title=self.title, status=Status.passed if ok else Status.failed, expected=expected,
            observed=observed, feedback=good if ok else bad,
        )

    def missing(self, ctx: Context, expected: str, what: str, feedback: str) -> CheckResult:
        """No evidence of ``what``: failed, except in a timeline (people record highlights), where it is n/a."""
        if ctx.lenient:
            return self.na(expected, f"the timeline does not mention {what}")
        return CheckResult(
            id=self.id, title=self.title, status=Status.failed, expected=expected, observed=f"no {what}",
            feedback=feedback,
        )


#: Every check, in the order they are reported (the order :mod:`gameday.scoring.catalogue` imports their modules).
CHECKS: list[Check] = []


def check(check_id: str, title: str) -> Callable[[Callable[[Context, Check], CheckResult]], Check]:
    """Register the decorated ``function(ctx, check) -> CheckResult`` as the check ``check_id``."""

    def register(function: Callable[[Context, Check], CheckResult]) -> Check:
        if any(c.id == check_id for c in CHECKS):
            raise ValueError(f"two checks are registered as {check_id!r}")
        registered = Check(check_id, title, function)
        CHECKS.append(registered)
        return registered

    return register


def fmt_minutes(minutes: float) -> str:
    return f"{minutes:.1f} min"


def clock_slack(ctx: Context) -> tuple[float, str]:
    """How far two of the journal's moments can be off: the drill clock's resolution in runbook minutes (at
    time scale 120 a wall second is two runbook minutes), and the words that say so in a check's text."""
    slack = ctx.view.resolution_minutes
    if slack <= 0:
        return 0.0, ""
    return slack, f" (± {fmt_minutes(slack)}: the clock's resolution at time scale {ctx.view.time_scale:g})"


def declares_incident(ctx: Context) -> bool:
    """Does the runbook send this severity down the 'Declare Incident' branch? (:func:`gameday.metrics.declares`)"""
    return declares(ctx.runbook, ctx.severity)


def user_facing(ctx: Context) -> bool:
    """Could users see this incident?  Scenarios say so; without one, assume they could."""
    return bool(ctx.view.scenario.get("user_facing", True))


def event_key(event: Event) -> tuple[float, int]:
    return (event.t, event.seq)


def sample_near(ctx: Context, at: float) -> Event | None:
    window = ctx.config.verification_window_minutes
    view = ctx.view
    before = [s for s in view.samples if at - window <= view.minutes(s) <= at]
    if before:
        return max(before, key=event_key)
    after = [s for s in view.samples if at < view.minutes(s) <= at + window]
    return min(after, key=event_key) if after else None


def reading(value: object) -> float | None:
    """A reading, or None when Prometheus had none (missing, null, or NaN from 0/0 with no traffic)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
