"""The unsafe rollback (forward-migration) and the data corruption on the test control plane: a real API server with
kwok as the kubelet, so no container runs and PostgreSQL is a stand-in here (the psql line the target runs in the
database's pod is tested against the image's own entrypoint in test_cluster_database.py; the whole drill on kind in
tests/kind/test_kind_drills.py).

What the API shows: each fault rolls the backend out to its release with the undo record on the Deployment; the
revert puts the template back, waits until no pod of the release is left, only then migrates the schema back or
repairs the data, and drops the record last; a revert cut short (PostgreSQL unreachable, a runner killed with
SIGKILL) leaves the record, and the next start finishes the revert from it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.k8s.database import ClusterDatabase
from drills.k8s.objects import INJECTION_ANNOTATION, default_world
from drills.k8s.rollout import wait_rolled_out
from drills.k8s.stack import backend_image
from drills.k8s.target import KubernetesTarget
from drills.recovery import recover
from gameday.errors import TargetError
from gameday.faults import FaultType
from gameday.releases import DOUBLE_BOOKING, HEALTHY, MIGRATING
from gameday.scenario import Fault

WORLD = default_world()
BACKEND, NAMESPACE = WORLD.backend_deployment, WORLD.namespace
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.k8s


class StandInDatabase:
    """What the reverts ask of PostgreSQL, each call recorded with the backend pods' (release, terminating) at that
    moment; ``failures``: how many calls fail first, as when PostgreSQL's pod is not running."""

    def __init__(self, target: KubernetesTarget, failures: int = 0) -> None:
        self.target = target
        self.failures = failures
        self.calls: list[tuple[str, set[tuple[str, bool]]]] = []

    def _call(self, name: str) -> None:
        if self.failures:
            self.failures -= 1
            raise TargetError(f"{name}: PostgreSQL's pod {NAMESPACE}/postgres-0 is Pending; nothing was changed")
        self.calls.append((name, {(p.version, p.state == "Terminating") for p in self.target.replicas()}))

    def schema(self) -> int:
        return 1

    def migrate_back(self) -> None:
        self._call("migrate back")

    def repair(self) -> int:
        self._call("repair")
        return 4

    def violations(self) -> int:
        return 0


def stand_in(target: KubernetesTarget, failures: int = 0) -> StandInDatabase:
    target.database = database = StandInDatabase(target, failures)
    return database


@pytest.fixture
def target(erp_stack: Any) -> Iterator[KubernetesTarget]:
    t = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig, kubectl=erp_stack.bin("kubectl"))
    stand_in(t)
    t.wait_ready(120)
    yield t
    stand_in(t)  # a test's failing stand-in must not keep a fault in the cluster for the next one
    for record in t.pending_injections():
        t.revert(record)
    t.wait_ready(120)
    t.close()


def backend(target: KubernetesTarget) -> dict[str, Any]:
    return target.api_client.sanitize_for_serialization(target.apps.read_namespaced_deployment(BACKEND, NAMESPACE))


def record_on(dep: dict[str, Any]) -> dict[str, Any] | None:
    raw = (dep["metadata"].get("annotations") or {}).get(INJECTION_ANNOTATION)
    return json.loads(raw) if raw else None


def only_healthy_running() -> set[tuple[str, bool]]:
    """Every backend pod on the healthy release, none on its way out."""
    return {(HEALTHY.version, False)}


def test_forward_migration_migrates_back_only_once_no_pod_of_the_release_is_left(target: KubernetesTarget) -> None:
    database = stand_in(target)
    before = backend(target)
    record = target.inject(Fault(type=FaultType.forward_migration), drill_id="d-test")
    dep = backend(target)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == backend_image(MIGRATING)
    recorded = record_on(dep)
    assert recorded is not None and recorded["id"] == record.id
    assert recorded["revert_state"]["template"] == before["spec"]["template"]
    assert recorded["revert_state"]["schema"] == HEALTHY.schema == 1  # what the release before needs
    assert wait_rolled_out(target, MIGRATING.version, 120), f"never rolled out: {target.replicas()}"

    target.revert(record)
    assert database.calls == [("migrate back", only_healthy_running())]  # after the rollback, none of v1.3.0 left
    after = backend(target)
    assert after["spec"]["template"] == before["spec"]["template"] and record_on(after) is None
    assert target.pending_injections() == []
    target.revert(record)  # safe twice, and the schema is not touched again
    assert len(database.calls) == 1


def test_data_corruption_ends_maintenance_and_repairs_only_after_the_rollback(target: KubernetesTarget) -> None:
    database = stand_in(target)
    before, knobs_before = backend(target), target.knobs()
    assert "maintenance" not in knobs_before
    record = target.inject(Fault(type=FaultType.data_corruption), drill_id="d-test")
    dep = backend(target)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == backend_image(DOUBLE_BOOKING)
    assert record_on(dep)["revert_state"]["knobs"] == {}  # type: ignore[index]  # maintenance was at its default
    target.remediate("maintenance-on")  # the team took the system offline; the drill ends before they restore it
    assert target.knobs()["maintenance"] is True

    target.revert(record)
    assert target.knobs() == knobs_before  # maintenance mode as before the fault
    assert database.calls == [("repair", only_healthy_running())]  # no pod of v1.2.5 left to write again
    after = backend(target)
    assert after["spec"]["template"] == before["spec"]["template"] and record_on(after) is None
    assert target.pending_injections() == []


def test_a_revert_cut_short_keeps_the_record_and_the_next_start_finishes_it(
    erp_stack: Any, target: KubernetesTarget
) -> None:
    stand_in(target, failures=1)  # PostgreSQL's pod not running when the drill ends
    before = backend(target)
    record = target.inject(Fault(type=FaultType.forward_migration), drill_id="d-test")
    with pytest.raises(TargetError, match="postgres-0 is Pending"):
        target.revert(record)
    dep = backend(target)
    assert dep["spec"]["template"] == before["spec"]["template"]  # the release before is back ...
    assert record_on(dep)["id"] == record.id  # type: ignore[index]  # ... and the schema still to do: kept
    assert [r.id for r in target.pending_injections()] == [record.id]

    fresh = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig)  # the next gameday start
    database = stand_in(fresh)
    (pending,) = fresh.pending_injections()
    fresh.revert(pending)
    assert database.calls == [("migrate back", only_healthy_running())]
    assert record_on(backend(fresh)) is None and fresh.pending_injections() == []
    fresh.close()


RUNNER = """
import sys, time
from drills.k8s.target import KubernetesTarget
from gameday.scenario import Fault
t = KubernetesTarget("kind-gameday-test", kubeconfig=sys.argv[1])
record = t.inject(Fault(type=sys.argv[2]), drill_id="d-crash")
t.set_knobs("the team took the system offline", maintenance=True)
print(record.id, flush=True)
time.sleep(600)
"""


def test_a_sigkilled_drill_in_maintenance_mode_is_put_back_by_recovery(
    erp_stack: Any, target: KubernetesTarget
) -> None:
    before, knobs_before = backend(target), target.knobs()
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(erp_stack.kubeconfig), "data-corruption"],
                              stdout=subprocess.PIPE, text=True, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    try:
        assert runner.stdout is not None
        record_id = runner.stdout.readline().strip()
        assert record_id, "the runner did not inject"
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
    assert target.knobs()["maintenance"] is True

    fresh = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig)
    database = stand_in(fresh)
    reverted = recover(fresh, announce=False)
    assert [(r["record"], r["ok"]) for r in reverted] == [(record_id, True)]
    assert database.calls == [("repair", only_healthy_running())]
    assert fresh.knobs() == knobs_before
    after = backend(fresh)
    assert after["spec"]["template"] == before["spec"]["template"] and record_on(after) is None
    fresh.close()


def test_a_dry_run_prints_the_sql_and_sends_nothing(erp_stack: Any) -> None:
    printed: list[str] = []
    dry = KubernetesTarget("kind-gameday-test", kubeconfig=erp_stack.kubeconfig, dry_run=True, printer=printed.append)
    dry.database.migrate_back()
    dry.database.repair()
    assert len(printed) == 2 and all(f"kind-gameday-test/{NAMESPACE}: exec postgres-0 psql" in p for p in printed)
    assert "RENAME COLUMN unit TO ward" in printed[0] and "DELETE FROM appointments" in printed[1]
    dry.close()


def test_the_target_s_own_database_refused_keeps_the_record(target: KubernetesTarget) -> None:
    """The real psql through ``pods/exec``, on kwok, whose pods run no container: the API's refusal comes back at
    once as one line naming the pod, and the revert keeps the record rather than drop a schema it could not migrate
    back."""
    target.database = ClusterDatabase(target)
    record = target.inject(Fault(type=FaultType.forward_migration), drill_id="d-test")
    with pytest.raises(TargetError) as caught:
        target.revert(record)
    said = str(caught.value)
    assert said.startswith(f"migrate the schema back to 1: psql in {NAMESPACE}/postgres-0 failed: "), said
    assert "\n" not in said
    assert record_on(backend(target))["id"] == record.id  # type: ignore[index]
