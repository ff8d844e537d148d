"""Phase 4 and the roles, scored: channels, external notices, the declaration message, the status page, the
business escalation and who did which duty.

Everything expected is read from the runbook model (:mod:`gameday.runbook.communication`, the severity table,
the business escalation list); each failure's feedback quotes the runbook's number or template.  Registered in
the same registry as :mod:`gameday.scoring.checks` (which imports this module at its end).
"""

from __future__ import annotations

from typing import Any

from gameday.journal import Event, EventType
from gameday.metrics import Milestone, response_time
from gameday.runbook.classify import DeclarationKind
from gameday.runbook.communication import DUTY_EVENTS, Duty, MessageTemplate, field_key, filled_fields
from gameday.scoring.registry import Check, Context, check
from gameday.scoring.registry import clock_slack as _slack
from gameday.scoring.registry import declares_incident as _declares
from gameday.scoring.registry import fmt_minutes as _fmt
from gameday.scoring.registry import user_facing as _user_facing
from gameday.scoring.result import CheckResult
from gameday.scoring.view import person_name

E = EventType
#: Actors that are machines, not people holding a role: their events are no one's duty.
MACHINE_ACTORS = frozenset({"automation", "system", "gameday", "kubectl", "alertmanager", "pagerduty", "sampler"})


def _filled(event: Event) -> dict[str, Any]:
    """An event's template fields: its ``fields`` over its other data (``status`` or ``number`` at top level
    count too) over what its message fills in the template's own layout (a pasted, filled-in template), keys
    normalised like the runbook's labels."""
    message = event.data.get("message")
    written: dict[str, Any] = filled_fields(message) if isinstance(message, str) else {}
    data = {field_key(str(k)): v for k, v in event.data.items() if k not in ("fields", "channels", "message")}
    return written | data | {field_key(str(k)): v for k, v in dict(event.data.get("fields") or {}).items()}


def _missing_text(template: MessageTemplate, event: Event) -> str:
    return template.labels(template.missing(_filled(event)))


def _external_applies(ctx: Context, c: Check, expected: str) -> CheckResult | None:
    """n/a unless the runbook's external communication covers this severity (and users could see it)."""
    comms = ctx.runbook.communication
    if ctx.severity is None:
        return c.na(expected, "no severity known")
    if comms.external_severities and ctx.severity not in comms.external_severities:
        return c.na(expected, f"the runbook tells users of {'/'.join(comms.external_severities)} only")
    if comms.external_user_facing_only and not _user_facing(ctx):
        return c.na(expected, "the runbook tells users only of incidents they can see (user_facing: false)")
    return None


def _notices(ctx: Context, kind: str) -> list[Event]:
    return [e for e in ctx.view.all(E.external_notice) if e.data.get("kind") == kind]


def _notices_to_judge(
    ctx: Context,
    c: Check,
    kind: str,
    expected: str,
    never: str,
    *,
    unasked: str | None = None,
    not_yet: str | None = None,
) -> list[Event] | CheckResult:
    """The ``kind`` notices sent, or the check's verdict when there are none to judge: n/a where the runbook
    does not ask (``unasked``), does not cover this incident, or the notice is not due (``not_yet``); failed
    with ``never`` when none went out.  The initial and the resolution notice share this order of reasons."""
    if unasked is not None:
        return c.na(expected, unasked)
    not_applicable = _external_applies(ctx, c, expected)
    if not_applicable is not None:
        return not_applicable
    if not_yet is not None:
        return c.na(expected, not_yet)
    found = _notices(ctx, kind)
    return found or c.missing(ctx, expected, f"{kind} notification", never)


# -- updates ----------------------------------------------------------------------------------------------


@check("update_channels", "Each update reaches the severity's channels, in the template")
def update_channels(ctx: Context, c: Check) -> CheckResult:
    if ctx.severity is None:
        return c.na("—", "no severity known")
    severity = ctx.runbook.severity(ctx.severity)
    channels = severity.update_channels
    if not channels:
        return c.na("—", f"the runbook names no update channels for {ctx.severity}")
    every = f" every {severity.update_interval_minutes:g} min" if severity.update_interval_minutes else ""
    rule = f"the runbook sends {ctx.severity} updates to {', '.join(channels)}{every}"
    template = ctx.runbook.communication.update
    expected = f"every update to {', '.join(channels)}" + (f", with {template.labels()}" if template else "")
    # number 0 is the declaration post (the runbook's declaration steps), not one of the cadence's updates
    updates = [
        e
        for e in ctx.view.all(E.status_update)
        if (e.data.get("number") if e.data.get("number") is not None else e.data.get("n")) != 0
    ]
    if not updates:
        return c.na(expected, "no status update to judge (the cadence check counts them)")
    if ctx.lenient and not any(e.data.get("channels") for e in updates):
        return c.na(expected, "the timeline does not record the updates' channels")
    wanted = {field_key(ch): ch for ch in channels}
    problems: list[str] = []
    for index, event in enumerate(updates, start=1):
        name = f"update #{event.data.get('number') or index}"
        sent = {field_key(str(ch)) for ch in event.data.get("channels") or []}
        gone = [label for key, label in wanted.items() if key not in sent]
        if gone:
            went = ", ".join(str(ch) for ch in event.data.get("channels") or [])
            problems.append(
                f"{name} went to {went} only (not {', '.join(gone)})" if went else f"{name} named no channel"
            )
        lacking = _missing_text(template, event) if template else ""
        if lacking:
            problems.append(f"{name} lacks {lacking}")
    observed = f"{len(updates)} update(s)" + (f"; {problems[0]}" if problems else ", all complete")
    return c.result(
        not problems,
        expected,
        observed,
        f"Every update reached {', '.join(channels)} in the runbook's template.",
        _sentence(_first(problems))
        + f"; {rule}"
        + (f", in its update template ({template.labels()})." if template else "."),
    )


def _first(problems: list[str]) -> str:
    """The first problem, and how many more: feedback stays one line."""
    if not problems:
        return ""
    return problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")


# -- external communication ----------------------------------------------------------------------------


@check("initial_notice", "Users told within the runbook's time")
def initial_notice(ctx: Context, c: Check) -> CheckResult:
    """Counted from the declaration: Phase 4 speaks of a declared incident ("user-facing incidents (SEV-1/2)",
    a severity known only once declared), and a SEV-2 may be declared up to its response time after detection,
    so a clock from detection would ask some teams to tell users before the runbook lets them declare.  The
    time to declare is judged once, by ``declared_in_time``; never declared, the clock starts at detection."""
    minutes = ctx.runbook.external_notification_minutes
    slack, said = _slack(ctx)
    declared = ctx.view.at(E.severity_declared)
    since = "the declaration" if declared is not None else "detection (never declared)"
    expected = f"initial notification ≤ {minutes:g} min after {since}{said}" if minutes is not None else "—"
    never = (
        f"Users were never told; the runbook asks for the initial notification within {minutes:g} min of "
        f"declaring a user-facing {ctx.severity}."
        if minutes is not None
        else ""
    )
    found = _notices_to_judge(
        ctx,
        c,
        "initial",
        expected,
        never,
        unasked=None if minutes is not None else "the runbook sets no time for the initial notification",
    )
    if isinstance(found, CheckResult):
        return found
    assert minutes is not None  # without it, ``unasked`` made the check n/a
    origin = declared if declared is not None else ctx.view.detection()
    if origin is None:
        origin = ctx.view.start()
    if origin is None:
        return c.na(expected, "no declaration or detection time recorded")
    delay = ctx.view.minutes(found[0]) - origin
    return c.result(
        delay <= minutes + slack,
        expected,
        f"{_fmt(delay)} after {since} by {found[0].actor}",
        f"Users were told {_fmt(delay)} after {since}, inside the runbook's {minutes:g} min.",
        f"The initial notification went out {_fmt(delay)} after {since}; the runbook asks for it within "
        f"{minutes:g} min of declaring the incident.",
    )


@check("resolution_notice", "Resolution notice with restore time, root cause, resolution")
def resolution_notice(ctx: Context, c: Check) -> CheckResult:
    template = ctx.runbook.communication.resolution_notice
    expected = f"a resolution notification with {template.labels()}" if template else "—"
    restored = ctx.view.milestones()[Milestone.restored] is not None
    never = (
        f"Users were never told the service is back; the runbook's '{template.name}' carries {template.labels()}."
        if template
        else ""
    )
    found = _notices_to_judge(
        ctx,
        c,
        "resolution",
        expected,
        never,
        unasked=None if template is not None else "the runbook has no resolution notification template",
        not_yet=None if restored else "the service was never restored",
    )
    if isinstance(found, CheckResult):
        return found
    assert template is not None  # without it, ``unasked`` made the check n/a
    if ctx.lenient and not found[-1].data.get("fields"):
        return c.na(expected, "the timeline records the notice, not its fields")
    lacking = _missing_text(template, found[-1])
    return c.result(
        not lacking,
        expected,
        f"sent by {found[-1].actor}" + (f", without {lacking}" if lacking else ", every field filled"),
        f"The resolution notification carried {template.labels()}.",
        f"The resolution notification lacks {lacking}; the runbook's '{template.name}' carries {template.labels()}.",
    )


# -- declaration and status page -----------------------------------------------------------------------


@check("declaration_message", "Declaration message at the declaration, with the template's fields")
def declaration_message(ctx: Context, c: Check) -> CheckResult:
    template = ctx.runbook.communication.declaration
    within = ctx.config.declaration_message_within_minutes
    expected = (
        f"a declaration message with {template.labels()}, within {within:g} min of the declaration" if template else "—"
    )
    if template is None:
        return c.na(expected, "the runbook has no declaration template")
    if ctx.severity is None:
        return c.na(expected, "no severity known")
    if not _declares(ctx):
        return c.na(expected, f"{ctx.severity} takes the ticket branch of the workflow (no declaration)")
    found = ctx.view.first(E.declaration_posted)
    if found is None:
        return c.missing(
            ctx,
            expected,
            "declaration message",
            f"No declaration message was posted; the runbook's '{template.name}' has "
            f"{len(template.fields)} fields: {template.labels()}.",
        )
    late = _declaration_late(ctx, found, within)
    if ctx.lenient and not found.data.get("fields"):
        if late:
            return c.result(False, expected, f"posted by {found.actor}, {late}", "", _late_feedback(ctx, late, within))
        return c.na(expected, "the timeline records the message, not its fields")
    lacking = _missing_text(template, found)
    problems = [f"lacks {lacking}"] if lacking else []
    observed = f"posted by {found.actor}" + (f", without {lacking}" if lacking else ", every field filled")
    if late:
        observed += f", {late}"
    feedback = []
    if lacking:
        feedback.append(
            f"The declaration message lacks {lacking}; the runbook's '{template.name}' has "
            f"{len(template.fields)} fields: {template.labels()}."
        )
    if late:
        problems.append(late)
        feedback.append(_late_feedback(ctx, late, within))
    return c.result(
        not problems,
        expected,
        observed,
        f"The declaration carried all {len(template.fields)} fields of the runbook's template and went out with "
        f"the declaration.",
        " ".join(feedback),
    )


def _declaration_late(ctx: Context, posted: Event, within: float) -> str:
    """"posted 12 min after the declaration" when the message came later than ``within`` runbook minutes (plus
    the clock's resolution) after the declaration; "" when in time or no declaration is recorded."""
    declared = ctx.view.at(E.severity_declared)
    if declared is None:
        return ""
    slack, _ = _slack(ctx)
    after = ctx.view.minutes(posted) - declared
    return f"posted {_fmt(after)} after the declaration" if after > within + slack else ""


def _late_feedback(ctx: Context, late: str, within: float) -> str:
    """Step 1.3's own words ("For SEV-1/SEV-2 incidents, immediately") and the tolerance gameday allows."""
    words = ctx.runbook.declaration_when or "the declaration steps go out with the declaration"
    _, said = _slack(ctx)
    return (
        f"The declaration message was {late}; the runbook's Step 1.3 says \"{words}\": create the incident in Slack "
        f"when declaring (gameday allows {within:g} min{said})."
    )


def _status_page_due(ctx: Context) -> bool:
    """Does this incident's severity go to the status page (a channel of its updates, or a declaration step)?"""
    assert ctx.severity is not None
    channels = ctx.runbook.severity(ctx.severity).update_channels
    if any("status_page" in field_key(ch) for ch in channels):
        return True
    return any(s.kind is DeclarationKind.status_page for s in ctx.runbook.declaration_for(ctx.severity, True))


@check("status_page", "Status page walks the template's statuses to Resolved")
def status_page(ctx: Context, c: Check) -> CheckResult:
    statuses = ctx.runbook.communication.status_page_statuses
    walk = " → ".join(statuses)
    expected = f"status page {walk}" if statuses else "—"
    if not statuses:
        return c.na(expected, "the runbook's status page template lists no statuses")
    if ctx.severity is None:
        return c.na(expected, "no severity known")
    if not _status_page_due(ctx):
        return c.na(expected, f"the runbook does not send {ctx.severity} to the status page")
    if not _user_facing(ctx):
        return c.na(expected, "users cannot see this incident (user_facing: false)")
    if ctx.view.milestones()[Milestone.resolved] is None:
        return c.na(expected, "the incident was never resolved")
    posts = ctx.view.all(E.status_page)
    if not posts:
        return c.missing(
            ctx,
            expected,
            "status page update",
            f"The status page was never updated; the runbook's template walks {walk}.",
        )
    known = {s.lower(): s for s in statuses}
    seen = [str(e.data.get("status", "")) for e in posts]
    unknown = [s for s in seen if s.lower() not in known]
    firsts = list(dict.fromkeys(known[s.lower()] for s in seen if s.lower() in known))
    skipped = [s for s in statuses if s not in firsts]
    problems = []
    if unknown:
        problems.append(f"'{unknown[0]}' is not one of the template's {len(statuses)} statuses")
    if skipped and not ctx.lenient:  # a timeline records highlights, not every post
        problems.append(f"it never said {', '.join(skipped)}")
    elif firsts != [st for st in statuses if st in firsts]:
        problems.append(f"it went {' → '.join(firsts)}")
    if seen[-1].lower() != statuses[-1].lower():
        problems.append(f"it ends at {seen[-1]}, not {statuses[-1]}")
    return c.result(
        not problems,
        expected,
        " → ".join(seen),
        f"The status page walked {' → '.join(firsts)}.",
        f"The status page is off the template: {'; '.join(problems)} (the runbook's {len(statuses)}: {walk}).",
    )


# -- business escalation ---------------------------------------------------------------------------------


@check("business_escalation", "Business told per the runbook's list and times")
def business_escalation(ctx: Context, c: Check) -> CheckResult:
    escalation = ctx.runbook.escalation
    listed = "; ".join(f"{n.who} ({n.condition_text})" for n in escalation.business)
    expected = f"notify {listed}" if listed else "—"
    if not escalation.business:
        return c.na(expected, "the runbook has no business escalation")
    if ctx.severity is None:
        return c.na(expected, "no severity known")
    if escalation.business_severities and ctx.severity not in escalation.business_severities:
        return c.na(expected, f"the runbook escalates {'/'.join(escalation.business_severities)} to the business")
    if not _user_facing(ctx):
        return c.na(expected, "the runbook escalates user-facing incidents only (user_facing: false)")
    view = ctx.view
    detected = view.detection() if view.detection() is not None else view.start()
    declared = view.at(E.severity_declared)
    origin = declared if declared is not None else detected
    if origin is None or detected is None:
        return c.na(expected, "no declaration or detection time recorded")
    restored = view.milestones()[Milestone.restored]
    end = restored if restored is not None else max(view.minutes(e) for e in view.events)
    slack, said = _slack(ctx)
    immediate = response_time(ctx.runbook, ctx.severity) or 0.0
    told = {}
    for event in view.all(E.notified):
        told.setdefault(str(event.data.get("who", "")).strip().lower(), view.minutes(event))
    if not told and ctx.lenient:
        return c.na(expected, "the timeline does not record business notifications")
    problems, done = [], []
    for note in escalation.business:
        # due once the outage (detection -> restored, as the simulator counts it) lasts past its minutes
        if note.after_minutes > 0 and end - detected <= note.after_minutes:
            continue
        grace = immediate if note.after_minutes <= 0 else note.after_minutes * ctx.config.update_grace_fraction
        deadline = origin + note.after_minutes + grace + slack
        at = told.get(note.who.lower())
        if at is None:
            problems.append(f"{note.who} was never told (the runbook: {note.condition_text})")
        elif at > deadline:
            problems.append(
                f"{note.who} was told {_fmt(at - origin)} after the declaration (the runbook: {note.condition_text})"
            )
        else:
            done.append(note.who)
    return c.result(
        not problems,
        expected,
        ("told: " + ", ".join(done)) if done else ("nobody told in time" if problems else "nobody was due yet"),
        f"The business heard in time: {', '.join(done)}." if done else "Nobody on the list was due yet.",
        _sentence("; ".join(problems)) + f"{said}.",
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- duties by role ----------------------------------------------------------------------------------------


#: What each duty's event says someone did, for the observed column.
_VERBS = {
    E.severity_declared: "declared",
    E.declaration_posted: "announced",
    E.action: "acted",
    E.verified: "verified",
    E.status_update: "posted",
    E.external_notice: "told users",
    E.status_page: "updated the status page",
    E.notified: "told the business",
    E.postmortem_filed: "reviewed",
}


@check("duties_by_role", "Each duty done by the role the runbook gives it")
def duties_by_role(ctx: Context, c: Check) -> CheckResult:
    comms = ctx.runbook.communication
    owners: dict[EventType, Duty] = {}
    for kind, events in DUTY_EVENTS.items():
        duty = comms.duty_owner(kind)
        for event_type in events:
            if duty is not None:
                owners[event_type] = duty
    by_role: dict[str, list[str]] = {}
    for event_type, duty in owners.items():
        by_role.setdefault(duty.role, []).append(_VERBS[event_type])
    expected = "; ".join(f"{role} {', '.join(verbs)}" for role, verbs in by_role.items()) or "—"
    if not owners:
        return c.na(expected, "the runbook's roles list no duty gameday can see in a journal")
    roles = ctx.view.roles()
    if not roles and (ctx.lenient or (ctx.severity is not None and not _declares(ctx))):
        return c.na(expected, "no roles were assigned (the ticket branch, or a timeline that names none)")
    names = {r.abbreviation.upper(): r.name for r in ctx.runbook.roles}
    held: dict[str, set[str]] = {}
    for role, people in roles.items():
        for person in people:
            held.setdefault(person, set()).add(role)
    problems: list[str] = []
    did: dict[str, str] = {}
    for event in ctx.view.events:
        duty = owners.get(event.type)
        actor = person_name(event.actor)
        if duty is None or actor.lower() in MACHINE_ACTORS:
            continue
        mine = held.get(actor, set()) | ({actor.upper()} if actor.upper() in names else set())
        as_role = "/".join(sorted(mine)) or "no role"
        did.setdefault(_VERBS[event.type], f"{actor} ({as_role})")
        if duty.role.upper() in mine:
            continue
        holders = roles.get(duty.role.upper(), [])
        owner = f"the {duty.role} was {', '.join(holders)}" if holders else f"nobody held {duty.role}"
        problem = (
            f"'{duty.text}' is the {names.get(duty.role.upper(), duty.role)}'s ({duty.role}); "
            f"{actor} ({as_role}) did it while {owner}"
        )
        if problem not in problems:
            problems.append(problem)
    observed = "; ".join(f"{verb}: {who}" for verb, who in did.items()) or "no duty recorded"
    return c.result(
        not problems,
        expected,
        observed,
        "Every duty was done by the role the runbook gives it.",
        _first(problems) + ".",
    )


__all__ = ["MACHINE_ACTORS"]
