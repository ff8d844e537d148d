"""``gameday sweep``: paths into the policy, one-line errors before work, CRN pairing, outputs, determinism."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from gameday.cli import _register_commands, app
from gameday.errors import InputError
from sim.policy import load_policy
from sim.sweep.execute import LocalExecutor
from sim.sweep.paths import current_value, derive
from sim.sweep.plan import make_plan
from sim.sweep.run import run_sweep
from sim.sweep.spec import build_sweep, parse_vary

runner = CliRunner()
L2 = "escalation.levels[0].after_minutes"


@pytest.fixture(scope="module", autouse=True)
def commands():
    if "sweep" not in {c.name for c in app.registered_commands}:
        _register_commands()


def invoke(*args: str) -> dict:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # progress lines go to stderr


def gameday(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gameday.cli", *args], capture_output=True, text=True)


def small_sweep(policies_dir: Path, runbook: Path, **extra) -> dict:
    doc = {"kind": "sweep", "policy": str(policies_dir / "baseline.yaml"), "runbook": str(runbook),
           "vary": [{"path": L2, "values": [10, 30]}, {"path": "responders.oncall", "values": [1, 2]}],
           "incidents": 6000, "replications": 3, "seed": 5}
    return doc | extra


# -- paths and derived policies ---------------------------------------------------------------------------

def test_derive_changes_a_copy_and_reads_aliases(policies_dir):
    base = load_policy(str(policies_dir / "baseline.yaml"))
    point = derive(base, {L2: 15, "responders.ack.mean": 2.5, "arrivals_per_day.SEV-1": 0.5})
    assert point.escalation.levels[0].after_minutes == 15 and base.escalation.levels[0].after_minutes is None
    assert point.responders.ack.mean() == 2.5 and base.responders.ack.mean() == 4.0
    assert point.arrivals_per_day["SEV-1"] == 0.5 and current_value(base, "arrivals_per_day.SEV-1") == 0.2


@pytest.mark.parametrize(("path", "value", "words"), [
    ("responders.oncal", 2, "unknown field 'oncal' in responders"),
    ("escalation.levels[7].after_minutes", 5, "escalation.levels has 3 entries"),
    ("responders.oncall.x", 5, "single value"),
    ("escalation.levels.after_minutes", 5, "is a list"),
    ("responders.oncall", 0, "value 0 refused"),
    ("decisions.rollback_success", 1.5, "value 1.5 refused"),
    ("kind", "scenario", "cannot be varied"),
])
def test_bad_path_or_value_names_the_path(policies_dir, path, value, words):
    base = load_policy(str(policies_dir / "baseline.yaml"))
    with pytest.raises(InputError) as err:
        derive(base, {path: value})
    assert err.value.field == path and words in str(err.value)


def test_vary_parses_yaml_values_ranges_and_nested_commas():
    assert parse_vary("responders.oncall=1,2,null") == {"path": "responders.oncall", "values": [1, 2, None]}
    assert parse_vary("x=1:4") == {"path": "x", "range": "1:4"}
    nested = parse_vary("steps.verify={dist: fixed, value: 3},{dist: fixed, value: 5}")
    assert nested["values"] == [{"dist": "fixed", "value": 3}, {"dist": "fixed", "value": 5}]


def test_runbook_refusal_is_caught_before_work(policies_dir, seed_runbook_path):
    doc = small_sweep(policies_dir, seed_runbook_path, vary=[{"path": "arrivals_per_day.SEV-9", "values": [1.0]}])
    with pytest.raises(InputError) as err:
        build_sweep(doc, Path.cwd())
    assert "arrivals_per_day.SEV-9" in str(err.value) and "no severity 'SEV-9'" in str(err.value)


def test_unknown_metric_and_bad_constraint(policies_dir, seed_runbook_path):
    with pytest.raises(InputError, match="unknown metric 'mttx'"):
        build_sweep(small_sweep(policies_dir, seed_runbook_path, minimise="mttx"), Path.cwd())
    with pytest.raises(InputError, match="METRIC<=NUMBER"):
        build_sweep(small_sweep(policies_dir, seed_runbook_path, subject_to=["pages_per_week 40"]), Path.cwd())
    with pytest.raises(InputError, match="ladder has levels L2, L3, L4"):
        build_sweep(small_sweep(policies_dir, seed_runbook_path, minimise="escalations.L9"), Path.cwd())


# -- the sweep itself -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def grid_result(policies_dir, seed_runbook_path):
    plan = make_plan(build_sweep(small_sweep(policies_dir, seed_runbook_path, minimise="mttr.SEV-2.p95"),
                                 Path.cwd()))
    return run_sweep(plan, LocalExecutor(1))


def test_grid_has_base_and_every_combination(grid_result):
    frame = grid_result.table
    assert sorted(frame["point"].unique()) == [0, 1, 2, 3, 4]
    assert set(frame["severity"]) == {"SEV-1", "SEV-2", "SEV-3", "SEV-4", "all"}
    combos = frame[frame["point"] > 0].drop_duplicates("point")[[L2, "responders.oncall"]].values.tolist()
    assert combos == [[10, 1], [10, 2], [30, 1], [30, 2]]
    base = frame[frame["point"] == 0].drop_duplicates("point")
    assert pd.isna(base[L2].iloc[0]) and base["responders.oncall"].iloc[0] == 1  # the base's own values


def test_common_random_numbers_pair_points_with_the_base(grid_result):
    frame = grid_result.table.set_index(["point", "severity"])
    # detection does not depend on these knobs: identical incidents, so the paired difference is exactly 0
    assert (frame["mttd_mean_diff"] == 0).all() and (frame["mttd_mean_diff_high"] == 0).all()
    # a second on-call never makes anyone wait longer for a responder: MTTA cannot rise
    assert frame.loc[(2, "all"), "mtta_mean_diff"] < 0 and frame.loc[(2, "all"), "mtta_mean_diff_high"] < 0
    assert frame.loc[(2, "all"), "utilisation"] == pytest.approx(frame.loc[(1, "all"), "utilisation"] / 2, rel=0.05)
    # L2 paged after 10 instead of 30 minutes: a better diagnosis sooner, SEV-2 resolved sooner
    assert frame.loc[(1, "SEV-2"), "mttr_mean"] < frame.loc[(3, "SEV-2"), "mttr_mean"]
    assert frame.loc[(1, "SEV-2"), "escalations_L2_per_week"] >= frame.loc[(3, "SEV-2"), "escalations_L2_per_week"]
    assert frame.loc[(0, "all"), "mttr_mean_diff"] == 0.0


def test_point_mean_matches_simulate(grid_result, policies_dir, seed_runbook_path):
    """A sweep point is the simulator's own run of the derived policy (one chunk per replication)."""
    from sim.model import compile_model
    from sim.runner import run
    from sim.stats import summarise

    policy = grid_result.points[0].point.policy
    outcomes = run(policy, grid_result.plan.runbook, 6000, 5, replications=3)
    expected = summarise(compile_model(policy, grid_result.plan.runbook), outcomes)
    row = grid_result.table[(grid_result.table["point"] == 0) & (grid_result.table["severity"] == "all")].iloc[0]
    assert row["mttr_mean"] == pytest.approx(expected["mttr"]["mean"], rel=1e-12)
    assert row["incidents"] == 6000 and row["utilisation"] == pytest.approx(expected["utilisation"]["oncall"])


def test_pages_per_week_closed_form(policies_dir, seed_runbook_path, tmp_path):
    """Everyone answers the first page, two people per page, no ladder: exactly 2 pages per incident.  The
    expected figure is counted from the simulator's own runs of the point (pages sent, weeks covered), not
    read back from the table."""
    from sim.model import compile_model
    from sim.runner import Outcome, replicate
    from sim.sweep.metrics import MINUTES_PER_WEEK

    base = load_policy(str(policies_dir / "baseline.yaml"))
    doc = base.model_dump(by_alias=True, mode="json")
    doc["responders"].update(answer_probability=1.0, page_at_once=2)
    doc["escalation"]["severities"] = []
    policy = tmp_path / "p.yaml"
    policy.write_text(yaml.safe_dump(doc))
    plan = make_plan(build_sweep({"policy": str(policy), "runbook": str(seed_runbook_path), "incidents": 4000,
                                  "replications": 2, "vary": [{"path": "responders.oncall", "values": [2]}]},
                                 Path.cwd()))
    frame = run_sweep(plan, LocalExecutor(1)).table
    row = frame[(frame["point"] == 0) & (frame["severity"] == "all")].iloc[0]
    model = compile_model(plan.points[0].policy, plan.runbook)
    reps = [replicate(model, n, plan.sweep.seed, r, engine=plan.engine, chunk=c) for r, c, n in plan.runs()]
    incidents = sum(len(rep) for rep in reps)
    assert all((rep.page_rounds == 1).all() for rep in reps)  # everyone answered the first page
    assert all(rep.ladder_pages is None or not rep.ladder_pages.any() for rep in reps)  # and no ladder
    weeks = sum(Outcome.of(model, rep, 0).span_minutes for rep in reps) / MINUTES_PER_WEEK  # as simulate has it
    assert row["incidents"] == incidents == 4000
    assert row["pages_per_week"] == pytest.approx(2 * incidents / weeks, rel=1e-9)
    assert incidents / weeks == pytest.approx(6.0 * 7, rel=0.05)  # the policy's 6 incidents a day
    assert row["escalations_L2_per_week"] == 0.0


def test_chunks_are_independent_runs(policies_dir, seed_runbook_path):
    plan = make_plan(build_sweep(small_sweep(policies_dir, seed_runbook_path, chunk_incidents=1000), Path.cwd()))
    assert plan.runs() == [(r, c, 1000) for r in range(3) for c in range(2)]
    frame = run_sweep(plan, LocalExecutor(1)).table
    assert (frame["runs"] == 6).all() and frame[frame["severity"] == "all"]["incidents"].eq(6000).all()


def test_cli_grid_outputs_and_worker_count_independence(policies_dir, seed_runbook_path, tmp_path):
    args = ["sweep", "--policy", str(policies_dir / "baseline.yaml"), "--runbook", str(seed_runbook_path),
            "--vary", f"{L2}=10,30", "--vary", "responders.oncall=1,2", "--incidents", "4000", "--replications",
            "2", "--seed", "5", "--minimise", "mttr.SEV-2.p95", "--subject-to", "pages_per_week<=200"]
    one = invoke(*args, "--out", str(tmp_path / "one.parquet"), "--best-out", str(tmp_path / "best.yaml"),
                 "--plot", str(tmp_path / "pareto.png"), "--json")
    two = invoke(*args, "--workers", "2", "--out", str(tmp_path / "two.csv"), "--json")
    assert one["points"] == two["points"] and one["best"] == two["best"]
    a, b = pd.read_parquet(tmp_path / "one.parquet"), pd.read_csv(tmp_path / "two.csv")
    assert len(a) == len(b) == 25 and (a["runs"] == 2).all()
    assert a["mttr_p95"].tolist() == pytest.approx(b["mttr_p95"].tolist(), rel=1e-15)
    best = load_policy(str(tmp_path / "best.yaml"))
    chosen = next(p for p in one["points"] if p["point"] == one["best"]["point"])
    assert best.responders.oncall == chosen["changes"].get("responders.oncall", 1)
    assert "95% CI [" in best.description and "MTTR p95 (SEV-2)" in best.description
    assert (tmp_path / "pareto.png").stat().st_size > 10_000


def test_search_is_reproducible_and_respects_ranges(policies_dir, seed_runbook_path, tmp_path):
    args = ["sweep", "--policy", str(policies_dir / "baseline.yaml"), "--runbook", str(seed_runbook_path),
            "--vary", f"{L2}=5.0:60.0", "--vary", "responders.oncall=1:3", "--search", "6", "--search-batch", "3",
            "--incidents", "2000", "--replications", "2", "--seed", "3", "--minimise", "mtta.p95",
            "--subject-to", "people_hours_per_week<=500", "--json"]
    one = invoke(*args, "--best-out", str(tmp_path / "best.yaml"))
    two = invoke(*args, "--workers", "2", "--best-out", str(tmp_path / "best2.yaml"))
    for key in ("points", "trials", "best"):
        assert one[key] == two[key]
    assert one["mode"] == "search" and len(one["trials"]) == 6 and len(one["points"]) == 7
    for p in one["points"][1:]:
        assert 5.0 <= p["changes"][L2] <= 60.0 and p["changes"]["responders.oncall"] in (1, 2, 3)
        assert isinstance(p["changes"]["responders.oncall"], int)
    assert (tmp_path / "best.yaml").read_text() == (tmp_path / "best2.yaml").read_text()
    best = next(p for p in one["points"] if p["point"] == one["best"]["point"])
    assert best["objective"] == min(p["objective"] for p in one["points"] if p["feasible"])
    assert "6 Optuna trials" in load_policy(str(tmp_path / "best.yaml")).description


def test_infeasible_constraints_write_no_best(policies_dir, seed_runbook_path, tmp_path):
    out = invoke("sweep", "--policy", str(policies_dir / "baseline.yaml"), "--runbook", str(seed_runbook_path),
                 "--vary", "responders.oncall=1,2", "--incidents", "2000", "--replications", "2",
                 "--subject-to", "pages_per_week<=1", "--best-out", str(tmp_path / "b.yaml"), "--json")
    assert out["best"] is None and not (tmp_path / "b.yaml").exists()
    assert not any(p["feasible"] for p in out["points"])


# -- the sweep file: validate, schema, one-line errors -----------------------------------------------------

def test_sweep_file_validates_and_runs(policies_dir, seed_runbook_path, tmp_path):
    path = tmp_path / "sweep.yaml"
    doc = small_sweep(policies_dir, seed_runbook_path, name="l2-vs-oncall")
    doc["vary"] = {L2: [10, 30], "responders.oncall": [1, 2]}  # the mapping shorthand
    path.write_text(yaml.safe_dump(doc))
    assert "ok (sweep l2-vs-oncall)" in runner.invoke(app, ["validate", str(path)]).output
    out = invoke("sweep", str(path), "--incidents", "3000", "--json")
    assert out["sweep"] == "l2-vs-oncall" and len(out["points"]) == 5 and out["incidents"] == 15_000
    schema = json.loads(runner.invoke(app, ["schema", "sweep"]).output)
    assert {"policy", "vary", "minimise", "subject_to"} <= set(schema["properties"])


@pytest.mark.parametrize(("vary", "words"), [
    ({"responders.pagers": [1, 2]}, "responders.pagers: unknown field 'pagers' in responders"),
    ({L2: [10, -5]}, f"{L2}: value -5 refused"),
    ({"responders.oncall": "1:4"}, "ranges need --search"),
])
def test_bad_sweep_file_names_file_and_path(policies_dir, seed_runbook_path, tmp_path, vary, words):
    from gameday.files import load_any
    from sim.sweep.spec import load_sweep

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(small_sweep(policies_dir, seed_runbook_path, vary=vary)))
    for load in (load_any, load_sweep):  # gameday validate, gameday sweep
        with pytest.raises(InputError) as err:
            load(path)
        assert str(err.value).startswith(str(path)) and words in str(err.value)


def test_bad_sweep_file_is_one_line_exit_2(policies_dir, seed_runbook_path, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(small_sweep(policies_dir, seed_runbook_path, vary={"responders.pagers": [1]})))
    proc = gameday("validate", str(path))
    assert proc.returncode == 2, proc.stderr
    assert f"{path}: responders.pagers: unknown field 'pagers'" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_vary_flag_is_one_line_exit_2(policies_dir, seed_runbook_path):
    proc = gameday("sweep", "--policy", str(policies_dir / "baseline.yaml"), "--runbook", str(seed_runbook_path),
                   "--vary", "escalation.levels[0].after_minute=5,10")
    assert proc.returncode == 2 and "escalation.levels[0].after_minute: unknown field" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_shipped_sweep_files_validate():
    from gameday.files import load_any

    paths = sorted((Path(__file__).resolve().parents[2] / "scenarios" / "sweeps").glob("*.yaml"))
    assert paths
    for path in paths:
        sweep = load_any(path)
        assert sweep.kind == "sweep" and Path(sweep.policy).exists()
