"""The checks.  Each one reads the runbook model for what is expected and the journal for what happened.

A check returns pass, fail or n/a (with a reason); weights are applied by the engine.  For an imported
timeline (a summary written by people) missing evidence means "not recorded", so such checks are n/a
there rather than failed.

Each check is registered once, by the :func:`~gameday.scoring.registry.check` decorator on its function: its
id (also its weight's key in ``weights.yaml``, its JUnit test case and its key in ``--json``), its title and the
function.  Adding a check is that function plus its weight in ``weights.yaml``; a weights file that names a
check the registry does not know, or leaves one out, is refused (:mod:`gameday.scoring.weights`).
"""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from gameday.journal import Event, EventType
from gameday.metrics import Milestone, response_time
from gameday.runbook.classify import DECLARATION_EVENTS, DeclarationKind
from gameday.scoring.postmortem import TEMPLATE_NAME, read_review
from gameday.scoring.registry import Check, Context, check
from gameday.scoring.registry import clock_slack as _slack
from gameday.scoring.registry import declares_incident as _declares
from gameday.scoring.registry import event_key as _key
from gameday.scoring.registry import fmt_minutes as _fmt
from gameday.scoring.registry import reading as _number
from gameday.scoring.registry import sample_near as _sample_near
from gameday.scoring.registry import user_facing as _user_facing
from gameday.scoring.result import CheckResult

if TYPE_CHECKING:
    pass

E = EventType
HEALTHY_STATES = {"running", "ready", "healthy", "up", "ok"}
#: Replicas on their way out (replaced by a rollout) are neither healthy nor unhealthy.
LEAVING_STATES = {"gone", "terminating", "succeeded", "completed"}


# -- declaration -------------------------------------------------------------------------------------


@check("severity_matches", "Declared severity matches the incident")
def severity_matches(ctx: Context, c: Check) -> CheckResult:
    if ctx.expected is None:
        return c.na("—", "no expected severity is known (no scenario)")
    declared = ctx.declared
    ticket = ctx.view.first(E.ticket_created)
    if declared is None and ticket is not None:
        declared = str(ticket.data.get("severity", "")).upper() or None
        if declared is None:
            # a ticket without a severity still says "this is not a declared incident" (SEV-3/4 branch)
            ticket_path = [s for s in (x.name for x in ctx.runbook.severities)
                           if s not in ctx.runbook.declared_severities()]
            return c.result(
                ctx.expected in ticket_path, ctx.expected, "ticket created (not declared)",
                f"Handled as a ticket, right for {ctx.expected}.",
                f"Handled as a ticket, but {ctx.expected} must be declared as an incident.",
            )
    if declared is None:
        return c.missing(ctx, ctx.expected, "severity declaration",
                         f"Nobody declared a severity; this incident was {ctx.expected}.")
    return c.result(
        declared == ctx.expected, ctx.expected, declared,
        f"Declared {declared}, as the scenario called for.",
        f"Declared {declared} but the impact called for {ctx.expected}; re-read the severity table.",
    )


@check("declared_in_time", "Declared within the response time")
def declared_in_time(ctx: Context, c: Check) -> CheckResult:
    if ctx.severity is None:
        return c.na("—", "no severity known")
    ctx.runbook.severity(ctx.severity)  # a severity the runbook lacks is an error, not "no clock"
    # the time to declare's target (gameday.metrics); on the ticket branch the ticket answers to it
    response = response_time(ctx.runbook, ctx.severity)
    if response is None:
        return c.na("—", f"{ctx.severity} has no response clock in the runbook")
    slack, said = _slack(ctx)
    expected = f"≤ {response:g} min after detection ({ctx.severity}){said}"
    detected = ctx.view.detection()
    if detected is None:
        detected = ctx.view.start()
    declared = ctx.view.at(E.severity_declared) if _declares(ctx) else ctx.view.at(E.severity_declared,
                                                                                      E.ticket_created)
    if declared is None:
        return c.missing(ctx, expected, "declaration",
                         "The incident was never declared; declare as soon as the severity is clear.")
    if detected is None:
        return c.na(expected, "no detection time recorded")
    delay = declared - detected
    return c.result(
        delay <= response + slack, expected, f"{_fmt(delay)} after detection",
        f"Declared {_fmt(delay)} after detection, inside the {response:g} min response time.",
        f"Declared {_fmt(delay)} after detection; {ctx.severity} must be declared within {response:g} min.",
    )


@check("roles_assigned", "Incident roles assigned")
def roles_assigned(ctx: Context, c: Check) -> CheckResult:
    required = ctx.runbook.declaration_roles
    expected = ", ".join(required) + " assigned"
    if ctx.severity is not None and not _declares(ctx):
        return c.na(expected, f"{ctx.severity} gets a ticket, not an incident team")
    roles = ctx.view.roles()
    if not roles and ctx.lenient:
        return c.na(expected, "the timeline does not name roles")
    missing = [r for r in required if not roles.get(r.upper())]
    observed = "; ".join(f"{r}={', '.join(roles.get(r.upper(), [])) or '—'}" for r in required)
    names = {r.abbreviation: r.name for r in ctx.runbook.roles}
    return c.result(
        not missing, expected, observed,
        "Every role the runbook names was filled.",
        "Nobody took the " + ", ".join(f"{names.get(r, r)} ({r})" for r in missing) + " role.",
    )





def _declaration_step_check(ctx: Context, c: Check, kind: DeclarationKind, what: str) -> CheckResult:
    steps = ctx.runbook.declaration_steps(kind)
    event = DECLARATION_EVENTS[kind]
    severities = sorted({sev for s in steps for sev in s.severities})
    expected = f"{what} for {', '.join(severities) or 'no severity'}"
    if not steps:
        return c.na(expected, f"the runbook's declaration steps never ask for {what}")
    if ctx.severity is None:
        return c.na(expected, "no severity known")
    if ctx.severity not in severities:
        return c.na(expected, f"the runbook does not ask for {what} at {ctx.severity}")
    steps = [s for s in steps if s.applies(ctx.severity, _user_facing(ctx))]
    if not steps:
        return c.na(expected, f"the runbook asks for {what} only when users are affected")
    found = ctx.view.first(event)
    if found is None:
        return c.missing(ctx, expected, what,
                         f"{ctx.severity} calls for {what} ({steps[0].title!r}), and it did not happen.")
    detected = ctx.view.detection() or ctx.view.start() or 0.0
    return c.result(
        True, expected,
        f"{event.value} {_fmt(ctx.view.minutes(found) - detected)} after detection by {found.actor}",
        f"{steps[0].title}: done.", "",
    )


@check("war_room", "War room created")
def war_room(ctx: Context, c: Check) -> CheckResult:
    return _declaration_step_check(ctx, c, DeclarationKind.war_room, "a war room")


@check("paged", "On-call paged")
def paged(ctx: Context, c: Check) -> CheckResult:
    return _declaration_step_check(ctx, c, DeclarationKind.page, "paging on-call")


# -- communication -----------------------------------------------------------------------------------


@check("status_updates", "Status updates at the runbook's cadence")
def status_updates(ctx: Context, c: Check) -> CheckResult:
    if ctx.severity is None:
        return c.na("—", "no severity known")
    interval = ctx.runbook.severity(ctx.severity).update_interval_minutes
    if interval is None:
        return c.na("—", f"{ctx.severity} has no update interval in the runbook")
    slack, said = _slack(ctx)
    expected = f"an update at least every {interval:g} min ({ctx.severity}){said}"
    view = ctx.view
    begin = view.at(E.severity_declared)
    if begin is None:
        begin = view.detection()
    end = view.milestones()[Milestone.resolved]
    if begin is None or end is None:
        return c.na(expected, "no declaration-to-resolution window to measure")
    # the declaration message in #incidents is the stakeholders' first word, so the cadence counts from it too
    updates = sorted(view.minutes(e) for e in view.all(E.status_update, E.declaration_posted)
                     if begin <= view.minutes(e) <= end)
    if not updates and ctx.lenient:
        return c.na(expected, "the timeline does not record status updates")
    points = [begin, *updates, end]
    gaps = [b - a for a, b in pairwise(points)]
    limit = interval * (1 + ctx.config.update_grace_fraction) + slack
    late = [g for g in gaps if g > limit]
    missed = sum(math.ceil(g / interval) - 1 for g in late)
    observed = f"{len(updates)} update(s) over {_fmt(end - begin)}, longest gap {_fmt(max(gaps))}"
    if late:
        observed += f", {missed} missed"
    return c.result(
        not late, expected, observed,
        f"Stakeholders heard from you at least every {interval:g} minutes.",
        f"About {missed} status update(s) missed; post one every {interval:g} min even when nothing changed.",
    )


# -- diagnosis and fix -------------------------------------------------------------------------------





@check("hypothesis_before_fix", "Hypothesis recorded before the fix")
def hypothesis_before_fix(ctx: Context, c: Check) -> CheckResult:
    expected = "first hypothesis before first action"
    action = ctx.view.first(E.action)
    if action is None:
        return c.na(expected, "no fix action was recorded")
    hypothesis = ctx.view.first(E.hypothesis)
    if hypothesis is None:
        return c.missing(ctx, expected, "hypothesis",
                         "Write down what you think is wrong before changing things.")
    ok = _key(hypothesis) <= _key(action)
    lead = ctx.view.minutes(action) - ctx.view.minutes(hypothesis)
    return c.result(
        ok, expected,
        f"hypothesis {_fmt(abs(lead))} {'before' if ok else 'after'} the first action",
        "A hypothesis was on record before anyone changed the system.",
        "The first action came before any hypothesis; say what you believe is wrong, then act.",
    )


def _rollback_safe(ctx: Context) -> bool | None:
    if "rollback_safe" in ctx.view.scenario:
        return bool(ctx.view.scenario["rollback_safe"])
    started = ctx.view.first(E.incident_started, E.fault_injected)
    if started is not None and "rollback_safe" in started.data:
        return bool(started.data["rollback_safe"])
    return None


@check("remediation_choice", "Remediation follows the decision tree")
def remediation_choice(ctx: Context, c: Check) -> CheckResult:
    safe = _rollback_safe(ctx)
    if safe is None:
        return c.na("—", "the scenario does not say whether a rollback is safe")
    expected = "rollback (safe, fastest recovery)" if safe else "hotfix or workaround (rollback unsafe)"
    actions = ctx.view.all(E.action)
    if not actions:
        return c.missing(ctx, expected, "fix action", "No fix was recorded.")
    kinds = [str(a.data.get("kind", "?")) for a in actions]
    rolled_back = "rollback" in kinds
    observed = "actions: " + ", ".join(kinds)
    if safe:
        return c.result(rolled_back, expected, observed,
                        "Rolled back, the fastest safe recovery.",
                        "A safe rollback was available but not used; it is the runbook's fastest recovery.")
    return c.result(not rolled_back, expected, observed,
                    "Avoided an unsafe rollback and fixed forward.",
                    "Step 2.3: can we roll back safely? NO → ship a hotfix or a workaround; the team rolled back.")


# -- verification and closure ------------------------------------------------------------------------





def _replicas_at(ctx: Context, at: float) -> dict[str, Event]:
    latest: dict[str, Event] = {}
    for event in sorted(ctx.view.replicas, key=_key):
        if ctx.view.minutes(event) <= at:
            latest[str(event.data.get("name", "?"))] = event
    return {k: v for k, v in latest.items() if str(v.data.get("state", "")).lower() not in LEAVING_STATES}


def _healthy(event: Event) -> bool:
    return str(event.data.get("state", "")).lower() in HEALTHY_STATES and event.data.get("ready", True) is not False





@check("verification_true", "Verification true on the metrics")
def verification_true(ctx: Context, c: Check) -> CheckResult:
    criteria = ctx.runbook.verification
    expected = f"error rate < {criteria.error_rate_below:.2%}, p95 < {criteria.p95_below_seconds:g} s, replicas healthy"
    view = ctx.view
    if not view.samples:
        return c.na(expected, "the journal has no metric samples")
    verified = view.first(E.verified)
    if verified is None:
        return c.missing(ctx, expected, "verified event",
                         "Resolution was never verified against the runbook's checks.")
    at = view.minutes(verified)
    sample = _sample_near(ctx, at)
    if sample is None:
        return c.na(expected, "no metric sample near the verified time")
    problems, seen = [], []
    rate = _number(sample.data.get("error_rate"))
    if rate is not None:
        seen.append(f"error rate {float(rate):.1%}")
        if float(rate) >= criteria.error_rate_below:
            problems.append(f"error rate {float(rate):.1%}")
    p95 = _number(sample.data.get("p95_seconds"))
    if p95 is not None:
        seen.append(f"p95 {float(p95):.2f} s")
        if float(p95) >= criteria.p95_below_seconds:
            problems.append(f"p95 {float(p95):.2f} s")
    ready, desired = sample.data.get("replicas_ready"), sample.data.get("replicas_desired")
    if ready is not None and desired is not None:
        seen.append(f"{ready}/{desired} replicas ready")
        if int(ready) < int(desired):
            problems.append(f"only {ready}/{desired} replicas ready")
    replicas = _replicas_at(ctx, at)
    unhealthy = [name for name, ev in replicas.items() if not _healthy(ev)]
    if replicas:
        seen.append(f"{len(replicas) - len(unhealthy)}/{len(replicas)} replicas healthy")
    if unhealthy:
        problems.append("unhealthy replicas: " + ", ".join(sorted(unhealthy)))
    if not seen:
        return c.na(expected, "the samples near the verified time carry no verification metrics")
    observed = ", ".join(seen) + f" (sample {_fmt(view.minutes(sample) - at)} from the claim)"
    return c.result(
        not problems, expected, observed,
        "The metrics agreed with the claim: the service really was healthy.",
        "Verified too early: " + "; ".join(problems) + " when resolution was claimed.",
    )


@check("stability_watch", "Stability watch before resolving")
def stability_watch(ctx: Context, c: Check) -> CheckResult:
    """Service restored (verified) -> resolved must span the runbook's stability watch, with no alert in it:
    the runbook resolves an incident only once it has been stable that long."""
    need = ctx.runbook.stability_minutes
    slack, said = _slack(ctx)
    expected = f"≥ {need:g} min from restored (verified) to resolved{said}, no alert during the watch"
    view = ctx.view
    if ctx.severity is not None and not _declares(ctx):
        return c.na(expected, f"{ctx.severity} takes the ticket branch of the workflow (no watch)")
    times = view.milestones()
    resolved = times[Milestone.resolved]
    if resolved is None:
        return c.missing(ctx, expected, "resolved or closed event", "The incident was never resolved.")
    if not any(view.minutes(e) <= resolved for e in view.all(E.verified)):
        return c.missing(ctx, expected, "verification before resolving",
                         "Resolved without verifying the service first.")
    start = times[Milestone.restored]
    assert start is not None
    watched = resolved - start
    alerts = [view.minutes(e) for e in view.all(E.alert_firing) if start < view.minutes(e) < resolved]
    observed = f"watched {_fmt(watched)}" + (f", {len(alerts)} alert(s) fired during it" if alerts else "")
    short = watched < need - slack - 1e-6
    ok = not short and not alerts
    bad = (
        f"Resolved after {_fmt(watched)} of watching; the runbook asks for {need:g} min of stability first{said}."
        if short
        else "An alert fired during the stability watch; go back to investigation, not to close."
    )
    return c.result(ok, expected, observed,
                    f"Watched {_fmt(watched)} before resolving, as the runbook asks.", bad)


@check("postmortem", "Post-incident review filed")
def postmortem(ctx: Context, c: Check) -> CheckResult:
    hours = ctx.runbook.postmortem_within_hours
    expected = f"review within {hours:g} h of close, following the {TEMPLATE_NAME!r} template"
    view = ctx.view
    filed = view.first(E.postmortem_filed)
    if filed is None:
        if view.source not in ctx.config.postmortem_required_for:
            return c.na(expected, f"no review is expected for a {view.source} journal")
        return c.result(False, expected, "no review filed", "",
                        f"No post-incident review was filed; it is due within {hours:g} h.")
    end = view.at(E.closed)
    if end is None:
        end = view.at(E.resolved)
    delay_h = (view.minutes(filed) - end) / 60.0 if end is not None else 0.0
    problems = [f"filed {delay_h:.1f} h after close"] if delay_h > hours else []
    raw = filed.data.get("path")
    path = Path(str(raw)) if raw else None
    if path is not None and not path.is_absolute():
        path = view.base_dir / path
    if path is None:
        # the simulator records *when* a review was filed, not a document: judge the deadline only
        if view.source in ctx.config.postmortem_required_for:
            problems.append("the postmortem_filed event names no review file")
        observed = f"filed after {delay_h:.1f} h (no review file to read)"
    elif not path.is_file():
        problems.append(f"review file {raw!r} not found")
        observed = f"filed after {delay_h:.1f} h; file missing"
    else:
        template = ctx.runbook.templates.get(TEMPLATE_NAME)
        if template:
            findings = read_review(path, template)
            problems += findings.problems
            observed = f"filed after {delay_h:.1f} h; {findings.summary()}"
        else:
            observed = f"filed after {delay_h:.1f} h (runbook has no review template to compare)"
    return c.result(not problems, expected, observed,
                    "The review is in, on time, with timeline, whys and owned, dated actions.",
                    "Review late or incomplete: " + "; ".join(problems) + ".")


@check("unaided", "Solved without the game master's hints")
def unaided(ctx: Context, c: Check) -> CheckResult:
    """Hints from a game master (war room) cost points; without any the check stays out of the score."""
    hints = ctx.view.all(E.hint)
    if not hints:
        return c.na("no hints", "the game master gave no hint")
    return c.result(False, "no hints", f"{len(hints)} hint(s)", "",
                    f"The game master gave {len(hints)} hint(s); next time find it from the alerts and metrics.")



# The communication checks (Phase 4, business escalation, duties by role) live in their own module and join
# the registry here, after the checks above, so whoever imports the registry gets every check.

