"""Every number of every user file is finite: no float field of any model a user's file (or request) is
validated against accepts NaN or an infinity.

The check reads pydantic's compiled schema, so it sees every float wherever it sits (a field, a tuple, a
mapping's values, one arm of a union, a model nested five deep) and any model added later: a new float field
that forgets ``allow_inf_nan=False`` fails here, not in a user's sweep.  Fields typed ``Any`` carry values
that are validated elsewhere; each is listed with where that happens, and a test shows it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter

from gameday.errors import GamedayError, InputError


def user_models() -> dict[str, Any]:
    """name -> pydantic model class or TypeAdapter: everything a user's file or request is validated with."""
    from drills.drill_log import ENTRIES
    from drills.warroom.requests import _ADAPTER
    from gameday.faults import CATALOGUE as FAULTS
    from gameday.files import kinds, model_for
    from gameday.journal import Event
    from gameday.remediations import CATALOGUE as REMEDIATIONS
    from gameday.runbook.model import Runbook

    models: dict[str, Any] = {f"kind {kind}": model_for(kind) for kind in kinds()}
    models |= {f"fault params {t.value}": spec.params for t, spec in FAULTS.items()}
    models |= {f"remediation params {r.value}": spec.params for r, spec in REMEDIATIONS.items()}
    models |= {f"drill log {t.value}": model for t, model in ENTRIES.items()}
    models |= {"war-room request": _ADAPTER, "journal event": Event, "runbook": Runbook}
    return models


#: ``Any`` fields: where what they hold is validated instead.
ANY_FIELDS = {
    "Knob.values": "each value is set into the base policy and validated as a Policy (sim.sweep.paths.derive)",
    "Event.data": "gameday.references.check_journal: names and metric readings (score and validate)",
}


def _schema(model: Any) -> dict[str, Any]:
    return model.core_schema if isinstance(model, TypeAdapter) else model.__pydantic_core_schema__


def open_numbers(schema: dict[str, Any]) -> list[str]:
    """``Model.field`` of every float schema that takes NaN/infinities, and of every ``Any`` (``(any)``)."""
    found: list[str] = []
    definitions: dict[str, dict[str, Any]] = {}
    visited: set[tuple[str, str]] = set()

    def walk(node: Any, where: str, config: dict[str, Any]) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where, config)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "definitions":
            definitions.update({d["ref"]: d for d in node.get("definitions", [])})
        if kind == "definition-ref":
            ref = node["schema_ref"]
            if (ref, where) not in visited:
                visited.add((ref, where))
                walk(definitions[ref], where, config)
            return
        if kind == "model":  # a model's config is its own: nothing is inherited from the model it sits in
            config = dict(node.get("config") or {})
            where = node["cls"].__name__
        if kind in ("model-fields", "typed-dict"):
            for name, field in node.get("fields", {}).items():
                walk(field, f"{where.split('.')[0]}.{name}", config)
            for key in ("extras_schema", "computed_fields"):
                walk(node.get(key), where, config)
            return
        if kind == "float" and node.get("allow_inf_nan", config.get("allow_inf_nan", True)):
            found.append(where)
        if kind == "any":
            found.append(f"{where} (any)")
        for key, value in node.items():
            if key not in ("config", "metadata", "serialization", "cls", "ref", "schema_ref", "definitions"):
                walk(value, where, config)

    walk(schema, "", {})
    return sorted(set(found))


def test_no_float_of_any_user_model_accepts_nan_or_infinity() -> None:
    holes = {}
    for name, model in user_models().items():
        for where in open_numbers(_schema(model)):
            field = where.removesuffix(" (any)")
            if field in ANY_FIELDS:
                continue
            holes.setdefault(name, []).append(where)
    assert not holes, f"float fields that take NaN/inf (set allow_inf_nan=False on the model's config): {holes}"


def test_the_walk_finds_a_planted_open_float_anywhere() -> None:
    class Inner(BaseModel):
        model_config = ConfigDict(allow_inf_nan=False)
        closed: float = 0
        spans: dict[str, tuple[float, float]] = {}

    class Leaky(BaseModel):
        model_config = ConfigDict(allow_inf_nan=False)
        inner: Inner = Inner()
        by_severity: float | dict[str, float] = 0

    class Nested(BaseModel):  # no config: its float takes NaN even inside a closed model
        value: float = 0

    class Outer(BaseModel):
        model_config = ConfigDict(allow_inf_nan=False)
        leaky: Leaky = Leaky()
        nested: list[Nested] = []
        anything: Any = None

    assert open_numbers(_schema(Leaky)) == []
    assert open_numbers(_schema(Outer)) == ["Nested.value", "Outer.anything (any)"]


def test_the_any_fields_are_still_checked_and_a_runbook_too(tmp_path: Path) -> None:
    """What the exemptions above promise: a NaN through a sweep knob and in a journal's metric sample are refused
    in one line; and a runbook's markdown that reads as infinity (400 nines) too."""
    from gameday_testkit import SHIPPED_RUNBOOK

    from gameday.journal import Event
    from gameday.references import check_journal
    from gameday.runbook import load_runbook, parse_runbook
    from sim.policy import Policy
    from sim.sweep.paths import derive

    with pytest.raises(InputError, match=r"escalation.levels\[0\].after_minutes.*finite"):
        derive(Policy(name="p", escalation={"levels": [{"level": 2}]}),
               {"escalation.levels[0].after_minutes": math.nan})
    sample = Event(ts="2026-01-01T00:00:00Z", t=0, seq=3, incident="i", type="metric_sample", actor="prometheus",
                   data={"error_rate": math.nan})
    with pytest.raises(GamedayError, match=r"j.jsonl: seq 3: data.error_rate: a metric reading must be a number"):
        check_journal([sample], load_runbook(), "j.jsonl")
    text = SHIPPED_RUNBOOK.read_text(encoding="utf-8").replace("< 1 hour ", "< " + "9" * 400 + " hours ", 1)
    with pytest.raises(GamedayError, match=r"^rb.md: response_minutes: Input should be a finite number"):
        parse_runbook(text, "rb.md")


#: (kind, a good document, the float fields to poison): each must refuse .nan, .inf and -.inf naming the field.
def _documents() -> list[tuple[str, dict[str, Any], list[str]]]:
    repo = Path(__file__).resolve().parents[2]
    scenario = yaml.safe_load((repo / "scenarios" / "slow-queries.yaml").read_text(encoding="utf-8"))
    policy = yaml.safe_load((repo / "scenarios" / "policies" / "baseline.yaml").read_text(encoding="utf-8"))
    weights = yaml.safe_load((repo / "gameday" / "scoring" / "weights.yaml").read_text(encoding="utf-8"))
    return [
        ("scenario", scenario, ["time_scale", "timeout_minutes", "steady_state.0.threshold",
                                "fault.params.query_latency_s", "load.spawn_rate", "blind_delay_seconds.1"]),
        ("policy", policy, ["arrivals_per_day.SEV-1", "detection.alert_probability.SEV-2", "detection.onset.median",
                            "responders.ack.mean", "decisions.rollback_success", "decisions.root_cause_probability",
                            "escalation.levels.0.root_cause_probability", "detection.rule_for_seconds"]),
        ("scoring", weights, ["weights.postmortem", "verification_window_minutes", "update_grace_fraction"]),
    ]


def _poison(doc: dict[str, Any], path: str, value: float) -> dict[str, Any]:
    doc = yaml.safe_load(yaml.safe_dump(doc))
    node: Any = doc
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return doc


@pytest.mark.parametrize("kind", ["scenario", "policy", "scoring"])
def test_nan_and_infinities_in_a_file_are_one_line_naming_the_field(tmp_path: Path, kind: str) -> None:
    from gameday.files import load_any

    for name, doc, fields in _documents():
        if name != kind:
            continue
        for field in fields:
            for value in (math.nan, math.inf, -math.inf):
                path = tmp_path / f"{kind}.yaml"
                path.write_text(yaml.safe_dump(_poison(doc, field, value)), encoding="utf-8")
                with pytest.raises(InputError) as refused:
                    load_any(path)
                message = str(refused.value)
                assert message.startswith(f"{path}: ") and "\n" not in message, message
                assert field.split(".")[0] in message, (field, value, message)
