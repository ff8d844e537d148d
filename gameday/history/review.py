"""The runbook's monthly incident review and the weekly action-item list, computed from the history store.

The monthly review follows the runbook's *Incident Metrics*: the incident count and its trend (and whether the
trend can be told from noise at this count: the caller passes the detectability test, which lives with the
simulator), MTTD / MTTA / MTTR against the targets per severity and month (median and p90 with intervals: the
metric definitions and targets are :mod:`gameday.metrics`'), repeat incidents (target from the runbook), drill
scores per team and role, the checks failed most often, and the open action items, overdue first.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from gameday.history.actions import open_items
from gameday.history.evidence import too_few, too_few_text, weight
from gameday.history.ingest import parse_month
from gameday.history.stats import summary
from gameday.history.store import HistoryStore
from gameday.metrics import BY_ID, meets, target

#: The runbook's three tracked times (its *Incident Metrics* table), in the glossary's ids.
REVIEWED_METRICS = ("mttd", "mtta", "mttr")
#: Two incidents this close with the same fault or root cause: the second is a repeat (the runbook names no
#: window; a quarter is long enough for a fix to have shipped).
REPEAT_WINDOW_DAYS = 90
#: Months of history the trend covers, ending at the reviewed month.
TREND_MONTHS = 12
#: (monthly counts) -> {"p_value", "distinguishable", "text"}: the detectability test of a count trend.
CountNoise = Callable[[list[int]], dict[str, Any]]
#: () -> {"minutes": {severity: {metric id: [runbook minutes]}}, "text": where it came from, ...}: a baseline
#: simulated for this review, asked for only when no simulated journal is stored (the simulator lives in ``sim``).
SimulateBaseline = Callable[[], dict[str, Any]]


def months_until(last: date, count: int) -> list[str]:
    out, year, month = [], last.year, last.month
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def _norm(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", " ", (text or "").lower()).strip()


def monthly_review(store: HistoryStore, runbook: Any, month: str | None = None, *, today: date | None = None,
                   count_noise: CountNoise | None = None, window_days: int = REPEAT_WINDOW_DAYS,
                   trend_months: int = TREND_MONTHS, simulate: SimulateBaseline | None = None) -> dict[str, Any]:
    """Everything the monthly review shows, as plain data (``--json`` prints it, the templates render it).

    ``simulate`` gives the baseline when the store holds no simulated journal, so the review always sets the
    team's figures beside a baseline; without it (and without a stored one) the review shows none."""
    today = today or date.today()
    with store.reading() as con:
        incidents = con.execute(
            "SELECT i.key, i.incident, i.kind, i.started_at, i.month, i.severity, i.team, i.fault, i.score, "
            "r.root_cause FROM incidents i LEFT JOIN reviews r ON r.incident = i.incident "
            "ORDER BY i.started_at, i.incident").df()
        metrics = con.execute("SELECT key, incident, metric, minutes FROM metrics").df()
        roles = con.execute("SELECT DISTINCT key, incident, role FROM roles").df()
        checks = con.execute("SELECT key, incident, check_id, title, status FROM checks").df()
        actions = open_items(con, today)
        metas = con.execute("SELECT key, data FROM events WHERE type = 'journal_started'").fetchall()
    observed = incidents[incidents["kind"] != "sim"]
    last_month = parse_month(month) if month else _latest_month(observed, today)
    first = str(observed["month"].min()) if len(observed) else None
    # months before the store's first record are unknown, not months without incidents
    months = [m for m in months_until(last_month, trend_months) if first is None or m >= first] or \
        months_until(last_month, 1)
    reviewed = months[-1]
    window = observed[observed["month"].isin(months)]
    real = window[window["kind"] == "incident"]
    severities = [s.name for s in runbook.severities]

    counts = {m: int((real["month"] == m).sum()) for m in months}
    by_severity = {s: {m: int(((real["month"] == m) & (real["severity"] == s)).sum()) for m in months}
                   for s in severities}
    drills = {m: int(((window["month"] == m) & (window["kind"] == "drill")).sum()) for m in months}
    trend = _trend(list(counts.values()))
    trend["noise"] = count_noise(list(counts.values())) if count_noise else {
        "text": "not assessed (the simulator's detectability test is not installed)"}
    target_text = next((t.target_text for t in runbook.targets.metrics if _norm(t.abbreviation) == "incident count"),
                       "")

    values = metrics.merge(window[["key", "incident", "kind", "month", "severity"]], on=["key", "incident"])
    metric_rows = []
    for (mon, kind, severity), group in values.groupby(["month", "kind", "severity"], dropna=False, sort=True):
        for metric_id in REVIEWED_METRICS:
            definition = BY_ID[metric_id]
            minutes = group.loc[group["metric"] == metric_id, "minutes"].tolist()
            sev = severity if isinstance(severity, str) else None
            goal, goal_text = target(definition, runbook, sev)
            met = [bool(meets(None if v != v else v, goal)) for v in minutes] if goal is not None else []
            metric_rows.append({"kind": kind, "month": mon, "severity": sev or "—", "metric": metric_id,
                                "title": definition.title, "span": definition.span, **summary(minutes),
                                "target": goal, "target_text": goal_text,
                                "met": sum(met) if goal is not None else None, "of": len(met)})
    baseline, baseline_source = _baseline(incidents, metrics, runbook,
                                          {key: json.loads(data) for key, data in metas}, simulate)

    repeats = _repeats(observed[observed["kind"] == "incident"], window_days)
    repeat_target = runbook.targets.repeat_incidents
    repeats_in_window = [r for r in repeats if r["month"] in months]

    scores = _scores(window, roles)
    failed = _failed_checks(window, checks)
    return {
        "month": reviewed, "months": months, "today": today.isoformat(), "runbook": runbook.source,
        "incident_count": {"by_month": counts, "by_severity": by_severity, "drills_by_month": drills,
                           "this_month": counts[reviewed], "target_text": target_text, "trend": trend},
        "metrics": metric_rows, "baseline": baseline, "baseline_source": baseline_source,
        "repeats": {"window_days": window_days, "target": repeat_target, "count": len(repeats_in_window),
                    "this_month": sum(1 for r in repeats if r["month"] == reviewed), "pairs": repeats_in_window,
                    "met": None if repeat_target is None else len(repeats_in_window) <= repeat_target},
        "scores": scores, "failed_checks": failed, "action_items": actions,
        "overdue": sum(1 for a in actions if a["overdue_days"] > 0),
    }


def _latest_month(observed: Any, today: date) -> date:
    if len(observed):
        return parse_month(str(observed["month"].max()))
    return today.replace(day=1)


def _trend(counts: list[int]) -> dict[str, Any]:
    """Least-squares slope of the monthly counts (incidents per month, per month) and its direction."""
    import numpy as np

    if len(counts) < 2 or not any(counts):
        return {"slope_per_month": 0.0, "direction": "no incidents" if not any(counts) else "flat"}
    slope = float(np.polyfit(np.arange(len(counts), dtype=float), np.asarray(counts, dtype=float), 1)[0])
    direction = "decreasing" if slope < -1e-9 else "increasing" if slope > 1e-9 else "flat"
    return {"slope_per_month": round(slope, 3), "direction": direction}


def _repeats(real: Any, window_days: int) -> list[dict[str, Any]]:
    """Each incident whose fault or root cause an earlier one within the window had: one repeat per later
    incident (a pair with the same root cause is one repeat).  One pass, remembering the latest incident per
    fault and per root cause."""
    out = []
    window = timedelta(days=window_days)
    last: dict[tuple[str, str], Any] = {}
    for row in real.itertuples(index=False):
        cause = _norm(row.root_cause if isinstance(row.root_cause, str) else "")
        keys = ([("root cause", cause)] if cause else []) + ([("fault", row.fault)] if isinstance(row.fault, str)
                                                             else [])
        for key in keys:
            earlier = last.get(key)
            if earlier is not None and row.started_at - earlier.started_at <= window:
                gap = row.started_at - earlier.started_at
                out.append({"incident": row.incident, "repeats": earlier.incident, "month": row.month,
                            "days_apart": round(gap.total_seconds() / 86400, 1), "same": key[0],
                            "what": row.root_cause if key[0] == "root cause" else row.fault})
                break
        for key in keys:
            last[key] = row
    return out


def _scores(window: Any, roles: Any) -> list[dict[str, Any]]:
    """Drill scores per month, team and role (the mean score of the drills in which the role was staffed)."""
    drills = window[(window["kind"] == "drill") & window["score"].notna()]
    joined = drills.merge(roles, on=["key", "incident"], how="left")
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for row in drills.itertuples(index=False):
        groups[(row.month, row.team if isinstance(row.team, str) else "—", "all")].append(float(row.score))
    for row in joined.itertuples(index=False):
        if isinstance(row.role, str):
            groups[(row.month, row.team if isinstance(row.team, str) else "—", row.role)].append(float(row.score))
    return [{"month": m, "team": t, "role": r, "drills": len(v), "mean_score": round(sum(v) / len(v), 1)}
            for (m, t, r), v in sorted(groups.items())]


def _failed_checks(window: Any, checks: Any, top: int = 10) -> list[dict[str, Any]]:
    joined = checks.merge(window[["key", "incident", "kind"]], on=["key", "incident"])
    joined = joined[joined["kind"] == "drill"]
    applicable = joined[joined["status"] != "n/a"]
    rows = []
    for (check_id, title), group in applicable.groupby(["check_id", "title"]):
        failed = int((group["status"] == "fail").sum())
        if failed:
            rows.append({"check": check_id, "title": title, "failed": failed, "of": len(group)})
    return sorted(rows, key=lambda r: (-r["failed"], r["check"]))[:top]


def _baseline(incidents: Any, metrics: Any, runbook: Any, metas: dict[str, dict],
              simulate: SimulateBaseline | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The simulated baseline per severity next to what was observed (all months, incidents and drills), and
    whether the observed records weigh enough to fit a policy to (calibration's rule,
    :mod:`gameday.history.evidence`: a drill's people weigh less than a real incident, an autopilot's nothing).

    The baseline is the stored simulated journals' when there are any, else ``simulate()``'s; the second value
    says which (``{"kind": "stored" | "simulated" | None, "text": ...}``)."""
    joined = metrics.merge(incidents[["key", "incident", "kind", "severity"]], on=["key", "incident"])
    sims = incidents[incidents["kind"] == "sim"]
    if len(sims):
        simulated = {str(sev): {m: joined.loc[(joined["kind"] == "sim") & (joined["severity"] == sev)
                                              & (joined["metric"] == m), "minutes"].tolist()
                                for m in REVIEWED_METRICS}
                     for sev in sorted(sims["severity"].dropna().unique())}
        journals = sims["key"].nunique()
        source = {"kind": "stored", "text": f"stored: {journals} simulated journal(s), {len(sims)} incident(s)"}
    elif simulate is not None:
        made = simulate()
        simulated = made["minutes"]
        source = {"kind": "simulated", **{k: v for k, v in made.items() if k != "minutes"}}
    else:
        return [], {"kind": None, "text": "no simulated journal is stored"}
    rows = []
    for severity, by_metric in simulated.items():
        for metric_id in REVIEWED_METRICS:
            sel = joined[(joined["severity"] == severity) & (joined["metric"] == metric_id)]
            seen = sel[sel["kind"].isin(["incident", "drill"]) & sel["minutes"].notna()]
            interval = "detect" if metric_id == "mttd" else "mitigate"  # MTTD is the alert chain's, the rest people's
            weights = [weight(k, metas.get(key, {}), interval)[0] for k, key in zip(seen["kind"], seen["key"],
                                                                                    strict=True)]
            total = float(sum(weights))
            goal, _ = target(BY_ID[metric_id], runbook, severity)
            rows.append({"severity": severity, "metric": metric_id, "title": BY_ID[metric_id].title,
                         "simulated": summary(by_metric.get(metric_id, [])),
                         "observed": summary(seen["minutes"].tolist()), "target": goal,
                         "weight": round(total, 3), "too_few": too_few(total),
                         "fit": too_few_text(total, sum(w > 0 for w in weights)) if too_few(total)
                         else f"enough to fit: weighing {total:.2f} real incident(s)"})
    return rows, source


def weekly_review(store: HistoryStore, today: date | None = None) -> dict[str, Any]:
    """The open action items for the team meeting, overdue first."""
    today = today or date.today()
    with store.reading() as con:
        items = open_items(con, today)
    return {"today": today.isoformat(), "action_items": items,
            "overdue": sum(1 for a in items if a["overdue_days"] > 0)}
