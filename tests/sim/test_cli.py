"""The four commands end to end through the real CLI entry point (typer's runner, real files)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from gameday_testkit import cli_json

from gameday.journal import read_journal


def test_simulate_json_keys_and_journal(policies_dir, seed_runbook_path, tmp_path):
    journal = tmp_path / "sim.jsonl"
    out = cli_json("simulate", "--policy", str(policies_dir / "baseline.yaml"), "--runbook", str(seed_runbook_path),
                 "--incidents", "300", "--seed", "4", "--journal", str(journal), "--json")
    for key in ("mttd", "mtta", "mttr"):
        assert set(out[key]) >= {"mean", "median", "p95", "ci95"}
        assert out[key]["median"] <= out[key]["p95"]
        lo, hi = out[key]["ci95"]
        assert lo <= out[key]["mean"] <= hi
    assert set(out["by_severity"]) == {"SEV-1", "SEV-2", "SEV-3", "SEV-4"}
    assert out["by_severity"]["SEV-1"]["within_target"]["mttr"]["target_minutes"] == 60.0
    # compliance (every target that applies met) is at most the share meeting any one of them
    sev1 = out["by_severity"]["SEV-1"]
    assert sev1["compliance"] <= sev1["within_target"]["mttr"]["within"]
    assert 0 < out["compliance"] <= min(out["within_target"][m]["within"] for m in ("mttd", "mtta"))  # every incident
    assert out["incidents"] == 300
    events = read_journal(journal)
    assert events[0].data["source"] == "sim" and events[0].data["policy"] == "baseline"
    assert len({e.incident for e in events[1:]}) == 300
    assert sum(e.type.value == "resolved" for e in events) == 300


def test_simulate_is_identical_across_worker_counts(policies_dir, seed_runbook_path):
    args = ["simulate", "--policy", str(policies_dir / "baseline.yaml"), "--runbook", str(seed_runbook_path),
            "--incidents", "4000", "--seed", "8", "--json"]
    assert cli_json(*args, "--workers", "1") == cli_json(*args, "--workers", "2")


def test_compare_reports_paired_differences(policies_dir, seed_runbook_path, tmp_path):
    plot = tmp_path / "cmp.png"
    out = cli_json("compare", "--policy", str(policies_dir / "baseline.yaml"), "--policy",
                 str(policies_dir / "secondary-oncall.yaml"), "--runbook", str(seed_runbook_path),
                 "--incidents", "20000", "--seed", "2", "--plot", str(plot), "--json")
    assert out["mttd"]["difference"] == 0.0  # same incidents, same detection: CRN
    assert out["mtta"]["distinguishable"] and out["mtta"]["difference"] < 0
    assert plot.stat().st_size > 5000


def test_bad_policy_is_one_line_exit_2(tmp_path, seed_runbook_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: policy\nname: bad\nresponders: {oncall: 1, pagers: 3}\n")
    from subprocess import run

    proc = run([sys.executable, "-m", "gameday.cli", "simulate", "--policy", str(bad), "--runbook",
                str(seed_runbook_path), "--incidents", "10"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "responders.pagers" in proc.stderr and "Traceback" not in proc.stderr


def test_detectability_small_groups_often_look_worse():
    out = cli_json("detectability", "--incidents", "10", "--incidents", "1000", "--improvement", "0.1",
                 "--trials", "1000", "--json")
    small, large = out["results"]
    assert small["p_worse"] > 0.25  # with 10 incidents a real 10% gain often shows as a loss
    assert large["p_worse"] < small["p_worse"]
    assert large["ci90_mean_difference"][1] - large["ci90_mean_difference"][0] < \
        small["ci90_mean_difference"][1] - small["ci90_mean_difference"][0]
    assert out["incidents_needed"] is not None and out["incidents_needed"] > 100


def test_detectability_with_no_true_change():
    """Improvement 0 is the Davidovič question "nothing changed: how often does it look like a gain?"."""
    out = cli_json("detectability", "--incidents", "20", "--incidents", "2000", "--improvement", "0",
                 "--threshold", "30", "--trials", "1000", "--json")
    small, large = out["results"]
    assert out["improvement"] == 0 and out["incidents_needed"] is None
    for r in (small, large):  # the same distribution twice: worse or better is a coin toss
        assert abs(r["p_worse"] - 0.5) < 0.05
        lo, hi = r["ci90_mean_difference"]
        assert lo < 0 < hi
    assert small["p_improved_by_threshold"] > 0.2  # 20 incidents: a 30-minute "gain" from noise alone is common
    assert large["p_improved_by_threshold"] < 0.01  # 2000 incidents: almost never


def test_detectability_refuses_a_negative_improvement_with_the_reason():
    from subprocess import run

    proc = run([sys.executable, "-m", "gameday.cli", "detectability", "--improvement", "-0.1"], capture_output=True,
               text=True)
    assert proc.returncode == 2
    assert "--improvement: -0.1 would mean MTTR got worse" in proc.stderr and "Traceback" not in proc.stderr


def test_calibrate_refuses_a_simulated_journal_in_one_line(tmp_path):
    """A simulated journal tells nothing about the team: fitting it would give back the policy it came from."""
    journal = tmp_path / "sim.jsonl"
    rows = [("journal_started", 0, {"source": "sim", "time_scale": 1.0}),
            ("incident_started", 0, {"severity": "SEV-1"}), ("detected", 240, {}), ("acknowledged", 480, {})]
    journal.write_text("".join(
        json.dumps({"ts": f"2026-03-02T10:{t // 60:02d}:00.000Z", "t": float(t), "seq": i, "incident": "sim-1",
                    "type": kind, "actor": "sim", "data": data}) + "\n" for i, (kind, t, data) in enumerate(rows)))
    proc = subprocess.run([sys.executable, "-m", "gameday.cli", "calibrate", str(journal), "--out",
                           str(tmp_path / "fitted.yaml")], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "sim.jsonl" in proc.stderr and "simulated journal tells nothing about the team" in proc.stderr
    assert not (tmp_path / "fitted.yaml").exists()


def test_weighted_mle_recovers_a_known_distribution_and_a_weight_counts_as_copies():
    """Weighted MLE: Exp(mean 4) back from 1,500 draws; weight 2 is the same as the value twice."""
    import numpy as np

    from sim.calibrate_fit import fit, weighted_median

    draws = np.random.default_rng(6).exponential(4.0, 1500).tolist()
    got = fit(draws, [1.0] * len(draws))
    assert got["chosen"]["dist"] in ("exponential", "gamma")
    assert got["fits"]["exponential"]["params"]["mean"] == pytest.approx(4.0, abs=0.4)
    twice = fit(draws[:50] + draws[:10], [1.0] * 60)["fits"]["lognormal"]["params"]
    weighted = fit(draws[:50], [2.0] * 10 + [1.0] * 40)["fits"]["lognormal"]["params"]
    assert weighted == pytest.approx(twice)
    assert weighted_median([18, 18, 18, 100, 100, 100], [1, 1, 1, 0.5, 0.5, 0.5]) == 18
    assert weighted_median([18, 100], [1, 1]) == 59


def test_calibrate_reads_incident_history_csv(tmp_path):
    csv = tmp_path / "incidents.csv"
    rows = ["started_at,detected_at,acknowledged_at,resolved_at"]
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(200):
        d, a = rng.lognormal(1.5, 0.5), rng.exponential(5.0)
        base = np.datetime64("2026-01-01T00:00") + np.timedelta64(i, "D")
        det = base + np.timedelta64(int(d * 60), "s")
        ack = det + np.timedelta64(int(a * 60), "s")
        rows.append(f"{base}Z,{det}Z,{ack}Z,{ack + np.timedelta64(3600, 's')}Z")
    csv.write_text("\n".join(rows) + "\n")
    out = cli_json("calibrate", str(csv), "--out", str(tmp_path / "hist.yaml"), "--json")
    detect = out["intervals"]["detect"]
    # one real incident a row (weight 1 each): the weighted MLE finds the shape, the simulated median meets it
    assert detect["weight"] == 200 and detect["fitted"]
    assert detect["mle"]["chosen"]["dist"] == "lognormal"
    assert detect["mle"]["chosen"]["median"] == pytest.approx(np.exp(1.5), rel=0.15)
    assert detect["simulated_after"] == pytest.approx(detect["observed_median"], rel=0.05)
