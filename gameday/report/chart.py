"""The timeline chart: error rate, p95 and pool usage from ``metric_sample`` events, with the fault,
alerts and responder actions drawn as labelled vertical lines, against the runbook's thresholds."""

from __future__ import annotations

from pathlib import Path

from gameday.journal import Event, EventType
from gameday.report.clock import RunbookClock
from gameday.runbook.model import Runbook

E = EventType
#: Event type -> (label, colour).  Only these get a vertical line; everything else is too busy.
MARKS: dict[EventType, tuple[str, str]] = {
    E.fault_injected: ("fault", "#b2182b"),
    E.incident_started: ("incident", "#b2182b"),
    E.fault_reverted: ("fault reverted", "#b2182b"),
    E.alert_firing: ("alert", "#e08214"),
    E.detected: ("detected", "#e08214"),
    E.acknowledged: ("ack", "#8073ac"),
    E.severity_declared: ("declared", "#542788"),
    E.hypothesis: ("hypothesis", "#35978f"),
    E.action: ("action", "#01665e"),
    E.mitigated: ("mitigated", "#1b7837"),
    E.verified: ("verified", "#1b7837"),
    E.resolved: ("resolved", "#1b7837"),
    E.closed: ("closed", "#404040"),
}
MAX_MARKS = 400
MAX_LANES = 25


def _label(event: Event) -> str:
    label = MARKS[event.type][0]
    if event.type is E.alert_firing and event.data.get("alertname"):
        return f"alert {event.data['alertname']}"
    if event.type is E.severity_declared and event.data.get("severity"):
        return f"declared {event.data['severity']}"
    if event.type is E.action and event.data.get("kind"):
        return str(event.data["kind"])
    return label


def render_chart(events: list[Event], runbook: Runbook, out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clock = RunbookClock(events)
    samples = [e for e in events if e.type is E.metric_sample]
    marks = [e for e in events if e.type in MARKS][:MAX_MARKS]
    series = {
        "error rate (%)": [(clock.minutes(e), 100 * float(e.data["error_rate"])) for e in samples
                           if e.data.get("error_rate") is not None],
        "p95 latency (s)": [(clock.minutes(e), float(e.data["p95_seconds"])) for e in samples
                            if e.data.get("p95_seconds") is not None],
        "pool in use": [(clock.minutes(e), _pool(e)) for e in samples if _pool(e) is not None],
    }
    series = {k: v for k, v in series.items() if v}
    thresholds = {
        "error rate (%)": 100 * runbook.verification.error_rate_below,
        "p95 latency (s)": runbook.verification.p95_below_seconds,
    }
    rows = len(series) + 1
    lanes = len({e.incident for e in marks})
    lane_height = 2.2 if lanes <= 1 else max(1.6, 0.28 * min(lanes, MAX_LANES))
    fig, axes = plt.subplots(
        rows, 1, figsize=(11, 1.9 * len(series) + lane_height + 0.8), sharex=True, squeeze=False,
        gridspec_kw={"height_ratios": [2] * len(series) + [lane_height]},
    )
    axes = axes[:, 0]
    for ax, (name, points) in zip(axes, series.items(), strict=False):
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, color="#2166ac", linewidth=1.8)
        ax.set_ylabel(name, fontsize=10)
        if name in thresholds:
            ax.axhline(thresholds[name], color="#777777", linestyle="--", linewidth=1)
            ax.text(xs[0], thresholds[name], " runbook limit", va="bottom", fontsize=8, color="#555555")
        if name == "pool in use" and "%" in _pool_unit(samples):
            ax.set_ylabel("pool in use (%)", fontsize=10)
        ax.grid(alpha=0.3)
        for event in marks:
            ax.axvline(clock.minutes(event), color=MARKS[event.type][1], alpha=0.5, linewidth=1)
    lane = axes[-1]
    incidents = list(dict.fromkeys(e.incident for e in marks))
    if len(incidents) > 1:
        _incident_lanes(lane, marks, incidents, clock)
    else:
        _event_lane(lane, marks, clock)
    if not series:
        title += " (no metric samples: events only)"
    from datetime import timedelta

    from matplotlib.ticker import FuncFormatter

    top = axes[0].secondary_xaxis("top")
    origin = clock.origin.astimezone(clock.zone)
    top.xaxis.set_major_formatter(FuncFormatter(lambda m, _: (origin + timedelta(minutes=m)).strftime("%H:%M")))
    top.set_xlabel(f"runbook clock ({clock.zone_label})", fontsize=9)
    top.tick_params(labelsize=8)
    xs_all = [clock.minutes(e) for e in marks] + [p[0] for pts in series.values() for p in pts]
    if xs_all:
        span = max(xs_all) - min(xs_all) or 1.0
        lane.set_xlim(min(xs_all) - 0.02 * span, max(xs_all) + 0.12 * span)
    lane.set_xlabel("runbook minutes since start", fontsize=10)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _pool(event: Event) -> float | None:
    used, size = event.data.get("pool_in_use"), event.data.get("pool_size")
    if used is None:
        return None
    return 100.0 * float(used) / float(size) if size else float(used)


def _pool_unit(samples: list[Event]) -> str:
    return "%" if any(e.data.get("pool_size") for e in samples) else ""


def _event_lane(lane, marks: list[Event], clock: RunbookClock) -> None:
    """One incident: every marked event gets a labelled line, labels staggered on four levels."""
    lane.set_ylim(0, 1)
    lane.set_yticks([])
    lane.set_ylabel("events", fontsize=10)
    levels = [0.85, 0.6, 0.35, 0.1]
    for index, event in enumerate(marks):
        x = clock.minutes(event)
        colour = MARKS[event.type][1]
        lane.axvline(x, color=colour, alpha=0.6, linewidth=1)
        lane.text(x, levels[index % len(levels)], " " + _label(event), color=colour, fontsize=8.5,
                  va="center", ha="left", clip_on=True,
                  bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5})


def _incident_lanes(lane, marks: list[Event], incidents: list[str], clock: RunbookClock) -> None:
    """Several incidents (simulator): one row each, start-to-last-event bar with event ticks."""
    shown = incidents[:MAX_LANES]
    for row, incident in enumerate(shown):
        own = [e for e in marks if e.incident == incident]
        xs = [clock.minutes(e) for e in own]
        lane.hlines(row, min(xs), max(xs), color="#bbbbbb", linewidth=5)
        for event, x in zip(own, xs, strict=True):
            lane.plot(x, row, marker="|", markersize=11, color=MARKS[event.type][1])
    lane.set_yticks(range(len(shown)), shown, fontsize=7)
    lane.set_ylim(len(shown) - 0.5, -0.5)
    lane.set_ylabel("incidents", fontsize=10)
    handles = {}
    for event in marks:
        label, colour = MARKS[event.type]
        handles.setdefault(label, colour)
    from matplotlib.lines import Line2D

    lane.legend(
        [Line2D([], [], color=c, marker="|", linestyle="", markersize=10) for c in handles.values()],
        list(handles), fontsize=7.5, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
    )
