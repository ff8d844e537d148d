"""Write simulated incidents in the shared journal format (source "sim", time_scale 1).

Times in a journal are seconds since its start; the simulator's minutes are multiplied by 60.
Events are written in time order per replication, one incident id per simulated incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gameday.journal import EventType, JournalWriter
from gameday.metrics import Milestone
from sim.kernel import Replication
from sim.milestones import milestones
from sim.model import CompiledModel

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

#: same-time order: a step finishes, its own outcome (action, verified...), milestones, the next step starts
_ORDER = {EventType.step_finished: 0, EventType.action: 0.5, EventType.verified: 0.5,
          EventType.war_room_created: 0.5, EventType.ticket_created: 0.5, EventType.step_started: 2,
          EventType.hypothesis: 3}
_STEP_EVENTS = {"war_room": EventType.war_room_created, "ticket": EventType.ticket_created}


Row = tuple[float, str, EventType, str, dict]


def incident_events(model: CompiledModel, rep: Replication, replication: int = 0) -> list[Row]:
    """(minutes, incident, type, actor, data) for every incident of a traced replication."""
    assert rep.trace is not None, "run the replication with trace=True"
    sevs = model.severities
    resolved = milestones(model, rep)[Milestone.resolved]  # after the stability watch held (gameday.metrics)
    out: list[Row] = []
    name = [f"sim-{replication}-{i:06d}" for i in range(len(rep))]
    for i in range(len(rep)):
        sev = sevs[int(rep.severity[i])]
        inc = name[i]
        out.append((rep.arrival[i], inc, EventType.incident_started, "system", {"severity": sev}))
        if rep.via_alert[i]:
            out.append((rep.detected[i], inc, EventType.alert_firing, "alertmanager", {"severity": sev}))
        out.append((rep.detected[i], inc, EventType.detected, "system",
                    {"via": "alert" if rep.via_alert[i] else "user_report"}))
        for rnd in range(int(rep.page_rounds[i])):
            out.append((rep.assigned[i] + rnd * model.policy.responders.ack_timeout_minutes, inc, EventType.paged,
                        "pagerduty", {"who": "on-call", "level": 1, "round": rnd + 1}))
        out.append((rep.acknowledged[i], inc, EventType.acknowledged, "on-call", {}))
        for j, rung in enumerate(model.ladder):
            if rep.escalation_paged[i, j]:
                out.append((rep.escalation_page_at[i, j], inc, EventType.escalated, "on-call",
                            {"level": rung.level, "role": rung.role}))
        if np.isfinite(rep.declared[i]):
            out.append((rep.declared[i], inc, EventType.severity_declared, "on-call",
                        {"severity": sev, "level": int(sev.split("-")[1])}))
        if rep.auto_rolled_back[i]:
            out.append((rep.mitigated[i], inc, EventType.action, "automation",
                        {"kind": "rollback", "detail": "automatic rollback on error rate"}))
        if np.isfinite(rep.mitigated[i]):
            out.append((rep.mitigated[i], inc, EventType.mitigated, "on-call", {}))
        out.append((resolved[i], inc, EventType.resolved, "on-call", {}))
        if np.isfinite(rep.closed[i]):
            out.append((rep.closed[i], inc, EventType.closed, "on-call", {}))
        if np.isfinite(rep.reviewed[i]):
            out.append((rep.reviewed[i], inc, EventType.postmortem_filed, "on-call", {}))
        update = model.runbook.severity(sev).update_interval_minutes
        if update and np.isfinite(rep.declared[i]):
            k = 1
            while rep.declared[i] + k * update < resolved[i]:
                out.append((rep.declared[i] + k * update, inc, EventType.status_update, "CL", {"n": k}))
                k += 1
    # the workflow steps themselves
    idx, node, start, end = rep.trace.arrays()
    jump = rep.trace.extra["jump"]
    fix_rollback = rep.trace.extra["fix_rollback"]
    for i, k, t0, t1 in zip(idx.tolist(), node.tolist(), start.tolist(), end.tolist(), strict=True):
        moved = rep.shift[i] if np.isfinite(jump[i]) and t0 >= jump[i] and t1 > jump[i] else 0.0
        base = rep.assigned[i] + moved
        label = model.labels[k]
        role = model.roles[k]
        if model.kinds[k] == "decision" and role != "severity":
            continue
        out.append((base + t0, name[i], EventType.step_started, "on-call", {"step": label, "node": model.node_ids[k]}))
        if role == "investigate" and t1 > t0:
            out.append((base + t0, name[i], EventType.hypothesis, "on-call", {"text": "working hypothesis"}))
        if role == "fix":
            out.append((base + t1, name[i], EventType.action, "on-call",
                        {"kind": "rollback" if fix_rollback[i] else "hotfix"}))
        if role == "verify":
            out.append((base + t1, name[i], EventType.verified, "on-call", {}))
        if role in _STEP_EVENTS:
            out.append((base + t1, name[i], _STEP_EVENTS[role], "on-call", {}))
        out.append((base + t1, name[i], EventType.step_finished, "on-call", {"step": label, "node": model.node_ids[k]}))
    return out


def write_journal(path: str | Path, model: CompiledModel, reps: list[tuple[int, Replication]]) -> int:
    """Write one journal for the given traced (vector-kernel) replications; returns the number of events."""
    return write_rows(path, model, (incident_events(model, rep, r) for r, rep in reps), engine="vector")


#: the SimPy engine's rows: a hypothesis logged at the same minute as an action was formed first
SIMPY_ORDER = _ORDER | {EventType.hypothesis: 0.25}


def write_rows(path: str | Path, model: CompiledModel, replications: Iterable[list[Row]], *,
               engine: str = "simpy", order: dict | None = None) -> int:
    """Write per-replication event rows (sorted by time, then step order) as one journal."""
    order = order if order is not None else (SIMPY_ORDER if engine == "simpy" else _ORDER)
    path = Path(path)
    if path.exists():
        path.unlink()
    count = 0
    with JournalWriter(path, "sim", durable=False, start=EPOCH) as writer:
        writer.emit(EventType.journal_started, "sim", {"source": "sim", "time_scale": 1.0,
                                                       "runbook": model.runbook.source,
                                                       "policy": model.policy.name, "engine": engine}, t=0.0)
        for events in replications:
            events = sorted(events, key=lambda e: (e[0], order.get(e[2], 1)))
            for minutes, inc, etype, actor, data in events:
                writer.emit(etype, actor, data, incident=inc, t=float(minutes) * 60.0)
                count += 1
    return count + 1
