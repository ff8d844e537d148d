"""timeline.png: event labels never overlap, whatever the journal (boxes measured on the drawn figure)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import pytest

from gameday.journal import Event, EventType, JournalWriter, read_journal
from gameday.report.chart import DPI, WIDTH_IN, build_chart, render_chart
from gameday.runbook import load_runbook

E = EventType
FIXTURES = Path(__file__).resolve().parents[1] / "scoring" / "fixtures"
ALERTS = ["HighErrorRate", "HighLatencyP95", "PgBouncerPoolSaturated", "BackendCrashLooping", "BackendDown"]


def _journal(path: Path, alerts: int, spread_minutes: float, samples: bool = True) -> list[Event]:
    """A drill with ``alerts`` alerts (five names, flapping) within ``spread_minutes`` and the response
    squeezed in between: the close events that made labels run into each other."""
    journal = JournalWriter(path, "drill-dense", durable=False, start=datetime(2026, 3, 2, 9, tzinfo=UTC))
    journal.emit(E.journal_started, "gameday", {"source": "drill", "time_scale": 60.0}, t=0)
    journal.emit(E.fault_injected, "runner", {"fault": "connection-pool-leak"}, t=1)
    for k in range(alerts):
        journal.emit(E.alert_firing, "alertmanager", {"alertname": ALERTS[k % 5]}, t=3 + spread_minutes * k / alerts)
    for t, kind, data in ((3.1, E.acknowledged, {}), (3.2, E.severity_declared, {"severity": "SEV-1"}),
                          (3.3, E.hypothesis, {"text": "leak"}), (3.4, E.action, {"kind": "rollback"}),
                          (3.5, E.mitigated, {}), (3.6, E.verified, {}), (33.6, E.resolved, {}),
                          (33.7, E.closed, {}), (33.8, E.fault_reverted, {})):
        journal.emit(kind, "alice", data, t=t)
    if samples:
        for minute in range(36):
            journal.emit(E.metric_sample, "prometheus", {"error_rate": 0.5 if 3 < minute < 4 else 0.0,
                                                         "p95_seconds": 0.3, "windows_s": {"p95_seconds": 30.0,
                                                                                           "error_rate": 10.0}},
                         t=minute + 0.5)
    journal.close()
    return read_journal(path)


def _boxes(texts):  # type: ignore[no-untyped-def]
    renderer = texts[0].figure.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts]


def _assert_apart(texts) -> None:  # type: ignore[no-untyped-def]
    boxes = _boxes(texts)
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        assert not box_a.overlaps(box_b), f"labels {a!r} and {b!r} overlap: {box_a} / {box_b}"


@pytest.mark.parametrize(("alerts", "spread"), [(5, 0.3), (12, 1.0), (40, 2.0), (300, 20.0)])
def test_event_labels_never_overlap(tmp_path: Path, alerts: int, spread: float) -> None:
    events = _journal(tmp_path / "j.jsonl", alerts, spread)
    chart = build_chart(events, load_runbook(), "dense")
    chart.figure.canvas.draw()
    assert chart.labels
    _assert_apart(chart.labels)
    _assert_apart(chart.key) if chart.key else None
    width, height = chart.figure.get_size_inches() * DPI
    renderer = chart.figure.canvas.get_renderer()
    for text in [*chart.labels, *chart.key]:  # every label is inside the image
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height, text.get_text()
    # every marked event is accounted for: in a label ("alert HighErrorRate ×3") or in a number's key line
    shown = " ".join(t.get_text() for t in [*chart.labels, *chart.key])
    for name in ALERTS[: min(alerts, 5)]:
        assert name in shown or "alert ×" in shown


def test_few_events_are_labelled_in_words(tmp_path: Path) -> None:
    chart = build_chart(_journal(tmp_path / "j.jsonl", 5, 0.3), load_runbook(), "few")  # 14 events in ~1 min
    chart.figure.canvas.draw()
    assert not chart.numbered
    words = [t.get_text().strip() for t in chart.labels]
    assert "declared SEV-1" in words and "rollback" in words and "alert PgBouncerPoolSaturated" in words


def test_crowded_lanes_get_numbers_and_a_key(tmp_path: Path) -> None:
    chart = build_chart(_journal(tmp_path / "j.jsonl", 300, 20.0), load_runbook(), "crowded")
    assert chart.numbered and chart.key
    assert [t.get_text().strip() for t in chart.labels] == [str(i + 1) for i in range(len(chart.labels))]
    assert chart.key[0].get_text().startswith("1  fault")


def test_each_panel_says_what_window_its_points_cover(tmp_path: Path) -> None:
    chart = build_chart(_journal(tmp_path / "j.jsonl", 5, 0.3), load_runbook(), "windows")
    notes = [t.get_text() for ax in chart.figure.axes for t in ax.texts]
    assert "each point: last 30 s (30 runbook min)" in notes  # p95: 30 wall s at time scale 60
    assert "each point: last 10 s (10 runbook min)" in notes  # error rate


def test_fixture_chart_size(tmp_path: Path, mojibake_runbook_path: Path) -> None:
    png = render_chart(read_journal(FIXTURES / "verified-early.jsonl"), load_runbook(mojibake_runbook_path),
                       tmp_path / "timeline.png", "fixture")
    from PIL import Image

    with Image.open(png) as image:
        assert image.size[0] == round(WIDTH_IN * DPI)  # three panels and the lane on an 11-inch page
        assert image.size[1] > 3 * 1.9 * DPI
