"""Load YAML files into closed pydantic models with one-line errors naming file, field and problem.

Scenarios and policies declare what they are with ``kind:``; ``gameday validate`` and the runners share
this one path, so nothing touches a target before its files are known good.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gameday.errors import InputError, from_validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)

#: kind -> "module:Class"; imported lazily so the CLI starts fast.
KINDS: dict[str, str] = {
    "scenario": "gameday.scenario:Scenario",
    "policy": "sim.policy:Policy",
    "sweep": "sim.sweep.spec:Sweep",
    "scoring": "gameday.scoring.weights:ScoringConfig",
}


def model_for(kind: str) -> type[BaseModel]:
    try:
        module_name, _, class_name = KINDS[kind].partition(":")
    except KeyError:
        raise InputError(None, "kind", f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InputError(path, where, f"invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise InputError(path, None, "expected a mapping at the top level")
    return data


def load_model(path: str | Path, model: type[ModelT], base_dir: Path | None = None) -> ModelT:
    """Validate a YAML file against ``model``; ``base_dir`` is passed as context for relative paths."""
    data = read_yaml(path)
    try:
        return model.model_validate(data, context={"base_dir": base_dir or Path(path).resolve().parent, "path": path})
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None


def load_any(path: str | Path) -> BaseModel:
    """Validate a file by its declared ``kind``."""
    data = read_yaml(path)
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise InputError(path, "kind", f"missing; expected one of {', '.join(KINDS)}")
    if kind not in KINDS:
        raise InputError(path, "kind", f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return load_model(path, model_for(kind))
