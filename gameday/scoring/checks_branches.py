"""The decision tree's branch the incident called for, and whether the team took it (issue 22).

Registered in the same registry as :mod:`gameday.scoring.checks` (imported at its end).  ``remediation_choice``
there answers the tree's first question (can we roll back safely?); ``decision_branch`` here answers the others,
each from the scenario the journal carries and judged on the journal's events and metric samples, never on a
claim:

- Step 2.3, "Is data integrity at risk?": YES (``data_at_risk``) → offline (``maintenance-on``) before the repair
  (``repair-data``), back online (``maintenance-off``) after it, and the invariant holding at verification on the
  real database (the ``integrity_violations`` sample, which the exporter reads from the tables); NO → no
  maintenance mode ("fix while keeping partial service").
- Step 3.2, "Database connections normal", for a fault of the database itself: PostgreSQL answering and no
  request waiting for a pooled connection when resolution was verified.
- Step 2.2, "Verify network connectivity", for a network fault: the backend's paths to its dependencies answering
  (the ``network_ok`` sample of the blackbox probes) when resolution was verified.
- Step 2.3 and 3.2 for a memory leak: a leaking release is rolled back (restarting the pods frees the memory only
  until the next OOMKilled), and no backend pod's container last died OOMKilled when resolution was verified (the
  ``oom_killed`` sample, from the pods' last state).
- Step 3.2 for a lost node: the backend's pods rescheduled by themselves (the spread and the disruption budget), but
  the cluster runs short of a node until someone brings it back, so a ``restore-node`` action must come before the
  incident is resolved (the action's own journal entry, taken on the cluster, not a claim).
- Step 3.3, "If the problem comes back while you watch → go back to Phase 2": one of the scenario's alerts firing
  (or a staged fault) after the first verification must be followed by a new hypothesis (Phase 2) before
  resolving.

Each failure is one line that names the runbook's step.
"""

from __future__ import annotations

from gameday.journal import Event, EventType
from gameday.scoring.registry import Check, Context, check
from gameday.scoring.registry import reading as _number
from gameday.scoring.registry import sample_near as _sample_near
from gameday.scoring.result import CheckResult

E = EventType
#: Faults of the database itself (gameday.faults), whose verification includes "Database connections normal".
DATABASE_FAULTS = frozenset({"database-down"})
#: Faults of the network (gameday.faults), whose verification includes the backend's paths answering again.
NETWORK_FAULTS = frozenset({"network"})
#: Faults of memory (gameday.faults): the leaking release rolled back, no pod OOMKilled at verification.
MEMORY_FAULTS = frozenset({"memory-leak"})
#: Faults of the cluster's nodes (gameday.faults): the lost node brought back before resolving.
NODE_FAULTS = frozenset({"node-loss"})
OFFLINE, REPAIR, ONLINE = "maintenance-on", "repair-data", "maintenance-off"
RESTORE_NODE = "restore-node"


def _action_name(event: Event) -> str:
    return str(event.data.get("action") or event.data.get("kind") or "?")


def _key(event: Event) -> tuple[float, int]:
    return event.t, event.seq


def _data_branch(ctx: Context, actions: list[Event], data_at_risk: bool) -> list[str]:
    names = [_action_name(a) for a in actions]
    if not data_at_risk:
        if OFFLINE in names:
            return ["Step 2.3: data integrity was not at risk → fix while keeping partial service; "
                    "the system was taken offline (maintenance-on)"]
        return []
    first = {name: next((i for i, n in enumerate(names) if n == name), None) for name in (OFFLINE, REPAIR)}
    last_online = max((i for i, n in enumerate(names) if n == ONLINE), default=None)
    repair = first[REPAIR]
    if repair is None:
        return ["Step 2.3: data integrity at risk → repair the data; no repair-data was taken"]
    problems = []
    if first[OFFLINE] is None or first[OFFLINE] > repair:
        problems.append("Step 2.3: data integrity at risk → take the system offline (maintenance-on) before "
                        "repairing the data")
    if last_online is None or last_online < repair:
        problems.append("Step 2.3: data integrity at risk → repair the data, then restore (maintenance-off)")
    verified = ctx.view.first(E.verified)
    sample = _sample_near(ctx, ctx.view.minutes(verified)) if verified is not None else None
    violations = _number(sample.data.get("integrity_violations")) if sample is not None else None
    if verified is not None and sample is not None and ("integrity_violations" not in sample.data
                                                         or violations is None):
        problems.append("Step 3.2: the data invariant was not measured when resolution was verified")
    elif violations:
        problems.append(f"Step 3.2: the data invariant was broken when resolution was verified "
                        f"({violations:g} appointment(s) booked twice in the database)")
    return problems


def _database_verification(ctx: Context) -> list[str]:
    verified = ctx.view.first(E.verified)
    if verified is None:
        return []
    sample = _sample_near(ctx, ctx.view.minutes(verified))
    if sample is None:
        return []
    up, waiting = _number(sample.data.get("database_up")), _number(sample.data.get("pool_waiting"))
    if up == 1 and waiting == 0:
        return []
    seen = f"database {'up' if up == 1 else 'down' if up == 0 else 'not measured'}, " + (
        f"{waiting:g} request(s) waiting for a connection" if waiting is not None else "pool not measured")
    return [f"Step 3.2: 'Database connections normal' did not hold when resolution was verified ({seen})"]


def _network_verification(ctx: Context) -> list[str]:
    verified = ctx.view.first(E.verified)
    sample = _sample_near(ctx, ctx.view.minutes(verified)) if verified is not None else None
    if sample is None or _number(sample.data.get("network_ok")) == 1:
        return []
    seen = "not measured" if _number(sample.data.get("network_ok")) is None else "still failing"
    return [f"Step 2.2: the backend's network path to its dependencies was {seen} when resolution was verified"]


def _memory_branch(ctx: Context, actions: list[Event], rollback_safe: bool) -> list[str]:
    problems = []
    kinds = [str(a.data.get("kind", "")) for a in actions]
    if rollback_safe and "rollback" not in kinds:
        problems.append("Step 2.3: can we roll back safely? YES → roll back the leaking release; restarting the "
                        "pods only frees their memory until the next OOMKilled")
    verified = ctx.view.first(E.verified)
    sample = _sample_near(ctx, ctx.view.minutes(verified)) if verified is not None else None
    killed = _number(sample.data.get("oom_killed")) if sample is not None else None
    if sample is not None and killed is None:
        problems.append("Step 3.2: whether pods were OOMKilled was not measured when resolution was verified")
    elif killed:
        problems.append(f"Step 3.2: {killed:g} backend pod(s) had last died OOMKilled when resolution was verified")
    return problems


def _node_branch(ctx: Context, actions: list[Event]) -> list[str]:
    resolved = ctx.view.first(E.resolved, E.closed)
    restored = [a for a in actions if _action_name(a) == RESTORE_NODE
                and (resolved is None or _key(a) < _key(resolved))]
    if restored:
        return []
    return ["Step 3.2: the lost worker node was not brought back (restore-node) before resolving: the backend runs "
            "on fewer nodes than it is spread over"]


def _recurrence(ctx: Context) -> tuple[list[str], bool]:
    """Problems, and whether the problem came back at all."""
    view = ctx.view
    verified = view.first(E.verified)
    resolved = view.first(E.resolved, E.closed)
    if verified is None or resolved is None:
        return [], False
    # the problem itself: one of the scenario's alerts (a latency blip on a busy machine is not it), or a staged
    # fault injected after the fix
    signature = set(ctx.view.scenario.get("expected_alerts") or [])
    back = [e for e in view.all(E.alert_firing, E.fault_injected)
            if _key(verified) < _key(e) < _key(resolved)
            and (e.type is E.fault_injected or not signature or e.data.get("alertname") in signature)]
    if not back:
        return [], False
    came_back = min(back, key=_key)
    again = [e for e in view.all(E.hypothesis) if _key(came_back) < _key(e) < _key(resolved)]
    if again:
        return [], True
    what = came_back.data.get("alertname") or came_back.data.get("fault") or came_back.type.value
    return [f"Step 3.3: the problem came back during the stability watch ({what}) and the incident was "
            f"resolved without going back to Phase 2 (no new hypothesis)"], True


@check("decision_branch", "The decision tree's branch taken (data at risk, database, memory, node, recurrence)")
def decision_branch(ctx: Context, c: Check) -> CheckResult:
    scenario = ctx.view.scenario
    if not scenario:
        return c.na("—", "no scenario says which branch the incident called for")
    data_at_risk = bool(scenario.get("data_at_risk", False))
    fault = str((scenario.get("fault") or {}).get("type", ""))
    expected = ("offline, repair, restore; the invariant holds at verification" if data_at_risk
                else "fix while keeping partial service")
    if fault in DATABASE_FAULTS:
        expected += "; database connections normal at verification"
    if fault in NETWORK_FAULTS:
        expected += "; the network path answers at verification"
    if fault in MEMORY_FAULTS:
        expected += "; the leaking release rolled back, no pod OOMKilled at verification"
    if fault in NODE_FAULTS:
        expected += "; the lost node brought back (restore-node) before resolving"
    actions = sorted(ctx.view.all(E.action), key=_key)
    if not actions:
        return c.missing(ctx, expected, "fix action", "No fix was recorded.")
    problems = _data_branch(ctx, actions, data_at_risk)
    if fault in DATABASE_FAULTS:
        problems += _database_verification(ctx)
    if fault in NETWORK_FAULTS:
        problems += _network_verification(ctx)
    if fault in MEMORY_FAULTS:
        problems += _memory_branch(ctx, actions, bool(scenario.get("rollback_safe", True)))
    if fault in NODE_FAULTS:
        problems += _node_branch(ctx, actions)
    recurred, came_back = _recurrence(ctx)
    problems += recurred
    if came_back:
        expected += "; back to Phase 2 when the problem recurs during the watch"
    observed = "actions: " + ", ".join(_action_name(a) for a in actions) + ("; the problem came back"
                                                                          if came_back else "")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return c.result(not problems, expected, observed,
                    "Took the decision tree's branch the incident called for.",
                    (problems[0] + more) if problems else "")
