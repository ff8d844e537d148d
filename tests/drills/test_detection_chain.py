"""The detection chain in runbook time and its wall-clock form at a drill's time scale (pure logic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.detection import MIN_INTERVAL_S, DetectionChain, duration

REPO = Path(__file__).resolve().parents[2]


def test_the_chain_is_the_simulators_baseline_policy() -> None:
    chain = DetectionChain.from_policy(REPO / "scenarios" / "policies" / "baseline.yaml")
    assert chain == DetectionChain(scrape_interval_s=15, evaluation_interval_s=15, rule_window_s=60,
                                   alert_for_s=120, group_wait_s=30)  # fmt: skip


@pytest.mark.parametrize("scale", [1, 10, 30])
def test_without_floors_every_setting_is_its_runbook_duration_over_the_scale(scale: float) -> None:
    chain = DetectionChain()
    wall = chain.at(scale)
    assert wall.floored == []
    for name in ("scrape_interval_s", "evaluation_interval_s", "rule_window_s", "alert_for_s", "group_wait_s"):
        assert getattr(wall, name) * scale == pytest.approx(getattr(chain, name)), name


def test_floors_hold_intervals_at_what_the_tools_can_do_and_say_so() -> None:
    wall = DetectionChain().at(600)
    assert wall.scrape_interval_s == wall.evaluation_interval_s == wall.group_wait_s == MIN_INTERVAL_S
    assert wall.rule_window_s == 4 * MIN_INTERVAL_S  # a rate() window keeps four scrapes
    assert wall.alert_for_s == pytest.approx(0.2)  # `for` has no floor: Prometheus evaluates it as it can
    assert set(wall.floored) >= {"scrape_interval", "evaluation_interval", "rule_window", "group_wait"}
    zero = DetectionChain(scrape_interval_s=0, group_wait_s=0).at(10)  # a policy may say "instant"
    assert zero.scrape_interval_s == zero.group_wait_s == MIN_INTERVAL_S


def test_durations_in_prometheus_syntax() -> None:
    assert [duration(s) for s in (0.5, 1.5, 2.0, 12.0, 0.0)] == ["500ms", "1500ms", "2s", "12s", "0s"]
