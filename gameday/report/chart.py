"""The timeline chart: error rate, p95 and pool usage from ``metric_sample`` events, with the fault,
alerts and responder actions drawn as labelled vertical lines, against the runbook's thresholds.

Every panel says what window each point covers (a drill's sampler records it in ``windows_s``), and the
event lane's labels are packed into as many rows as they need, measured in pixels, so no two ever overlap;
when even that would take too many rows, events get numbers and a key beside the lane.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.journal import Event, EventType
from gameday.report.clock import RunbookClock
from gameday.runbook.model import Runbook

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

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
    E.verified: ("verified (restored)", "#1b7837"),
    E.resolved: ("resolved", "#1b7837"),
    E.closed: ("closed", "#404040"),
}
MAX_MARKS = 400
MAX_LANES = 25
WIDTH_IN, DPI = 11.0, 110
LABEL_FONT = 8.5
#: Label rows the event lane may stack before events are numbered with a key instead.
MAX_LABEL_ROWS = 12
#: Pixels kept free between two labels in one row.
LABEL_GAP_PX = 6.0
#: Height of one label row, in inches (a label is ~0.15 in tall at LABEL_FONT).
ROW_IN = 0.24
#: Same-label events closer than span / BURST_SLICES share one label ("alert HighErrorRate ×12").
BURST_SLICES = 400
#: Numbered mode: everything within span / NUMBER_SLICES shares one number.
NUMBER_SLICES = 60
KEY_COLUMNS = 3
KEY_LINE_IN = 0.16
KEY_FONT = 7.0


@dataclass
class Chart:
    """The drawn figure and the event labels on it (their boxes are what the layout test checks)."""

    figure: Figure
    labels: list[Text] = field(default_factory=list)
    numbered: bool = False
    key: list[Text] = field(default_factory=list)


def _label(event: Event) -> str:
    label = MARKS[event.type][0]
    if event.type is E.alert_firing and event.data.get("alertname"):
        return f"alert {event.data['alertname']}"
    if event.type is E.severity_declared and event.data.get("severity"):
        return f"declared {event.data['severity']}"
    if event.type is E.action and event.data.get("kind"):
        return str(event.data["kind"])
    return label


def _window_note(samples: list[Event], key: str, scale: float) -> str:
    """``"each point: the last 30 s (30 runbook min)"`` from the sampler's record, else ``""``."""
    for event in samples:
        windows = event.data.get("windows_s")
        seconds = _number(windows.get(key)) if isinstance(windows, dict) else None
        if seconds:
            return f"each point: last {seconds:g} s ({seconds * scale / 60:g} runbook min)"
    return ""


def build_chart(events: list[Event], runbook: Runbook, title: str) -> Chart:
    """Draw the chart (not saved): metric panels, then the event lane."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clock = RunbookClock(events)
    samples = [e for e in events if e.type is E.metric_sample]
    marks = [e for e in events if e.type in MARKS][:MAX_MARKS]
    series = {
        "error rate (%)": ("error_rate", [(clock.minutes(e), 100 * v) for e in samples
                                          if (v := _number(e.data.get("error_rate"))) is not None]),
        "p95 latency (s)": ("p95_seconds", [(clock.minutes(e), v) for e in samples
                                            if (v := _number(e.data.get("p95_seconds"))) is not None]),
        "pool in use": ("pool_in_use", [(clock.minutes(e), _pool(e)) for e in samples if _pool(e) is not None]),
    }
    series = {k: v for k, v in series.items() if v[1]}
    thresholds = {
        "error rate (%)": 100 * runbook.verification.error_rate_below,
        "p95 latency (s)": runbook.verification.p95_below_seconds,
    }
    incidents = list(dict.fromkeys(e.incident for e in marks))
    xs_all = [clock.minutes(e) for e in marks] + [p[0] for _, pts in series.values() for p in pts]
    span = (max(xs_all) - min(xs_all)) if xs_all else 1.0
    xlim = ((min(xs_all) - 0.02 * (span or 1.0), max(xs_all) + 0.02 * (span or 1.0)) if xs_all else (0.0, 1.0))

    single = len(incidents) <= 1
    plot_px = WIDTH_IN * DPI * 0.85
    groups = _groups(marks, clock, xlim, numbered=False) if single else []
    rows = _rows_needed(groups, clock, xlim, plot_px) if single else 0
    numbered = single and rows > MAX_LABEL_ROWS
    if numbered:
        groups = _groups(marks, clock, xlim, numbered=True)
        rows = _rows_needed(groups, clock, xlim, plot_px)
    lane_in = max(1.2, ROW_IN * (rows + 1)) if single else max(1.6, 0.28 * min(len(incidents), MAX_LANES))
    key_in = KEY_LINE_IN * -(-len(groups) // KEY_COLUMNS) if numbered else 0.0
    ratios = [2.0] * len(series) + [lane_in] + ([key_in] if numbered else [])
    fig, all_axes = plt.subplots(
        len(ratios), 1, figsize=(WIDTH_IN, 1.9 * len(series) + lane_in + key_in + 0.9), squeeze=False,
        gridspec_kw={"height_ratios": ratios}, dpi=DPI,
    )
    all_axes = all_axes[:, 0]
    key_ax = all_axes[-1] if numbered else None
    axes = all_axes[:-1] if numbered else all_axes
    for ax in axes[:-1]:
        ax.sharex(axes[-1])
        ax.tick_params(labelbottom=False)
    for ax, (name, (key, points)) in zip(axes, series.items(), strict=False):
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, color="#2166ac", linewidth=1.8)
        ylabel = "pool in use (%)" if name == "pool in use" and _pool_unit(samples) == "%" else name
        ax.set_ylabel(ylabel, fontsize=10)
        note = _window_note(samples, key, clock.scale)
        if note:
            ax.text(0.005, 0.97, note, transform=ax.transAxes, va="top", ha="left", fontsize=8, color="#555555",
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
        if name in thresholds:
            ax.axhline(thresholds[name], color="#777777", linestyle="--", linewidth=1)
            ax.text(0.995, thresholds[name], "runbook limit ", va="bottom", ha="right", fontsize=8, color="#555555",
                    transform=ax.get_yaxis_transform())
        ax.grid(alpha=0.3)
        for event in marks:
            ax.axvline(clock.minutes(event), color=MARKS[event.type][1], alpha=0.5, linewidth=1)
    lane = axes[-1]
    lane.set_xlim(*xlim)
    if not series:
        title += " (no metric samples: events only)"
    _time_axis(axes[0], clock)
    lane.set_xlabel("runbook minutes since the journal started", fontsize=10)
    fig.suptitle(title, fontsize=12)
    chart = Chart(fig, numbered=numbered)
    if single:
        if key_ax is not None:
            chart.key = _event_key(key_ax, groups)
        renderer = fig.canvas.get_renderer()
        key_lines = -(-len(groups) // KEY_COLUMNS) if key_ax is not None else 0
        for _ in range(5):  # grow the figure until every label row and key line fits (the x scale does not change)
            fig.tight_layout()
            placed = _placements(lane, groups, clock)
            rows = max((row for row, _ in placed), default=0) + 1
            grow = [((rows + 0.8) * ROW_IN * DPI - lane.get_window_extent(renderer).height) * sum(ratios) / lane_in]
            if key_ax is not None:
                grow.append((key_lines * KEY_LINE_IN * DPI - key_ax.get_window_extent(renderer).height)
                            * sum(ratios) / key_in)
            if max(grow) <= 0.5:
                break
            width, height = fig.get_size_inches()
            fig.set_size_inches(width, height + max(grow) / DPI)
        if key_ax is not None:  # cut each key line to its column as finally laid out
            column_px = key_ax.get_window_extent(renderer).width / KEY_COLUMNS - 2 * LABEL_GAP_PX
            for text, group in zip(chart.key, groups, strict=True):
                text.set_text(_fit(group.key, column_px, KEY_FONT))
        chart.labels = _event_lane(lane, groups, clock, placed)
    else:
        _incident_lanes(lane, marks, incidents, clock)
        fig.tight_layout()
    return chart


def render_chart(events: list[Event], runbook: Runbook, out: Path, title: str) -> Path:
    import matplotlib.pyplot as plt

    chart = build_chart(events, runbook, title)
    out.parent.mkdir(parents=True, exist_ok=True)
    chart.figure.savefig(out, dpi=DPI)
    plt.close(chart.figure)
    return out


def _time_axis(ax: Axes, clock: RunbookClock) -> None:
    from matplotlib.ticker import FuncFormatter

    top = ax.secondary_xaxis("top")
    origin = clock.origin.astimezone(clock.zone)
    top.xaxis.set_major_formatter(FuncFormatter(lambda m, _: _clock_label(origin, m)))
    top.set_xlabel(f"runbook clock ({clock.zone_label})", fontsize=9)
    top.tick_params(labelsize=8)


def _number(value: object) -> float | None:
    """A finite number from a sample's field; anything else (a hand-edited journal) is a gap in the line."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _clock_label(origin: datetime, minutes: float) -> str:
    """Wall-clock tick label; a tick the calendar cannot hold (year 9999 + m) stays unlabelled."""
    try:
        return (origin + timedelta(minutes=minutes)).strftime("%H:%M")
    except (OverflowError, ValueError):
        return ""


def _pool(event: Event) -> float | None:
    used, size = _number(event.data.get("pool_in_use")), _number(event.data.get("pool_size"))
    if used is None:
        return None
    return 100.0 * used / size if size else used


def _pool_unit(samples: list[Event]) -> str:
    return "%" if any(e.data.get("pool_size") for e in samples) else ""


# -- the event lane -----------------------------------------------------------------------------------------


@dataclass
class _Group:
    """Marks drawn under one label: one event, or a burst of the same event (an alert flapping), or -- when
    the lane is too crowded for words -- everything within one slice of the time axis, under a number."""

    marks: list[Event]
    text: str = ""
    key: str = ""

    def x(self, clock: RunbookClock) -> float:
        return clock.minutes(self.marks[0])


def _groups(marks: list[Event], clock: RunbookClock, xlim: tuple[float, float], numbered: bool) -> list[_Group]:
    span = (xlim[1] - xlim[0]) or 1.0
    reach = span / (NUMBER_SLICES if numbered else BURST_SLICES)
    groups: list[_Group] = []
    for event in sorted(marks, key=lambda e: (clock.minutes(e), e.seq)):
        last = groups[-1] if groups else None
        if last is not None and clock.minutes(event) - last.x(clock) <= reach and (
                numbered or _label(event) == _label(last.marks[0])):
            last.marks.append(event)
        else:
            groups.append(_Group([event]))
    for number, group in enumerate(groups, start=1):
        counts = Counter(_label(e) for e in group.marks)
        words = ", ".join(f"{label} ×{n}" if n > 1 else label for label, n in counts.items())
        if numbered and len(counts) > 3:  # a crowded slice: say how many of what, not every name
            kinds = Counter(MARKS[e.type][0] for e in group.marks)
            words = ", ".join(f"{kind} ×{n}" if n > 1 else kind for kind, n in kinds.items())
        group.text = f" {number} " if numbered else f" {words} "
        group.key = f"{number}  {words}" if numbered else ""
    return groups


@lru_cache(maxsize=4096)
def _text_width_px(text: str, size: float = LABEL_FONT) -> float:
    """Width of a label as drawn (its font size plus its box padding), in pixels at DPI."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width_pt, _, _ = TextToPath().get_text_width_height_descent(text, FontProperties(size=size), ismath=False)
    return (width_pt + 2 * 0.5 + 2) * DPI / 72.0


def _pack(items: list[tuple[float, float]], right_edge: float) -> list[tuple[int, bool]]:
    """Greedy rows for ``(x_px, width_px)`` items in x order: (row, drawn to the left of x)."""
    row_ends: list[float] = []
    out = []
    for x, width in items:
        leftward = x + width > right_edge  # would run off the chart: draw it ending at x instead
        start, end = (x - width, x) if leftward else (x, x + width)
        for row, taken in enumerate(row_ends):
            if start >= taken + LABEL_GAP_PX:
                row_ends[row] = end
                break
        else:
            row, row_ends = len(row_ends), [*row_ends, end]
        out.append((row, leftward))
    return out


def _rows_needed(groups: list[_Group], clock: RunbookClock, xlim: tuple[float, float], width_px: float) -> int:
    """Rows the labels will need, estimated before the figure exists."""
    if not groups:
        return 1
    scale = width_px / ((xlim[1] - xlim[0]) or 1.0)
    placed = _pack([((g.x(clock) - xlim[0]) * scale, _text_width_px(g.text)) for g in groups], width_px)
    return max(row for row, _ in placed) + 1


def _placements(lane: Axes, groups: list[_Group], clock: RunbookClock) -> list[tuple[int, bool]]:
    """(row, drawn leftward) for every group, packed in the lane's current pixel geometry."""
    box = lane.get_window_extent(lane.figure.canvas.get_renderer())
    x0, x1 = lane.get_xlim()
    scale = box.width / ((x1 - x0) or 1.0)
    return _pack([((g.x(clock) - x0) * scale, _text_width_px(g.text)) for g in groups], box.width)


def _event_lane(lane: Axes, groups: list[_Group], clock: RunbookClock, placed: list[tuple[int, bool]]) -> list[Text]:
    """One incident: every marked event gets a line, every group a label in its packed row (row 0 on top)."""
    lane.set_yticks([])
    lane.set_ylabel("events", fontsize=10)
    rows = max((row for row, _ in placed), default=0) + 1
    lane.set_ylim(rows + 0.2, -0.6)
    drawn: list[Text] = []
    for group, (row, leftward) in zip(groups, placed, strict=True):
        colour = MARKS[group.marks[0].type][1]
        for event in group.marks:
            lane.axvline(clock.minutes(event), color=MARKS[event.type][1], alpha=0.6, linewidth=1)
        drawn.append(lane.text(group.x(clock), row, group.text, color=colour, fontsize=LABEL_FONT, va="center",
                               ha="right" if leftward else "left", clip_on=False,
                               bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 0.5}))
    return drawn


def _event_key(key_ax: Axes, groups: list[_Group]) -> list[Text]:
    """Numbered labels: the key under the lane says what each number stands for (cut to its column)."""
    key_ax.axis("off")
    per_column = -(-len(groups) // KEY_COLUMNS)
    column_px = WIDTH_IN * DPI * 0.92 / KEY_COLUMNS - LABEL_GAP_PX
    drawn = []
    for index, group in enumerate(groups):
        column, line = divmod(index, per_column)
        drawn.append(key_ax.text(column / KEY_COLUMNS, 1 - (line + 0.5) / per_column,
                                 _fit(group.key, column_px, KEY_FONT), fontsize=KEY_FONT, va="center", ha="left",
                                 color=MARKS[group.marks[0].type][1], transform=key_ax.transAxes))
    return drawn


def _fit(text: str, width_px: float, size: float) -> str:
    """``text`` cut with an ellipsis so that it is at most ``width_px`` wide."""
    if _text_width_px(text, size) <= width_px:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with its ellipsis
    while low < high:
        middle = (low + high + 1) // 2
        if _text_width_px(text[:middle] + "…", size) <= width_px:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip(", ") + "…"


def _incident_lanes(lane: Any, marks: list[Event], incidents: list[str], clock: RunbookClock) -> None:
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
