"""Generate the example journals in ``examples/journals/`` (committed; notebooks and docs use them).

They are made up, not drills anyone ran, and say so: their ``journal_started`` source is ``generated`` (the history
store keeps them apart from drills and incidents).  Two made-up teams ("blue" and "red") with three
connection-pool-leak "drills" each, a few weeks apart.  Blue is steady; red is *written* to start slow and sloppy
(late declaration, no hypothesis, thin reviews) and to improve, so that result is this script's, not a finding.  Every
delay is drawn from a seeded NumPy generator, one stream per team, so the files are reproducible:

Phase 4 is written the way a team writes it, from the runbook's own templates (:mod:`gameday.runbook.communication`):
the declaration message, updates to the severity's channels, the status page's statuses, the initial and resolution
notices, the business list.  Blue does all of it; red's gaps are written in and shrink as it improves: first it
posts updates to Slack only, leaves fields out, never tells users or the VP Product and leaves the status page at
Investigating; then it tells users late, without the root cause once service is back, and skips Identified.  Its
delays come from a second stream per team, so every event the first stream draws is what it was before.

    .venv/bin/python examples/make_journals.py

The journals are written with the real :class:`gameday.journal.JournalWriter`, exactly as a drill does,
on a simulated clock (time_scale 60: one wall second is one runbook minute).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from gameday.journal import EventType as E
from gameday.journal import JournalWriter
from gameday.runbook import Runbook, load_runbook
from gameday.runbook.communication import MessageTemplate
from gameday.scenario import Fault, FaultType, Scenario

OUT = Path(__file__).resolve().parent / "journals"
SCALE = 60.0  # runbook seconds per wall second
SCENARIO = Scenario(
    name="connection-pool-leak",
    title="Deploy v1.2.3 leaks database connections",
    description="Backend requests fail as the PgBouncer pool is exhausted",
    fault=Fault(type=FaultType.connection_pool_leak),
    expected_severity="SEV-1",
    rollback_safe=True,
    expected_alerts=["HighErrorRate"],
)
#: team -> (seed, skill per drill: 0 = careless, 1 = textbook)
TEAMS = {"blue": (11, [0.8, 0.85, 0.9]), "red": (23, [0.2, 0.5, 0.85])}
DRILL_DAYS = [
    datetime(2026, 2, 2, 10, tzinfo=UTC),
    datetime(2026, 2, 23, 10, tzinfo=UTC),
    datetime(2026, 3, 16, 10, tzinfo=UTC),
]
PEOPLE = {"blue": ["ana", "ben", "cho"], "red": ["dev", "eli", "fay"]}
#: Below these skills red's communication has its gaps (blue's skills are above both).
CARELESS, HURRIED = 0.3, 0.6
ROOT_CAUSE = "v1.2.3 did not release connections after query timeouts"
Row = tuple[float, E, str, dict]


def lognormal(rng: np.random.Generator, median: float, sigma: float = 0.35) -> float:
    return float(median * np.exp(sigma * rng.standard_normal()))


def fill(template: MessageTemplate | None, facts: dict[str, object], leave_out: tuple[str, ...] = ()) -> dict:
    """The template's fields as the team filled them: every field it has a fact for, minus those it forgot."""
    if template is None:
        return {}
    return {f.key: facts[f.key] for f in template.fields if f.key in facts and f.key not in leave_out}


def communication(
    runbook: Runbook,
    moments: dict[str, float],
    team: str,
    incident: str,
    skill: float,
    severity: str,
    clock: Callable[[float], str],
    rng: np.random.Generator,
) -> list[Row]:
    """Phase 4 and the business list as this team does it (red's gaps by skill; see the module's docstring).

    ``moments``: runbook minutes of alert, declare, hypothesis, verify, resolve; ``clock(minute)`` -> "10:17 UTC".
    """
    comms = runbook.communication
    ic, tl, cl = PEOPLE[team]
    writer = cl if skill > CARELESS else ic  # the careless drill has no CL: the IC posts everything
    careless, hurried = skill <= CARELESS, skill < HURRIED
    alert, declare, hypothesis, verify, resolve = (
        moments[k] for k in ("alert", "declare", "hypothesis", "verify", "resolve")
    )
    channels = runbook.severity(severity).update_channels
    interval = runbook.severity(severity).update_interval_minutes or 15.0
    impact = "most requests fail with 5xx"
    rows: list[Row] = []
    facts = {
        "severity": severity,
        "summary": "Backend errors after the v1.2.3 deploy",
        "impact": impact,
        "detected": clock(alert),
        "ic": f"@{ic}",
        "tl": f"@{tl}",
        "war_room": f"#incident-{incident}",
    }
    rows.append(
        (
            declare + 0.6,
            E.declaration_posted,
            ic,
            {
                "channel": "#incidents",
                "fields": fill(comms.declaration, facts, ("impact", "war_room") if careless else ()),
            },
        )
    )

    # the status page: Investigating -> Identified -> Monitoring -> Resolved (red skips some)
    page = [(declare + 1.0 + rng.exponential(0.5), "Investigating", "We are investigating errors on the service.")]
    if not hurried:
        page.append((hypothesis + 0.5, "Identified", "We found the cause and are rolling back."))
    if not careless:
        page += [
            (verify + 0.3, "Monitoring", "Service is back; we are watching it."),
            (resolve + 0.2, "Resolved", "The incident is resolved."),
        ]
    for minute, status, message in page:
        rows.append(
            (
                minute,
                E.status_page,
                writer,
                {
                    "status": status,
                    "channels": ["Status Page"],
                    "fields": fill(
                        comms.status_page,
                        {"title": "ERP errors", "status": status, "message": message, "updated": clock(minute)},
                    ),
                },
            )
        )

    # updates at the cadence the team keeps (the existing rule), to the severity's channels in the template
    cadence = interval * (0.8 + 1.5 * (1.0 - skill))
    minute, number = declare + 1.0, 0
    while minute < resolve:
        number += 1
        status = "Investigating" if minute < hypothesis else "Identified" if minute < verify else "Monitoring"
        sent = ["Slack"] if careless or (hurried and number == 1) else channels
        rows.append(
            (
                minute,
                E.status_update,
                writer,
                {
                    "number": number,
                    "status": status,
                    "channels": list(sent),
                    "message": f"Update #{number}: {status}",
                    "fields": fill(
                        comms.update,
                        {
                            "time": clock(minute),
                            "number": number,
                            "status": status,
                            "summary": status.lower(),
                            "next_update": clock(minute + interval),
                            "impact": impact,
                        },
                        ("next_update",) if careless else (),
                    ),
                },
            )
        )
        minute += cadence

    # users: the initial notice within the runbook's minutes of the declaration (red: never, then late)
    external = severity in comms.external_severities or not comms.external_severities
    if external and not careless:
        minutes = runbook.external_notification_minutes or 15.0
        told = declare + (minutes + 3.0 + rng.exponential(2.0) if hurried else 3.0 + rng.exponential(2.0))
        rows.append(
            (
                told,
                E.external_notice,
                writer,
                {
                    "kind": "initial",
                    "channels": ["Email"],
                    "fields": fill(
                        comms.initial_notice,
                        {
                            "subject": "Service Issue - Hospital ERP System",
                            "current_status": "Investigating",
                            "estimated_resolution": f"TBD (next update in {interval:g} minutes)",
                        },
                    ),
                },
            )
        )
        rows.append(
            (
                resolve + 0.4,
                E.external_notice,
                writer,
                {
                    "kind": "resolution",
                    "channels": ["Email"],
                    "fields": fill(
                        comms.resolution_notice,
                        {
                            "subject": "Service Restored - Hospital ERP System",
                            "restored": clock(verify),
                            "root_cause": ROOT_CAUSE,
                            "resolution": "Rolled back to v1.2.2",
                        },
                        ("root_cause",) if hurried else (),
                    ),
                },
            )
        )

    # the business list: "immediately" at the declaration, later names once the outage lasts that long
    if severity in runbook.escalation.business_severities:
        for note in runbook.escalation.business:
            if note.after_minutes > 0 and verify - alert <= note.after_minutes:
                continue  # the service was back before this name was due
            if hurried and note.after_minutes > 0:
                continue  # red forgets those due later
            rows.append((declare + note.after_minutes + 0.8 + rng.exponential(0.3), E.notified, ic, {"who": note.who}))
    return rows


def drill(
    team: str,
    number: int,
    skill: float,
    rng: np.random.Generator,
    comms_rng: np.random.Generator,
    runbook: Runbook,
    out: Path = OUT,
) -> Path:
    start = DRILL_DAYS[number]
    incident = f"{team}-{start:%Y-%m-%d}"
    path = out / f"{incident}.jsonl"
    path.unlink(missing_ok=True)
    ic, tl, cl = PEOPLE[team]
    sloppy = 1.0 - skill

    def at(minutes: float) -> datetime:  # runbook minutes -> the wall time the drill would log
        return start + timedelta(seconds=minutes * 60 / SCALE)

    fault = 1.0
    alert = fault + lognormal(rng, 2.0)
    ack = alert + lognormal(rng, 1.0 + 6 * sloppy)
    declare = ack + lognormal(rng, 1.5 + 14 * sloppy)
    hypothesis = declare + lognormal(rng, 4.0 + 8 * sloppy)
    fix = hypothesis + lognormal(rng, 2.0 + 4 * sloppy)
    # a careless team acts before writing a hypothesis down
    if sloppy > 0.6:
        hypothesis, fix = fix + 1.5, hypothesis
    recovered = fix + 4.0
    verify = recovered + (lognormal(rng, 2.0 + 6 * skill) if sloppy < 0.6 else -3.0)  # careless teams verify too early
    resolve = verify + (30.5 if sloppy < 0.6 else 17.0)  # resolved once the 30-min stability watch held (or not)
    close = resolve + 0.5
    review = close + lognormal(rng, 300.0)

    with JournalWriter(path, incident, durable=False, start=start) as j:
        j.emit(
            E.journal_started,
            "gameday",
            {
                "source": "generated",
                "time_scale": SCALE,
                "runbook": "runbooks/incident-response.md",
                "scenario": SCENARIO.model_dump(mode="json"),
                "team": team,
                "drill": number + 1,
            },
            at=at(0.0),
        )

        def emit(minute: float, kind: E, actor: str, data: dict | None = None) -> None:
            j.emit(kind, actor, data or {}, at=at(minute))

        events: list[tuple[float, E, str, dict]] = [
            (0.0, E.drill_started, "gameday", {"target": "local"}),
            (fault, E.fault_injected, "gameday", {"fault": SCENARIO.fault.type.value, "params": {}}),
            (alert, E.alert_firing, "alertmanager", {"alertname": "HighErrorRate", "severity": "critical"}),
            (alert + 0.3, E.paged, "alertmanager", {"who": ic, "level": 1}),
            (ack, E.acknowledged, ic, {}),
            (
                declare,
                E.severity_declared,
                ic,
                {"severity": "SEV-1" if skill > CARELESS else "SEV-2", "level": 1 if skill > CARELESS else 2},
            ),
            (declare + 0.2, E.role_assigned, ic, {"role": "IC", "person": ic}),
            (declare + 0.3, E.role_assigned, ic, {"role": "TL", "person": tl}),
            (declare + 0.5, E.war_room_created, ic, {"channel": f"#incident-{incident}"}),
            (hypothesis, E.hypothesis, tl, {"text": "v1.2.3 leaks connections; PgBouncer pool exhausted"}),
            (fix, E.action, tl, {"kind": "rollback" if skill > 0.3 else "restart", "target": "deployment/backend"}),
            (recovered, E.mitigated, tl, {}),
            (verify, E.verified, tl, {"checks": ["error_rate", "p95", "pods"]}),
            (resolve, E.resolved, ic, {}),
            (close, E.closed, ic, {}),
        ]
        if skill > CARELESS:
            events.append((declare + 0.4, E.role_assigned, ic, {"role": "CL", "person": cl}))
        moments = {"alert": alert, "declare": declare, "hypothesis": hypothesis, "verify": verify, "resolve": resolve}
        events += communication(
            runbook,
            moments,
            team,
            incident,
            skill,
            "SEV-1" if skill > CARELESS else "SEV-2",
            lambda minute: f"{start + timedelta(minutes=minute):%H:%M} UTC",
            comms_rng,
        )
        review_name = f"{incident}-review.md"
        events.append((review, E.postmortem_filed, ic, {"path": review_name}))
        events.append((review + 0.5, E.drill_ended, "gameday", {"outcome": "completed"}))

        # the sampler: error rate and p95 climb with the leak and fall after the fix
        minute = 0.0
        while minute <= close:
            if minute < fault:
                rate = 0.002
            elif minute < fix:
                rate = min(0.4, 0.002 + 0.06 * (minute - fault))
            else:
                rate = max(0.002, 0.4 * 0.5 ** ((minute - fix) / 1.2))
            rate *= float(np.exp(0.1 * rng.standard_normal()))
            events.append(
                (
                    minute + 0.25,
                    E.metric_sample,
                    "prometheus",
                    {
                        "error_rate": round(rate, 5),
                        "p95_seconds": round(0.2 + 7 * rate, 3),
                        "pool_in_use": round(min(50, 6 + 120 * rate)),
                        "pool_size": 50,
                        "replicas_ready": 3 if minute < fault + 4 or minute > fix + 3 else 2,
                        "replicas_desired": 3,
                    },
                )
            )
            minute += 1.0
        for kind_minute, kind, actor, data in sorted(events, key=lambda e: e[0]):
            emit(kind_minute, kind, actor, data)
    write_review(out / review_name, incident, skill)
    return path


def write_review(path: Path, incident: str, skill: float) -> None:
    whys = 5 if skill > 0.6 else 2
    owner = "Backend Team" if skill > 0.4 else ""
    lines = [
        f"# Post-Incident Review: {incident}",
        "",
        "## Summary",
        "",
        f"- **Date**: {incident[-10:]}",
        "- **Severity**: SEV-1",
        "- **Impact**: errors for most users",
        "",
        "## Timeline",
        "",
        "| Time | Event |",
        "| ---- | ----- |",
        "| 10:01 | Fault injected |",
        "| 10:03 | HighErrorRate firing |",
        "",
        "## Root Cause",
        "",
        "v1.2.3 did not release connections after query timeouts.",
        "",
        "## 5 Whys Analysis",
        "",
        *[f"{n}. Why? → because of step {n}" for n in range(1, whys + 1)],
        "",
        "## What Went Well",
        "",
        "- Fast alert",
        "",
        "## What Went Poorly",
        "",
        "- Slow declaration",
        "",
        "## Action Items",
        "",
        "| Action | Owner | Due Date | Priority |",
        "| --- | --- | --- | --- |",
        f"| Add a connection-timeout test | {owner} | 2026-04-01 | High |",
        "",
        "## Lessons Learned",
        "",
        "- Roll back first",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    runbook = load_runbook(Path(__file__).resolve().parents[1] / "runbooks" / "incident-response.md")
    for team, (seed, skills) in TEAMS.items():
        rng, comms_rng = np.random.default_rng(seed), np.random.default_rng([seed, 4])
        for number, skill in enumerate(skills):
            print(drill(team, number, skill, rng, comms_rng, runbook, out))


if __name__ == "__main__":
    main()
