"""Shared machinery of the chaos tests on the local sandbox: short drill scenarios, starting a real
``gameday drill run`` subprocess, watching its journal, and the checks that say "nothing was left behind".

Everything is black-box: the drill runs as a user would start it, and the checks ask the sandbox itself
(injection records, the deployment, every replica's own ``/metrics``, supervisord, the knob file, the
process table) rather than trusting what the runner says about itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from gameday_testkit import replica_metric, require

REPO = Path(__file__).resolve().parents[2]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
#: Port offsets for the chaos sandbox: clear of a developer's sandbox (0), the shared test sandbox (5000+)
#: and the end-to-end drill tests' (7000, 9000, ...); the next one is used when a port is taken.
PORT_OFFSETS = [int(o) for o in os.environ.get("GAMEDAY_CHAOS_PORT_OFFSETS", "2500,4500,6500,8500").split(",")]
#: Deadlines (wall seconds), overridable for slow machines; every wait below names the one it used.
UP_TIMEOUT_S = float(os.environ.get("GAMEDAY_CHAOS_UP_TIMEOUT", "240"))
WAIT_S = float(os.environ.get("GAMEDAY_CHAOS_WAIT", "180"))
SETTLE_S = float(os.environ.get("GAMEDAY_CHAOS_SETTLE", "90"))
FIGURES_ENV = "GAMEDAY_CHAOS_FIGURES"
#: Backend replicas of the chaos sandbox: two keep every rollout a rollout (one pod replaced while the
#: other serves) at two thirds of the time three take.
REPLICAS = int(os.environ.get("GAMEDAY_CHAOS_REPLICAS", "2"))
ROLLOUT_FAULTS = ("connection-pool-leak", "crashloop")
FAULTS = ("connection-pool-leak", "crashloop", "pgbouncer-down", "slow-queries", "error-burst")


def record_figures(**figures: Any) -> None:
    """One JSON line for ``benchmarks/bench_chaos.py`` (when it asked for figures)."""
    target = os.environ.get(FIGURES_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(figures, default=str) + "\n")


#: A steady-state probe that never holds: the drill is certainly still waiting for steady state when a test
#: interrupts that wait (the shipped probes can hold at the first look when a previous test's traffic is
#: still in their window).
NEVER_STEADY = {"name": "never steady (test)", "promql": "vector(0)", "op": ">", "threshold": 1}


def short_scenario(fault: str, folder: Path, never_steady: bool = False) -> Path:
    """The shipped scenario for ``fault``, made quick to reach: a short blind delay, light load and 10 s
    windows in the steady-state probes (so a previous drill's errors leave the window sooner)."""
    spec = yaml.safe_load((REPO / "scenarios" / f"{fault}.yaml").read_text(encoding="utf-8"))
    spec["blind_delay_seconds"] = [0.5, 1.5]
    spec["load"] = {"shape": "steady", "users": 8, "spawn_rate": 8}
    for probe in spec.get("steady_state", []):
        probe["promql"] = probe["promql"].replace("[30s]", "[10s]")
    if never_steady:
        spec["steady_state"] = [*spec.get("steady_state", []), NEVER_STEADY]
    spec["abort_when"] = []
    path = folder / f"chaos-{fault}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Sandbox:
    """A running sandbox of the test's own (state dir, ports) and the environment that reaches it."""

    env: dict[str, str]
    home: Path
    offset: int

    @property
    def target(self) -> Any:
        from drills.sandbox.config import Ports, SandboxConfig
        from drills.targets.local import LocalTarget

        return LocalTarget(SandboxConfig(state_dir=Path(self.env["GAMEDAY_STATE_DIR"]),
                                         ports=Ports().shifted(self.offset)))  # fmt: skip

    def gameday(self, *args: str, timeout: float = WAIT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run([GAMEDAY, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def pending(self) -> list[Any]:
        return self.target.pending_injections()

    def markers(self) -> list[dict[str, Any]]:
        """Active-drill markers wherever this version keeps them (one file, or one per target)."""
        state = Path(self.env["GAMEDAY_STATE_DIR"])
        paths = [self.home / "active-drill.json", *sorted((state / "drills" / "active").glob("*.json"))]
        found = []
        for path in paths:
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return found


def sandbox_up(state: Path) -> Sandbox:
    missing = [tool for tool in ("pgbouncer", "prometheus", "prometheus-alertmanager") if not shutil.which(tool)]
    require(not missing, f"sandbox services not installed: {', '.join(missing)} (make system-deps)")
    done = None
    for offset in PORT_OFFSETS:
        env = {**os.environ, "GAMEDAY_STATE_DIR": str(state), "GAMEDAY_SANDBOX_PORT_OFFSET": str(offset),
               "GAMEDAY_ACTOR": "chaos", "GAMEDAY_STEADY_TIMEOUT": str(WAIT_S)}
        env.pop("GAMEDAY_NO_RECOVERY", None)
        env.pop("GAMEDAY_KUBE_CONTEXT", None)
        done = subprocess.run([GAMEDAY, "sandbox", "up", "--replicas", str(REPLICAS)], env=env, capture_output=True,
                              text=True, timeout=UP_TIMEOUT_S)  # fmt: skip
        if "ports already in use" not in done.stderr:
            break
    assert done is not None and done.returncode == 0, f"the chaos sandbox did not come up: {done and done.stderr}"
    return Sandbox(env=env, home=state / "sandbox", offset=offset)


def deployment_cause(box: Sandbox) -> str:
    """Why the backend's current revision exists: ``fault ...`` or ``revert ...`` while a fault's rollout or
    its revert runs (``deployment.json`` is written before the pods are replaced)."""
    try:
        return json.loads((box.home / "deployment.json").read_text())["history"][-1]["cause"]
    except (OSError, ValueError, KeyError, IndexError):
        return ""


# -- a drill under test ---------------------------------------------------------------------------------


@dataclass
class Drill:
    proc: subprocess.Popen[str]
    out: Path
    started: float = field(default_factory=time.monotonic)
    log: Path | None = None

    @property
    def journal(self) -> Path | None:
        found = list(self.out.glob("*/journal.jsonl"))
        return found[0] if found else None

    def events(self) -> list[dict[str, Any]]:
        """Complete lines so far (a line being written is left for the next look)."""
        path = self.journal
        if path is None:
            return []
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for line in raw[: raw.rfind(b"\n") + 1].splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def has(self, kind: str, key: str | None = None) -> bool:
        return any(e["type"] == kind and (key is None or key in e.get("data", {})) for e in self.events())

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log else ""

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = WAIT_S, period: float = 0.02) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise AssertionError(f"the drill exited ({code}) before {what}:\n{self.output()[-3000:]}")
            time.sleep(period)
        raise AssertionError(f"{what} did not happen within {timeout:g} s (GAMEDAY_CHAOS_WAIT)")


def start_drill(box: Sandbox, scenario: Path, out: Path, *extra: str, seed: int = 0,
                env: dict[str, str] | None = None, log: Path | None = None) -> Drill:
    """``gameday drill run`` as a user starts it (``env``: more environment, e.g. a shorter deadline; ``log``:
    where its terminal output goes, default next to ``out``)."""
    out.mkdir(parents=True, exist_ok=True)
    log = log or out.parent / f"{out.name}.log"
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(
            [GAMEDAY, "drill", "run", str(scenario), "--target", "local", "--out", str(out), "--responder", "human",
             "--time-scale", "120", "--seed", str(seed), *extra],
            env={**box.env, **(env or {})}, stdout=fh, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    drill = Drill(proc=proc, out=out, log=log)
    _STARTED.append(drill)
    return drill


#: Drills started by the running test; ``end_leftover_drills`` ends those a failed test left running.
_STARTED: list[Drill] = []


def end_leftover_drills() -> list[str]:
    """End every drill the test left running (it failed before it ended it): SIGTERM, so the runner reverts its
    fault as on any interruption, then SIGKILL after ``WAIT_S`` (the next drill's start-up recovery reverts
    then).  Without this, one failed test's drill holds the target and every later test is refused with
    "already running".  Returns the logs' names of the drills it had to end."""
    ended = []
    while _STARTED:
        drill = _STARTED.pop()
        if drill.proc.poll() is not None:
            continue
        ended.append(drill.log.name if drill.log else str(drill.out))
        drill.proc.send_signal(signal.SIGTERM)
        try:
            drill.proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            drill.proc.kill()
            drill.proc.wait(30)
    return ended


# -- "nothing left behind" ---------------------------------------------------------------------------------


def strict_journal(path: Path) -> list[dict[str, Any]]:
    """Every line parses and ``seq`` is 0, 1, 2, ...: returns the events (fails the test otherwise)."""
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), f"{path} ends in the middle of a line"
    events = []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            events.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{path}: line {number} is torn: {line[:160]!r}")
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(len(events))), f"{path}: seq has gaps or repeats: {seqs}"
    return events


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            status = (entry / "stat").read_text().rsplit(") ", 1)[1][:1]
        except (OSError, IndexError):
            continue
        if text.encode() in cmdline and status != "Z":
            found.append(int(entry.name))
    return found


def steady_problems(box: Sandbox) -> list[str]:
    """What keeps the sandbox from its steady state now ([] = steady): v1.2.2 everywhere, PgBouncer up,
    knobs at their defaults, no connection leaked or waiting, no fault recorded as injected."""
    from drills.sandbox.config import HEALTHY_VERSION
    from drills.service.knobs import Knobs

    target = box.target
    problems = []
    pending = target.pending_injections()
    if pending:
        problems.append(f"faults still recorded as injected: {[r.fault.value for r in pending]}")
    dep = target.sandbox.deployment()
    if dep.version != HEALTHY_VERSION:
        problems.append(f"deployment runs {dep.version}")
    for replica in target.replicas():
        if replica.version != HEALTHY_VERSION or replica.state != "Running" or not replica.ready:
            problems.append(f"{replica.name} is {replica.state} ready={replica.ready} on {replica.version}")
    states = target.sandbox.supervisor.states()
    for service in ("pgbouncer", "postgres", "prometheus", "alertmanager", "service", "upstream", "exporter"):
        if states.get(service, {}).get("statename") != "RUNNING":
            problems.append(f"{service} is {states.get(service, {}).get('statename')}")
    knobs_path = target.sandbox.layout.knobs
    knobs = json.loads(knobs_path.read_text()) if knobs_path.exists() else {}
    defaults = Knobs().model_dump()
    changed = {k: v for k, v in Knobs.model_validate(knobs).model_dump().items() if defaults[k] != v}
    if changed:
        problems.append(f"knobs not at their defaults: {changed}")
    problems += _data_problems(target)
    base = target.config.ports.backend_base
    for i in range(dep.replicas):
        leaked = replica_metric(base + i, "db_pool_leaked_connections")
        in_use = replica_metric(base + i, "db_pool_connections_in_use")
        if leaked is None or leaked > 0 or in_use is None or in_use > 0:
            problems.append(f"backend-{i}: leaked={leaked} in_use={in_use}")
    return problems


def _data_problems(target: Any) -> list[str]:
    """The database as the healthy release needs it: schema 1 (``patients.ward``; a forward migration's revert
    puts it back) and no appointment booked twice (a double-booking release's revert repairs it)."""
    import psycopg

    from drills.exporters.database import INTEGRITY_SQL
    from drills.sandbox.configs import database_url

    try:
        with psycopg.connect(database_url(target.config, direct=True), connect_timeout=2, autocommit=True) as conn:
            ward = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'patients'"
                                " AND column_name = 'ward'").fetchone()
            doubled = conn.execute(INTEGRITY_SQL).fetchone()
    except psycopg.Error as exc:
        return [f"the database does not answer: {str(exc).strip()[:120]}"]
    problems = [] if ward else ["patients.ward is missing: the schema was left migrated forward"]
    if doubled and doubled[0]:
        problems.append(f"{doubled[0]} appointment(s) booked twice were left in the database")
    return problems


def wait_steady(box: Sandbox, timeout: float = SETTLE_S) -> None:
    """Pods that were just replaced need a moment to be ready; anything else is a fault left behind."""
    deadline = time.monotonic() + timeout
    problems = steady_problems(box)
    while problems and time.monotonic() < deadline:
        time.sleep(1.0)
        problems = steady_problems(box)
    assert not problems, f"not back to steady state after {timeout:g} s (GAMEDAY_CHAOS_SETTLE): {problems}"
