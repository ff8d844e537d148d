"""Policy files: closed models, every distribution family, empirical CSVs relative to the policy file."""

from __future__ import annotations

import numpy as np
import pytest

from gameday.errors import InputError
from gameday.files import load_any
from sim.policy import load_policy


def test_shipped_policies_validate(policies_dir):
    names = {p.stem for p in policies_dir.glob("*.yaml")}
    assert {"baseline", "faster-escalation", "auto-rollback", "secondary-oncall"} <= names
    for path in policies_dir.glob("*.yaml"):
        assert load_any(path).name == path.stem


def test_unknown_field_is_refused_with_its_path(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("kind: policy\nname: p\nsteps: {assess: {dist: fixed, value: 1, spread: 2}}\n")
    with pytest.raises(InputError) as err:
        load_policy(str(path))
    assert "steps.assess" in str(err.value)


def test_every_family_and_empirical_csv_relative_to_policy(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "verify.csv").write_text("incident,minutes\na,1\nb,2\nc,3\nd,10\n")
    path = tmp_path / "p.yaml"
    path.write_text(
        "kind: policy\nname: p\nsteps:\n"
        "  assess: {dist: exponential, mean: 4}\n"
        "  declare: {dist: lognormal, mean: 3, sd: 1}\n"
        "  assemble: {dist: gamma, shape: 2, scale: 2.5}\n"
        "  close: {dist: fixed, value: 5}\n"
        "  verify: {dist: empirical, path: data/verify.csv, column: minutes}\n"
    )
    steps = load_policy(str(path)).steps
    rng = np.random.default_rng(0)
    for dist, mean in ((steps.assess, 4), (steps.declare, 3), (steps.assemble, 5), (steps.close, 5)):
        assert dist.mean() == pytest.approx(mean)
        assert dist.sample(rng, 40_000).mean() == pytest.approx(mean, rel=0.03)
    assert set(steps.verify.sample(rng, 1000)) == {1.0, 2.0, 3.0, 10.0}


def test_missing_empirical_csv_is_an_input_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("kind: policy\nname: p\nsteps: {verify: {dist: empirical, path: nowhere.csv}}\n")
    with pytest.raises(InputError) as err:
        load_policy(str(path))
    assert "nowhere.csv" in str(err.value)


def test_release_at_says_restored_and_old_files_still_read(tmp_path):
    """The on-call is freed once the service is restored (the glossary's word); policy files written when this
    was spelled ``resolved`` load as ``restored``, and nothing else is accepted."""
    path = tmp_path / "p.yaml"
    for written, read in (("restored", "restored"), ("resolved", "restored"), ("closed", "closed")):
        path.write_text(f"kind: policy\nname: p\nrelease_at: {written}\n")
        assert load_policy(str(path)).release_at == read
    path.write_text("kind: policy\nname: p\nrelease_at: fixed\n")
    with pytest.raises(InputError, match="release_at"):
        load_policy(str(path))
