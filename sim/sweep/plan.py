"""A validated sweep turned into points and tasks, before anything runs.

Every point is a policy derived from the base (never a mutated one) and compiled against the runbook
here, so a value the policy schema or the runbook refuses stops the sweep before the first task.  The
work is cut into (point, replication, chunk) tasks whose layout depends only on the sweep (incidents,
replications, ``chunk_incidents``), never on how many workers run it: that is what makes a local run and
a Dask run of the same seed identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gameday.errors import InputError
from gameday.runbook import Runbook, load_runbook
from sim.model import compile_model
from sim.policy import Policy
from sim.runner import choose_engine, split
from sim.sweep.metrics import Constraint, parse_constraint, parse_metric
from sim.sweep.paths import derive, describe_value, locate

if TYPE_CHECKING:  # the file's validation builds the plan (sim.sweep.spec imports this module, not back)
    from sim.sweep.spec import Knob, Sweep


@dataclass
class Point:
    """One policy of the sweep: the base (index 0) or the base with ``changes``."""

    index: int
    changes: dict[str, Any]
    policy: Policy

    @property
    def label(self) -> str:
        if not self.changes:
            return "base"
        return ", ".join(f"{path}={describe_value(value)}" for path, value in self.changes.items())


@dataclass(frozen=True)
class Task:
    """One independent run: a chunk of one replication of one point's policy."""

    point: int
    policy: Policy
    runbook: Runbook
    rows: tuple[str, ...]
    seed: int
    replication: int
    chunk: int
    incidents: int
    engine: str


@dataclass
class SweepPlan:
    sweep: Sweep
    base: Policy
    runbook: Runbook
    rows: list[str]  # table rows: every runbook severity (points may differ in which occur)
    levels: list[int]  # ladder levels above the on-call (escalations_L<n>)
    objective: tuple[str, str]  # (metric column, row)
    constraints: list[Constraint]
    engine: str
    points: list[Point] = field(default_factory=list)  # the base first, then the grid (search: added as run)

    def point(self, index: int, changes: dict[str, Any]) -> Point:
        """Derive and compile a point's policy (InputError naming the path if refused)."""
        name = self.base.name if not changes else f"{self.base.name}-{index:03d}"[:63]
        policy = derive(self.base, changes, name=name) if changes else self.base
        if changes:
            _checked(policy, changes, self.runbook)
        compile_model(policy, self.runbook)
        return Point(index=index, changes=dict(changes), policy=policy)

    def runs(self) -> list[tuple[int, int, int]]:
        """(replication, chunk, incidents) of every run of a point, the same for every point."""
        out = []
        for r, n in enumerate(split(self.sweep.incidents, self.sweep.replications)):
            chunks = -(-n // self.sweep.chunk_incidents)
            out += [(r, c, m) for c, m in enumerate(split(n, chunks))]
        return out

    def tasks(self, point: Point) -> list[Task]:
        rows = tuple(self.rows)
        return [Task(point=point.index, policy=point.policy, runbook=self.runbook, rows=rows, seed=self.sweep.seed,
                     replication=r, chunk=c, incidents=m, engine=self.engine) for r, c, m in self.runs()]


def make_plan(sweep: Sweep) -> SweepPlan:
    """The sweep's plan: the one its validation built (each point compiled once, not again here), or, for a
    sweep validated without checks, a new one."""
    made = sweep.checked_plan()
    if made is not None and made.sweep is sweep:  # a copy of the sweep with other fields gets its own
        return made
    return build_plan(sweep)


def check_knob(base: Policy, knob: Knob, runbook: Runbook | None = None) -> None:
    """The path exists and each candidate value alone gives a valid policy (naming only what ``runbook`` has)."""
    locate(base, knob.path)
    for value in knob.candidates():
        changes = {knob.path: value}
        policy = derive(base, changes)
        if runbook is not None:
            _checked(policy, changes, runbook)


def _checked(policy: Policy, changes: dict[str, Any], runbook: Runbook) -> None:
    """A derived policy's names are the runbook's; an error names the knob (``arrivals_per_day.SEV-9``)."""
    try:
        policy.check_against(runbook)
    except InputError as exc:
        target = next((p for p in changes if exc.field and (exc.field == p or exc.field.startswith(p))),
                      next(iter(changes)))
        raise InputError(None, target, f"{exc.field}: {exc.problem}" if exc.field != target else exc.problem
                         ) from None


def build_plan(sweep: Sweep) -> SweepPlan:
    """Load and check everything a sweep needs (see the module docstring)."""
    from sim.policy import load_policy

    base = load_policy(sweep.policy)
    runbook = load_runbook(sweep.runbook)
    try:
        base.check_against(runbook)  # every name the base policy gives is the runbook's (gameday.references)
    except InputError as exc:
        raise InputError(sweep.policy, exc.field, exc.problem) from None
    model = compile_model(base, runbook)
    for knob in sweep.vary:
        check_knob(base, knob, runbook)
    rows = [s.name for s in runbook.severities]
    levels = [rung.level for rung in model.ladder]
    objective = parse_metric(sweep.minimise, rows, levels, "--minimise")
    constraints = [parse_constraint(text, rows, levels) for text in sweep.subject_to]
    engine = choose_engine(sweep.engine, sweep.incidents)
    plan = SweepPlan(sweep=sweep, base=base, runbook=runbook, rows=rows, levels=levels, objective=objective,
                     constraints=constraints, engine=engine, points=[Point(index=0, changes={}, policy=base)])
    if sweep.search is None:  # every combination must be a valid policy, before any work
        plan.points += [plan.point(i, changes) for i, changes in enumerate(sweep.grid(), start=1)]
    return plan
