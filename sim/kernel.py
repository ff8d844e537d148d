"""The vectorised lifecycle kernel: one replication of N incidents through the runbook's workflow.

Why not one SimPy process per incident: a full lifecycle is ~20 events, and Python-level event
dispatch would cap us near 50k incidents/s.  Instead every incident walks the workflow graph *in
lock-step* with the others (numpy over all incidents at the same node), times are kept relative to
the moment a responder is assigned, and the one coupling between incidents -- the capacity-limited
on-call pool -- is worked out afterwards by a FIFO multi-server recursion in arrival-of-page order.
``sim.engine_simpy`` is the same lifecycle written as SimPy processes on the same draws (the draw helpers
below are shared), and ``sim.reference`` the pool alone; the tests check they agree.

Clocks: minutes.  Modelling choices (documented in the README):
- a ladder rung is paged its escalation minutes after acknowledgement (the runbook's "after X min", on the
  responder's clock) unless the service was restored by then;
- an automatic rollback fires ``auto_rollback.duration`` after detection, skips the investigation loop
  and does not recur; the responder still assesses, declares, assembles and verifies;
- the on-call responder is held from assignment until the service is restored (``release_at: restored``) or
  the incident closed;
  on the ticket path until the ticket is handed to a team member (the *Assign* step).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from gameday.errors import InputError
from sim.model import ROLE_ACTIVITY, CompiledModel
from sim.policy import RolePolicy, per_severity
from sim.streams import Streams

MAX_ROUNDS = 20_000
NAN = float("nan")


@dataclass
class Trace:
    """Per-visit records (incident, node, start, end), relative to assignment; only when asked."""

    incident: list[np.ndarray] = field(default_factory=list)
    node: list[np.ndarray] = field(default_factory=list)
    start: list[np.ndarray] = field(default_factory=list)
    end: list[np.ndarray] = field(default_factory=list)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, incident: np.ndarray, node: int, start: np.ndarray, end: np.ndarray) -> None:
        self.incident.append(incident)
        self.node.append(np.full(incident.size, node, dtype=np.int32))
        self.start.append(start.copy())
        self.end.append(end.copy())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not self.incident:
            e = np.empty(0)
            return e.astype(np.int64), e.astype(np.int32), e, e
        return (np.concatenate(self.incident), np.concatenate(self.node), np.concatenate(self.start),
                np.concatenate(self.end))


@dataclass
class Replication:
    """Per-incident results (absolute minutes since the replication started)."""

    severity: np.ndarray
    arrival: np.ndarray
    detected: np.ndarray
    via_alert: np.ndarray
    assigned: np.ndarray
    acknowledged: np.ndarray
    declared: np.ndarray
    mitigated: np.ndarray
    restored: np.ndarray  # the verification the stability watch confirmed (gameday.metrics: *restored*)
    closed: np.ndarray
    reviewed: np.ndarray
    wait: np.ndarray
    hold: np.ndarray
    page_rounds: np.ndarray
    investigations: np.ndarray
    escalation_paged: np.ndarray  # (n, rungs) bool: the rung was paged before the restore
    escalation_engaged: np.ndarray  # (n, rungs) absolute minutes the rung answered before the restore, else inf
    escalation_page_at: np.ndarray  # (n, rungs) absolute minutes of the first page
    auto_rolled_back: np.ndarray
    recurrences: np.ndarray
    oncall: int | None
    shift: np.ndarray  # minutes the post-auto-rollback part moved (to apply to trace times)
    ladder_pages: np.ndarray | None = None  # (n, rungs) pages sent to each rung before the restore
    trace: Trace | None = None

    def __len__(self) -> int:
        return int(self.arrival.size)


def _role_delays(role: RolePolicy, streams: Streams, activity: str, name: str, idx: np.ndarray,
                 visit: np.ndarray | int) -> np.ndarray:
    """Vectorised :func:`sim.responder.role_delay`: ack, plus a wait when the person is unreachable."""
    ua = streams.u(activity, f"{name}:available").at(idx, visit)
    uk = streams.u(activity, f"{name}:ack").at(idx, visit)
    uw = streams.u(activity, f"{name}:wait").at(idx, visit)
    delay = role.ack.ppf(uk)
    away = ua >= role.availability
    if away.any():
        delay = delay + np.where(away, role.unavailable_delay.ppf(uw), 0.0)
    return delay


def _arrivals(model: CompiledModel, streams: Streams, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Merged Poisson arrivals: exponential gaps at the total rate, severity by share of the rate."""
    gen = streams.generator("arrivals")
    total = float(model.rates_per_minute.sum())
    gaps = gen.exponential(1.0 / total, n)
    share = np.cumsum(model.rates_per_minute) / total
    severity = np.minimum(np.searchsorted(share, gen.random(n), side="right"), len(share) - 1)
    return np.cumsum(gaps), severity.astype(np.int64)


def _detection(model: CompiledModel, streams: Streams, sev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minutes from fault start to detection, and whether the alert path won."""
    d = model.policy.detection
    n = sev.size
    u = lambda purpose: streams.u("detection", purpose).col(0)  # noqa: E731
    alert = (
        d.onset.ppf(u("onset"))
        + u("scrape") * d.scrape_interval_seconds / 60.0
        + u("evaluation") * d.evaluation_interval_seconds / 60.0
        + (d.rule_for_seconds + d.group_wait_seconds) / 60.0
    )
    fires = u("fires") < model.sev_array(d.alert_probability)[sev]
    user = d.user_report.ppf(u("user_report"))
    via_alert = fires & (alert <= user)
    return np.where(via_alert, alert, user)[:n], via_alert


def page_round_draws(model: CompiledModel, streams: Streams, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Per paging round, the fastest answering person's ack delay (inf: nobody answered), and the
    manager's delay when no round is answered.  Shared by both engines (same uniforms)."""
    r = model.policy.responders
    best_by_round = []
    for rnd in range(r.max_page_rounds):
        best = np.full(n, np.inf)
        for person in range(r.page_at_once):
            answers = streams.u("ack", f"answer:{rnd}:{person}").col(0) < r.answer_probability
            delay = r.ack.ppf(streams.u("ack", f"delay:{rnd}:{person}").col(0))
            best = np.where(answers, np.minimum(best, delay), best)
        best_by_round.append(best)
    return best_by_round, r.ack.ppf(streams.u("ack", "manager").col(0))


def _acknowledge(model: CompiledModel, streams: Streams, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Minutes from assignment to acknowledgement: paging rounds of ``page_at_once`` people."""
    r = model.policy.responders
    ack = np.full(n, np.inf)
    rounds = np.zeros(n, dtype=np.int64)
    pending = np.ones(n, dtype=bool)
    best_by_round, manager = page_round_draws(model, streams, n)
    for rnd, best in enumerate(best_by_round):
        got = pending & np.isfinite(best)
        ack[got] = rnd * r.ack_timeout_minutes + best[got]
        rounds[pending] = rnd + 1
        pending &= ~got
        if not pending.any():
            break
    if pending.any():  # nobody answered any round: the manager picks it up
        ack[pending] = r.max_page_rounds * r.ack_timeout_minutes + manager[pending]
    return ack, rounds


def ladder_draws(model: CompiledModel, streams: Streams, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per incident and rung: unanswered pages before the first answered one (Geometric(p) by
    inversion; inf when nobody ever answers) and the answering person's ack delay."""
    fails = np.empty((n, len(model.ladder)))
    delays = np.empty((n, len(model.ladder)))
    for j, rung in enumerate(model.ladder):
        lp = rung.policy
        u_fail = streams.u("ack", f"ladder:{rung.level}:answer").col(0)
        if lp.answer_probability >= 1.0:
            fails[:, j] = 0.0
        elif lp.answer_probability <= 0.0:
            fails[:, j] = np.inf
        else:
            fails[:, j] = np.floor(np.log1p(-u_fail) / math.log1p(-lp.answer_probability))
        delays[:, j] = lp.ack.ppf(streams.u("ack", f"ladder:{rung.level}:ack").col(0))
    return fails, delays


def auto_rollback_draws(model: CompiledModel, streams: Streams, sev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which incidents the pipeline rolls back automatically, and how long after detection."""
    n = sev.size
    policy = model.policy
    ar = policy.auto_rollback
    if not ar.enabled:
        return np.zeros(n, dtype=bool), np.zeros(n)
    rate = np.empty(n)
    u_rate = streams.u("process", "error_rate").col(0)
    for k, name in enumerate(model.severities):
        mask = sev == k
        rate[mask] = policy.error_rate(name).ppf(u_rate[mask])
    deploy = streams.u("process", "deploy_caused").col(0) < policy.incident.deploy_caused_probability
    auto = deploy & (rate > ar.error_rate_above) & model.declared[sev]
    return auto, ar.duration.ppf(streams.u("process", "auto_rollback").col(0))


def _ladder(model: CompiledModel, streams: Streams, sev: np.ndarray, ack: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First-page and engagement times (relative to assignment) of each ladder rung, and the unanswered
    pages before the answered one (:func:`ladder_draws`)."""
    n = sev.size
    page = np.full((n, len(model.ladder)), np.inf)
    engaged = np.full((n, len(model.ladder)), np.inf)
    climbs = model.climbs[sev]
    fails_all, delays = ladder_draws(model, streams, n)
    for j, rung in enumerate(model.ladder):
        lp = rung.policy
        at = ack + np.where(rung.immediate[sev], 0.0, rung.after_minutes)
        fails = fails_all[:, j]
        ok = climbs & (fails < lp.max_pages)
        page[:, j] = np.where(climbs, at, np.inf)
        engaged[:, j] = np.where(ok, at + np.where(ok, fails, 0) * lp.timeout_minutes + delays[:, j], np.inf)
    return page, engaged, fails_all


def count_ladder_pages(model: CompiledModel, first_page: np.ndarray, fails: np.ndarray,
                       restored: np.ndarray) -> np.ndarray:
    """(n, rungs) pages each rung was sent before the service was restored.  Page p goes out at ``first_page +
    p * timeout_minutes`` until the answered one (after ``fails`` unanswered) or ``max_pages``; all times
    absolute minutes, ``first_page`` inf for a rung never paged.  Shared by both engines."""
    pages = np.zeros(first_page.shape, dtype=np.int32)
    for j, rung in enumerate(model.ladder):
        lp = rung.policy
        sent = np.minimum(fails[:, j] + 1.0, float(lp.max_pages))
        room = restored - first_page[:, j]  # minutes between the first page and the restore
        with np.errstate(invalid="ignore", divide="ignore"):
            before = np.ceil(room / lp.timeout_minutes) if lp.timeout_minutes > 0 else np.full(room.size, np.inf)
        pages[:, j] = np.where(room > 0, np.minimum(sent, before), 0.0).astype(np.int32)
    return pages


def run_replication(model: CompiledModel, n: int, seed: int, replication: int = 0, *, salt: int = 0,
                    trace: bool = False, chunk: int = 0) -> Replication:
    """Simulate ``n`` incidents; deterministic in (model, n, seed, replication, salt, chunk)."""
    streams = Streams(seed, replication, n, salt, chunk)
    policy = model.policy
    arrival, sev = _arrivals(model, streams, n)
    ttd, via_alert = _detection(model, streams, sev)
    detected = arrival + ttd
    ack, rounds = _acknowledge(model, streams, n)
    page_at, engaged, fails = _ladder(model, streams, sev, ack)

    # incident shape -> automatic rollback (declared path only: the ticket path has no fix step)
    auto, rollback_after = auto_rollback_draws(model, streams, sev)
    ar = policy.auto_rollback

    walk = _walk(model, streams, sev, ack, engaged, auto, trace)
    hold = walk["closed" if policy.release_at == "closed" else "restored"]
    hold = np.where(np.isnan(walk["handoff"]), hold, walk["handoff"])
    hold = np.where(np.isnan(hold), walk["end"], hold)
    wait, shift = _queue(model.oncall, detected, hold, auto, walk["jump"], rollback_after)

    assigned = detected + wait

    def absolute(rel: np.ndarray, after_jump: bool = True) -> np.ndarray:
        return assigned + rel + (shift if after_jump else 0.0)

    mitigated = absolute(walk["mitigated"])
    if ar.enabled and auto.any():
        mitigated = np.where(auto, detected + rollback_after, mitigated)
    restored = absolute(np.where(np.isnan(walk["restored"]), walk["end"], walk["restored"]))
    rung_paged = page_at < (restored - assigned)[:, None]
    result = Replication(
        severity=sev,
        arrival=arrival,
        detected=detected,
        via_alert=via_alert,
        assigned=assigned,
        acknowledged=assigned + ack,
        declared=absolute(walk["declared"], after_jump=False),
        mitigated=mitigated,
        restored=restored,
        closed=absolute(walk["closed"]),
        reviewed=absolute(walk["reviewed"]),
        wait=wait,
        hold=hold + shift,
        page_rounds=rounds,
        investigations=walk["investigations"],
        escalation_paged=rung_paged,
        escalation_engaged=np.where(engaged < (restored - assigned)[:, None], assigned[:, None] + engaged, np.inf),
        escalation_page_at=assigned[:, None] + page_at,
        auto_rolled_back=auto,
        recurrences=walk["recurrences"],
        oncall=model.oncall,
        shift=shift,
        ladder_pages=count_ladder_pages(model, assigned[:, None] + page_at, fails, restored),
    )
    if trace:
        result.trace = walk["trace"]
        result.trace.extra["jump"] = walk["jump"]
        result.trace.extra["fix_rollback"] = walk["fix_rollback"]
    return result


def _walk(model: CompiledModel, streams: Streams, sev: np.ndarray, ack: np.ndarray, engaged: np.ndarray,
          auto: np.ndarray, want_trace: bool) -> dict:
    """Move every incident through the workflow graph, node by node, all incidents at a node at once."""
    policy = model.policy
    steps, dec = policy.steps, policy.decisions
    n = sev.size
    n_nodes = len(model.roles)
    t = ack.astype(float).copy()
    pos = np.full(n, model.first_node, dtype=np.int64)
    visits = np.zeros((n_nodes, n), dtype=np.int32)
    out = {k: np.full(n, NAN) for k in ("declared", "mitigated", "restored", "closed", "reviewed", "jump",
                                         "handoff")}
    last_verify = np.full(n, NAN)
    fix_rollback = np.zeros(n, dtype=bool)
    recur = np.zeros(n, dtype=bool)
    recurrences = np.zeros(n, dtype=np.int64)
    investigations = np.zeros(n, dtype=np.int64)
    trace = Trace() if want_trace else None
    p_root = model.sev_array(dec.root_cause_probability)
    p_rollback = model.sev_array(dec.rollback_probability)
    p_recur = model.sev_array(dec.recurrence_probability)
    rung_p = [(j, r.root_cause_probability) for j, r in enumerate(model.ladder) if r.root_cause_probability is not None]
    roles_policy = list(policy.responders.roles.items())
    stability = model.stability_minutes

    active = np.arange(n)
    rounds = 0
    while active.size:
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise InputError(None, "decisions", "incidents never leave the workflow; check the decision odds")
        here = pos[active]
        order = np.argsort(here, kind="stable")
        sorted_nodes = here[order]
        bounds = np.flatnonzero(np.diff(sorted_nodes)) + 1
        for group in np.split(order, bounds):
            k = int(here[group[0]])
            idx = active[group]
            role = model.roles[k]
            activity = ROLE_ACTIVITY.get(role, "process")
            visit = visits[k, idx]
            visits[k, idx] += 1
            u = streams.u(activity, f"{role}:{model.node_ids[k]}")
            t0 = t[idx]
            if role == "assign":  # the ticket goes to a team member: the on-call is free again
                out["handoff"][idx] = t0
            nxt = np.full(idx.size, model.next_node[k], dtype=np.int64)
            if role == "investigate":
                jumping = auto[idx] & (visit == 0) & (model.verify_node >= 0)
                dur = steps.hypothesis.ppf(u.at(idx, visit)) + steps.investigate.ppf(
                    streams.u(activity, f"test:{model.node_ids[k]}").at(idx, visit))
                dur = np.where(jumping, 0.0, dur)
                investigations[idx] += ~jumping
                if jumping.any():
                    out["jump"][idx[jumping]] = t0[jumping]
                    nxt[jumping] = model.verify_node
            elif role == "assemble":
                dur = steps.assemble.ppf(u.at(idx, visit))
                for name, rp in roles_policy:
                    dur = np.maximum(dur, steps.assemble.ppf(u.at(idx, visit)) +
                                     _role_delays(rp, streams, "ack", f"role:{name}", idx, visit))
            elif role == "escalate":
                dur = steps.escalate.ppf(u.at(idx, visit)) + _role_delays(
                    policy.responders.sme, streams, activity, "sme", idx, visit)
            elif role == "fix":
                rb = streams.u(activity, f"choice:{model.node_ids[k]}").at(idx, visit) < p_rollback[sev[idx]]
                fix_rollback[idx] = rb
                ud = u.at(idx, visit)
                dur = np.where(rb, steps.rollback.ppf(ud), steps.hotfix.ppf(ud))
            elif role == "monitor":
                r = (streams.u(activity, "recur").at(idx, visit) < p_recur[sev[idx]]) & ~auto[idx]
                recur[idx] = r
                recurrences[idx] += r
                dur = np.where(r, stability * u.at(idx, visit), stability)
            elif role in ("root_cause", "fix_worked", "stable", "decision", "detect", "other"):
                dur = np.zeros(idx.size)
            else:
                dist = model.duration(role)
                dur = dist.ppf(u.at(idx, visit)) if dist is not None else np.zeros(idx.size)
            t1 = t0 + dur
            t[idx] = t1
            if trace is not None:
                trace.add(idx, k, t0, t1)

            # routing and milestones
            if role == "severity":
                nxt = model.severity_route[sev[idx]]
            elif model.yes_no[k] is not None:
                yes_node, no_node = model.yes_no[k]
                ud = streams.u(activity, f"decide:{model.node_ids[k]}").at(idx, visit)
                if role == "root_cause":
                    p = p_root[sev[idx]]
                    for j, rp in rung_p:
                        p = np.where(engaged[idx, j] <= t0, np.maximum(p, rp[sev[idx]]), p)
                    yes = ud < p
                elif role == "fix_worked":
                    yes = ud < np.where(fix_rollback[idx], dec.rollback_success, dec.hotfix_success)
                    out["mitigated"][idx[yes]] = t0[yes]
                elif role == "stable":  # the watch held: restored at the verification it watched
                    yes = ~recur[idx]
                    out["restored"][idx[yes]] = last_verify[idx[yes]]
                else:
                    yes = ud < dec.other.get(_slug(model.labels[k]), 1.0)
                nxt = np.where(yes, yes_node, no_node)
            if role == "declare":
                first = np.isnan(out["declared"][idx])
                out["declared"][idx[first]] = t1[first]
            elif role == "verify":
                last_verify[idx] = t1
            elif role == "close":
                pending = np.isnan(out["restored"][idx])
                out["restored"][idx[pending]] = np.where(np.isnan(last_verify[idx[pending]]), t0[pending],
                                                         last_verify[idx[pending]])
                out["closed"][idx] = t1
            elif role == "review":
                out["reviewed"][idx] = t1
            pos[idx] = nxt
        active = active[pos[active] >= 0]
    # ticket path (no verify/close): restored when the workflow ends
    out["end"] = t
    out["investigations"] = investigations
    out["recurrences"] = recurrences
    out["trace"] = trace
    out["fix_rollback"] = fix_rollback
    _ = per_severity  # re-exported helpers stay imported for type checkers
    return out


def _slug(text: str) -> str:
    from sim.model import slug

    return slug(text)


def _queue(oncall: int | None, detected: np.ndarray, hold: np.ndarray, auto: np.ndarray, jump: np.ndarray,
           rollback_after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FIFO c-server queue for the on-call pool, in order of detection.

    Returns the wait for a responder and, for auto-rolled-back incidents, how far the post-rollback part
    of the lifecycle moves (verification cannot start before the rollback has finished).
    """
    n = detected.size
    wait = np.zeros(n)
    # shift(W) = max(0, rollback_after - W - jump): the rollback clock runs from detection
    base = np.where(auto, rollback_after - np.nan_to_num(jump), -np.inf)
    if oncall is None:
        return wait, np.maximum(0.0, base)
    order = np.argsort(detected, kind="stable").tolist()
    det = detected.tolist()
    hold_l = hold.tolist()
    base_l = base.tolist()
    wait_l = [0.0] * n
    if oncall == 1:
        free = 0.0
        for i in order:
            d = det[i]
            s = free if free > d else d
            w = s - d
            b = base_l[i] - w
            free = s + hold_l[i] + (b if b > 0.0 else 0.0)
            wait_l[i] = w
    else:
        heap = [0.0] * oncall
        for i in order:
            d = det[i]
            f = heap[0]
            s = f if f > d else d
            w = s - d
            b = base_l[i] - w
            heapq.heapreplace(heap, s + hold_l[i] + (b if b > 0.0 else 0.0))
            wait_l[i] = w
    wait = np.asarray(wait_l)
    return wait, np.maximum(0.0, base - wait)
