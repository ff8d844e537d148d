"""Each scoring check is registered once (id, title, weight key, function): the engine, the weights model and
``weights.yaml`` all follow the registry, and a weights file that names an unknown check is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gameday.errors import InputError
from gameday.scoring import checks
from gameday.scoring.catalogue import CHECKS
from gameday.scoring.registry import Check, check
from gameday.scoring.weights import DEFAULT_WEIGHTS, ScoringConfig, load_weights


def test_registry_ids_are_the_weights_and_the_results(fixtures: Path) -> None:
    from gameday.scoring import score_journal

    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids)) == 20  # 12 in checks.py, 7 in checks_comms.py (Phase 4, the roles),
    # 1 in checks_branches.py (the decision tree's branches)
    assert list(yaml.safe_load(DEFAULT_WEIGHTS.read_text(encoding="utf-8"))["weights"]) == ids
    assert list(ScoringConfig.model_json_schema()["$defs"]["CheckWeights"]["properties"]) == ids
    (incident,) = score_journal(fixtures / "perfect.jsonl").incidents
    assert [(r.id, r.title) for r in incident.checks] == [(c.id, c.title) for c in CHECKS]
    # the module-level names are the registered checks themselves
    assert checks.stability_watch is next(c for c in CHECKS if c.id == "stability_watch")


def _write(tmp_path: Path, weights: dict) -> Path:
    body = load_weights().model_dump()
    body["weights"] = weights
    path = tmp_path / "weights.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def test_unknown_check_in_a_weights_file_is_one_line(tmp_path: Path) -> None:
    weights = load_weights().weights.model_dump() | {"sevrity_matches": 5}
    with pytest.raises(InputError) as caught:
        load_weights(_write(tmp_path, weights))
    message = str(caught.value)
    assert "\n" not in message
    assert "weights: no check named 'sevrity_matches'" in message and "severity_matches" in message


def test_a_weights_file_must_name_every_check(tmp_path: Path) -> None:
    weights = load_weights().weights.model_dump()
    del weights["unaided"]
    with pytest.raises(InputError, match=r"weights\.unaided: Field required"):
        load_weights(_write(tmp_path, weights))


def test_one_id_cannot_be_registered_twice() -> None:
    before = list(CHECKS)
    with pytest.raises(ValueError, match="two checks are registered as 'paged'"):
        check("paged", "Paged again")(lambda ctx, c: c.na("—", "never"))
    assert before == CHECKS and all(isinstance(c, Check) for c in CHECKS)
