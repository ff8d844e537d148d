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
from gameday.names import shown

ModelT = TypeVar("ModelT", bound=BaseModel)

#: yaml.safe_load's loader, in C when libyaml is there (ten times faster, same documents accepted).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(SAFE_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader, refusing a key given twice in one mapping (YAML says keys are unique; PyYAML would keep
    the last silently, so a second ``expected_severity:`` further down would win unseen).  Keys a ``<<`` merge
    brings in may be overridden, as YAML intends."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base constructor says so
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"key {shown(key)} appears twice in one mapping",
                                                        key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


#: The core's own kinds -> "module:Class"; imported lazily so the CLI starts fast.  Other packages add
#: theirs (``policy``, ``sweep``) as ``gameday.file_kinds`` entry points (see gameday.plugins).
CORE_KINDS: dict[str, str] = {
    "scenario": "gameday.scenario:Scenario",
    "scoring": "gameday.scoring.weights:ScoringConfig",
}


def kinds() -> dict[str, str]:
    """Every known kind -> "module:Class": the core's and the installed packages'."""
    from gameday.plugins import FILE_KINDS, entry_point_targets

    return CORE_KINDS | entry_point_targets(FILE_KINDS)


def model_for(kind: str) -> type[BaseModel]:
    known = kinds()
    try:
        module_name, _, class_name = known[kind].partition(":")
    except KeyError:
        raise InputError(None, "kind", f"unknown kind {kind!r}; expected one of {', '.join(known)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)
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
    known = kinds()
    if not isinstance(kind, str):
        raise InputError(path, "kind", f"missing; expected one of {', '.join(known)}")
    if kind not in known:
        raise InputError(path, "kind", f"unknown kind {kind!r}; expected one of {', '.join(known)}")
    return load_model(path, model_for(kind))
