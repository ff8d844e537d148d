"""A blip during the stability watch (a pod briefly unready on a busy machine) sends the autopilot back to
investigation; once the checks pass again it verifies anew and closes, even with no remediation left to try
(a second rollback would roll forward to the bad release).  Before, it investigated until the drill timed out.

Pure logic, as in test_autopilot_errors.py: small stand-ins for the target and the view, the real runbook,
policy, scenario and journal on a fast clock.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from drills.autopilot import Autopilot
from gameday.files import load_model
from gameday.journal import EventType, JournalWriter, read_journal
from gameday.remediations import Remediation
from gameday.runbook import load_runbook
from gameday.scenario import Scenario
from sim.responder import ResponderModel

ROOT = Path(__file__).resolve().parents[2]


class RollbackTarget:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def remediate(self, action: str, **params: Any) -> str:
        self.calls.append(action)
        return "done"


class BlipDuringTheFirstWatch:
    """Broken until the rollback; then healthy, except (with ``blip``) from the first stability watch until
    the autopilot has said it is not stable, as a pod that goes unready for a moment would be."""

    def __init__(self, target: RollbackTarget, journal: Path, blip: bool) -> None:
        self.target, self.journal, self.blip = target, journal, blip

    def firing(self) -> list[str]:
        return [] if self.target.calls else ["BackendCrashLooping"]

    def blind(self) -> bool:
        return False

    def health(self, since: datetime | None = None) -> tuple[bool, dict[str, Any]]:
        if not self.target.calls:
            return False, {"error_rate": 1.0, "replicas_ready": False}
        notes = [e.data.get("text", "") for e in read_journal(self.journal) if e.type is EventType.note]
        watching = any(n.startswith("stability watch") for n in notes)
        ok = not (self.blip and watching and "not stable; back to investigation" not in notes)
        return ok, {"error_rate": 0.0, "replicas_ready": ok}


class BackAfterTheFirstWatch(BlipDuringTheFirstWatch):
    """The fault comes back for good once the first stability watch starts; only a second fix ends it."""

    def health(self, since: datetime | None = None) -> tuple[bool, dict[str, Any]]:
        notes = [e.data.get("text", "") for e in read_journal(self.journal) if e.type is EventType.note]
        ok = len(self.target.calls) >= 2 or (bool(self.target.calls) and "stability watch: 30 min" not in notes)
        return ok, {"error_rate": 0.0 if ok else 1.0, "replicas_ready": ok}


class BlindDuringTheWatch(BlipDuringTheFirstWatch):
    """Fixed by the rollback, but Prometheus stops answering for the watch's first two looks: unhealthy then, as
    :class:`DrillView` reads a sample without values (CI at 529e601: a 36 s outage on a loaded machine)."""

    looks = 0

    def blind(self) -> bool:
        notes = [e.data.get("text", "") for e in read_journal(self.journal) if e.type is EventType.note]
        if not any(n.startswith("stability watch") for n in notes):
            return False
        self.looks += 1
        return self.looks <= 2

    def health(self, since: datetime | None = None) -> tuple[bool, dict[str, Any]]:
        if not self.target.calls or (0 < self.looks <= 2):
            return False, {"error_rate": None, "replicas_ready": bool(self.target.calls)}
        return True, {"error_rate": 0.0, "replicas_ready": True}


def run(tmp_path: Path, blip: bool, scenario_name: str = "crashloop",
        view: type[BlipDuringTheFirstWatch] = BlipDuringTheFirstWatch,
        time_scale: float = 600_000.0) -> tuple[Autopilot, RollbackTarget, list[Any]]:
    scenario = load_model(ROOT / "scenarios" / f"{scenario_name}.yaml", Scenario)
    model = ResponderModel.from_files(ROOT / "scenarios" / "policies" / "baseline.yaml")
    journal = JournalWriter(tmp_path / "journal.jsonl", "d1")
    target = RollbackTarget()
    autopilot = Autopilot(runbook=load_runbook(), scenario=scenario, model=model,
                          target=target, journal=journal,  # type: ignore[arg-type]
                          view=view(target, journal.path, blip),  # type: ignore[arg-type]
                          time_scale=time_scale, rng=np.random.default_rng(7))  # fmt: skip
    autopilot.start()
    autopilot._thread.join(60)
    finished = not autopilot._thread.is_alive()
    autopilot.stop()
    journal.close()
    assert finished, "the autopilot never closed the incident"
    return autopilot, target, read_journal(journal.path)


def test_a_blip_during_the_stability_watch_is_verified_anew_and_closed(tmp_path: Path) -> None:
    autopilot, target, events = run(tmp_path, blip=True)
    types = [e.type for e in events]
    notes = [e.data.get("text") for e in events if e.type is EventType.note]
    assert "not stable; back to investigation" in notes
    assert types.count(EventType.verified) == 2
    assert autopilot.resolved and autopilot.error is None
    assert types.index(EventType.closed) > len(types) - 1 - types[::-1].index(EventType.verified)
    assert target.calls == [Remediation.rollback]  # never a second undo (that would roll forward to the bad release)


def test_without_a_blip_it_verifies_once(tmp_path: Path) -> None:
    autopilot, target, events = run(tmp_path, blip=False)
    assert [e.type for e in events].count(EventType.verified) == 1
    assert autopilot.resolved and target.calls == [Remediation.rollback]


def test_a_blip_after_a_restart_is_not_restarted_again(tmp_path: Path) -> None:
    """CI at 1ac43bb, kind, x120: each restart of a running PgBouncer dropped the pooled connections, the blip
    failed the next watch, and the autopilot restarted it again, until the drill timed out."""
    autopilot, target, events = run(tmp_path, blip=True, scenario_name="pgbouncer-down")
    notes = [e.data.get("text") for e in events if e.type is EventType.note]
    assert "not stable; back to investigation" in notes
    assert "healthy again without a new fix: verify anew" in notes
    assert [e.type for e in events].count(EventType.verified) == 2
    assert autopilot.resolved and target.calls == [Remediation.restart_pgbouncer]


def test_a_fault_that_stays_back_gets_the_fix_again(tmp_path: Path) -> None:
    # a slower clock: the autopilot gives the service 10 wall seconds to come back by itself first
    autopilot, target, events = run(tmp_path, blip=False, scenario_name="pgbouncer-down", view=BackAfterTheFirstWatch,
                                    time_scale=3_000.0)
    assert autopilot.resolved
    assert target.calls == [Remediation.restart_pgbouncer, Remediation.restart_pgbouncer]
    assert "healthy again without a new fix: verify anew" not in [e.data.get("text") for e in events]


def test_a_prometheus_outage_pauses_the_stability_watch(tmp_path: Path) -> None:
    """No reading is not a failed check: the watch waits for Prometheus, then watches its whole period."""
    autopilot, target, events = run(tmp_path, blip=False, view=BlindDuringTheWatch)
    notes = [e.data.get("text", "") for e in events if e.type is EventType.note]
    assert "Prometheus does not answer: the stability watch waits" in notes
    assert "not stable; back to investigation" not in notes
    again_note = r"watching again after ([\d.]+) unseen min; ([\d.]+) min to go"
    [again] = [m for n in notes if (m := re.fullmatch(again_note, n))]
    unseen, left = float(again[1]), float(again[2])
    assert unseen > 0 and left == 30.0  # the runbook's whole period is still to watch
    assert [e.type for e in events].count(EventType.verified) == 1
    assert autopilot.resolved and target.calls == [Remediation.rollback]
