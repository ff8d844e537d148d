"""The SimPy engine's parts: its draw columns (sim.simpy_draws), its bookkeeping (sim.simpy_ledger) and its
journal (sim.simpy_journal) each do what the engine relies on."""

from __future__ import annotations

import numpy as np
import simpy

from gameday.journal import EventType
from sim.engine_simpy import simulate
from sim.model import compile_model
from sim.policy import load_policy
from sim.simpy_draws import VisitColumns
from sim.simpy_ledger import Ledger
from sim.simpy_plan import ASSEMBLE, FIX, INVESTIGATE, MONITOR, Draws, Plan
from sim.streams import Streams


def _plan(model, n=64, seed=5):
    return Plan(model, Draws(Streams(seed, 1, n)))


def _as_bytes(cols):
    return [np.asarray(c).tobytes() if not isinstance(c, tuple) else _as_bytes(c) for c in cols]


def test_visit_columns_do_not_depend_on_who_asks_first(seed_runbook, policies_dir):
    """A later visit grown first (what the first incident to loop three times does) holds the values the same
    visit has when grown in order: a column is the kernel's draw for that visit, whenever it is made."""
    model = compile_model(load_policy(str(policies_dir / "baseline.yaml")), seed_runbook)
    in_order, jumped = VisitColumns(_plan(model)), VisitColumns(_plan(model))
    nodes = range(len(in_order.plan.codes))
    for k in nodes:
        for v in range(4):
            in_order.grow(k, v)
    for k in reversed(nodes):
        jumped.grow(k, 3)
    for k in nodes:
        assert len(jumped.at[k]) == 4
        for v in range(4):
            assert _as_bytes(jumped.at[k][v]) == _as_bytes(in_order.at[k][v]), (k, v)


def test_visit_columns_read_the_plans_tables(seed_runbook, policies_dir):
    model = compile_model(load_policy(str(policies_dir / "baseline.yaml")), seed_runbook)
    plan = _plan(model)
    columns = VisitColumns(plan)
    seen = set()
    for k, code in enumerate(plan.codes):
        cols = columns.grow(k, 2)
        if code == INVESTIGATE:
            assert cols == (plan.main.cols[k][2], plan.second.cols[k][2])
        elif code == FIX:
            assert cols == (plan.aux.cols[k][2], plan.main.cols[k][2], plan.second.cols[k][2])
        elif code == MONITOR:
            assert cols == (plan.recur.cols[k][2], plan.watch.cols[k][2])
        elif code == ASSEMBLE:
            assert cols == (plan.main.cols[k][2], tuple(plan.roles.cols[r][2] for r in range(len(plan.role_names))))
        seen.add(code)
    assert {INVESTIGATE, FIX, MONITOR, ASSEMBLE} <= seen  # the seed runbook has each


def test_ledger_done_event():
    env = simpy.Environment()
    ledger = Ledger(env, 2, rungs=1)
    waiting = ledger.done_event(0)
    assert not waiting.triggered
    ledger.restored[0] = 3.0
    ledger.confirm(0)
    assert waiting.triggered
    ledger.confirm(0)  # a second confirmation is harmless
    ledger.restored[1] = 1.0  # restored before anyone waited: the event is born triggered
    assert ledger.done_event(1).triggered


def test_journal_rows_drop_what_the_restore_rules_out(seed_runbook, policies_dir):
    """Ladder pages and business notifications after the restore are logged while the run goes but are not
    journal rows; every incident gets one *resolved* row."""
    model = compile_model(load_policy(str(policies_dir / "baseline.yaml")), seed_runbook)
    rep, engine = simulate(model, 400, seed=2, replication=1, journal=True)
    rows = engine.journal_rows(rep)
    names = engine.recorder.names
    restored = dict(zip(names, rep.restored, strict=True))
    ladder = [r for r in engine.log if r[2] is EventType.escalated
              or (r[2] is EventType.paged and r[4].get("level", 1) > 1)]
    late = [r for r in ladder if not r[0] < restored[r[1]]]
    assert late and ladder != late  # both kinds occur in this run
    kept = {id(r) for r in rows}
    assert not any(id(r) in kept for r in late)
    assert all(id(r) in kept for r in ladder if r[0] < restored[r[1]])
    resolved = [r for r in rows if r[2] is EventType.resolved]
    assert sorted(r[1] for r in resolved) == sorted(names)
