"""Field paths into a policy (``escalation.levels[0].after_minutes``) and policies derived along them.

A sweep never mutates its base policy: every point is the base's YAML document with some fields
replaced, validated again as a new :class:`~sim.policy.Policy`.  A path must name a field the policy
model has (or a key of one of its mappings, such as ``arrivals_per_day.SEV-1``); anything else is an
:class:`~gameday.errors.InputError` that names the path, raised before any simulation starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from gameday.errors import InputError
from sim.policy import Policy

_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")
#: fields a sweep may not change: they say what the file is, not how the policy behaves
FIXED = frozenset({"kind"})


def parse_path(path: str) -> list[str | int]:
    """``"escalation.levels[0].after_minutes"`` -> ``["escalation", "levels", 0, "after_minutes"]``."""
    steps: list[str | int] = []
    parts = path.strip().split(".") if path.strip() else []
    for part in parts:
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise InputError(None, path or "<empty path>", "not a field path (write it like "
                             "escalation.levels[0].after_minutes)")
        steps.append(match.group(1))
        steps.extend(int(i) for i in _INDEX.findall(match.group(2)))
    if not steps:
        raise InputError(None, "--vary", "empty field path")
    return steps


def _field_key(model: BaseModel, name: str) -> tuple[str, str] | None:
    """(attribute name, key in the by-alias dump) of a model field called ``name`` (or aliased so)."""
    for attr, info in type(model).model_fields.items():
        if name in (attr, info.alias):
            return attr, info.alias or attr
    return None


def _where(steps: list[str | int], upto: int) -> str:
    text = ""
    for step in steps[:upto]:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text or "the policy"


def locate(policy: Policy, path: str) -> tuple[list[str | int], Any]:
    """Check ``path`` against the policy; return the dump keys leading to it and its current value."""
    steps = parse_path(path)
    if steps[0] in FIXED:
        raise InputError(None, path, f"{steps[0]!r} cannot be varied")
    obj: Any = policy
    keys: list[str | int] = []
    for n, step in enumerate(steps):
        here = _where(steps, n)
        last = n == len(steps) - 1
        if isinstance(obj, BaseModel):
            if isinstance(step, int):
                raise InputError(None, path, f"{here} is a group of fields, not a list")
            found = _field_key(obj, step)
            if found is None:
                known = ", ".join(info.alias or attr for attr, info in type(obj).model_fields.items()
                                  if attr not in FIXED)
                raise InputError(None, path, f"unknown field {step!r} in {here} (known: {known})")
            attr, key = found
            obj = getattr(obj, attr)
            keys.append(key)
        elif isinstance(obj, Mapping):
            if isinstance(step, int) or (step not in obj and not last):
                have = ", ".join(map(str, obj)) or "nothing"
                raise InputError(None, path, f"{here} has no key {step!r} (it has {have})")
            obj = obj.get(step)
            keys.append(step)
        elif isinstance(obj, list | tuple):
            if not isinstance(step, int):
                raise InputError(None, path, f"{here} is a list: address an entry as {here}[0]")
            if not 0 <= step < len(obj):
                raise InputError(None, path, f"{here} has {len(obj)} entries (index 0 to {len(obj) - 1})")
            obj = obj[step]
            keys.append(step)
        else:
            raise InputError(None, path, f"{here} is a single value ({obj!r}), it has no field {step!r}")
    return keys, obj


def current_value(policy: Policy, path: str) -> Any:
    """The base policy's value at ``path`` (as in its YAML: a plain value, list or mapping)."""
    keys, _ = locate(policy, path)
    node: Any = policy.model_dump(by_alias=True, mode="json")
    for key in keys:
        node = node[key]
    return node


def derive(base: Policy, changes: Mapping[str, Any], name: str | None = None,
           description: str | None = None) -> Policy:
    """A new policy: ``base`` with each path in ``changes`` set to its value, validated again.

    A refused value is an :class:`InputError` naming the path (the first one, when several changed)."""
    doc: dict[str, Any] = base.model_dump(by_alias=True, mode="python")
    for path, value in changes.items():
        keys, _ = locate(base, path)
        node: Any = doc
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    if name is not None:
        doc["name"] = name
    if description is not None:
        doc["description"] = description
    try:
        return Policy.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        msg = first.get("msg", "invalid value")
        # blame the changed path the error sits under, else the only (or first) one
        target = next((p for p in changes if _under(loc, p)), next(iter(changes), "policy"))
        problem = f"value {changes[target]!r} refused: {msg}" if target in changes else f"refused: {msg}"
        if len(changes) > 1:
            problem += " (with " + ", ".join(f"{p}={v!r}" for p, v in changes.items() if p != target) + ")"
        if loc and not _under(loc, target):
            problem += f" (at {loc})"
        raise InputError(None, target, problem) from None


def _dotted(path: str) -> str:
    return path.replace("[", ".").replace("]", "")


def _under(loc: str, path: str) -> bool:
    """Is pydantic's error location ``loc`` the field at ``path`` or inside it?"""
    loc, path = _dotted(loc), _dotted(path)
    return loc == path or loc.startswith(path + ".")


def describe_value(value: Any) -> Any:
    """A knob value for a table cell or a point's label: scalars as they are, anything else as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)
