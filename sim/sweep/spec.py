"""The sweep file (``kind: sweep``) and its ``--vary`` twin on the command line.

A sweep names a base policy, the fields to vary (each a list of values for a grid, or a ``lo:hi`` range
for ``--search``), the run size and what to optimise.  Validation loads the base policy and the runbook
and derives a policy for every value of every knob (and, for a grid, every point), so an unknown path
or a refused value is one error naming the path before any simulation starts -- in ``gameday validate``
and in ``gameday sweep`` alike.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from gameday.errors import InputError
from sim.policy import Policy

if TYPE_CHECKING:
    from sim.sweep.plan import SweepPlan

#: a replication longer than this runs as independent chunks (part of the result's definition)
DEFAULT_CHUNK_INCIDENTS = 100_000
#: Largest run a sweep file may ask for (per point), most replications and search trials.
MAX_INCIDENTS = 10**9
MAX_RUNS = 10_000
#: Seeds are numpy SeedSequence entropy: a non-negative integer (kept within 64 bits).
MAX_SEED = 2**64 - 1


class _Closed(BaseModel):
    """Closed, immutable and finite: NaN and infinities are refused in every number (a range's ends too)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Knob(_Closed):
    """One policy field to vary: a list of ``values`` (grid) or a ``range`` [low, high] (``--search``)."""

    path: str = Field(description="field path into the policy, e.g. escalation.levels[0].after_minutes")
    values: list[Any] | None = Field(default=None, min_length=1, description="grid values (YAML values)")
    range: tuple[float, float] | None = Field(
        default=None, description="[low, high] for --search; integers when both ends are integers")
    integer: bool = Field(default=False, description="search over integers (set when both ends are integers)")
    log: bool = Field(default=False, description="search on a log scale")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("range"), str):
            data = {**data, **_range_fields(data["range"], data.get("path", "range"))}
        if isinstance(data, dict) and isinstance(data.get("range"), list | tuple) and "integer" not in data:
            lo_hi = data["range"]
            if len(lo_hi) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in lo_hi):
                data = {**data, "integer": True}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Knob:
        if (self.values is None) == (self.range is None):
            raise ValueError(f"{self.path}: give either values or a range")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"{self.path}: the range needs low < high")
        if self.log and self.range is not None and self.range[0] <= 0:
            raise ValueError(f"{self.path}: a log-scale range needs low > 0")
        return self

    def candidates(self) -> list[Any]:
        """Values checked up front: the grid's values, or a range's ends."""
        if self.values is not None:
            return list(self.values)
        lo, hi = self.range  # type: ignore[misc]
        return [int(lo), int(hi)] if self.integer else [lo, hi]


class Sweep(_Closed):
    """A grid or a search over policy fields, on common random numbers."""

    kind: Literal["sweep"] = "sweep"
    name: str = Field(default="sweep", pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    policy: str = Field(description="base policy YAML (relative to the sweep file)")
    runbook: str | None = Field(default=None, description="runbook markdown; default: the shipped one")
    vary: list[Knob] = Field(min_length=1, description="fields to vary (a mapping path: values is accepted)")
    incidents: int = Field(default=100_000, ge=1, le=MAX_INCIDENTS,
                           description="incidents per point (split over replications)")
    replications: int = Field(default=10, ge=1, le=MAX_RUNS)
    seed: int = Field(default=1, ge=0, le=MAX_SEED, description="a non-negative integer")
    engine: Literal["auto", "vector", "simpy"] = "vector"
    chunk_incidents: int = Field(default=DEFAULT_CHUNK_INCIDENTS, ge=100, le=MAX_INCIDENTS,
                                 description="longer replications run as independent chunks of this size")
    search: int | None = Field(default=None, ge=1, le=MAX_RUNS, description="Optuna trials instead of the full grid")
    search_batch: int = Field(default=4, ge=1, le=64,
                              description="trials proposed at once (fixed, so results do not depend on workers)")
    minimise: str = Field(default="mttr.mean", description="metric to minimise, e.g. mttr.SEV-1.p95")
    subject_to: list[str] = Field(default_factory=list, description="constraints, e.g. pages_per_week<=40")
    #: The plan validation made (every point compiled once); :func:`sim.sweep.plan.make_plan` hands it out.
    _plan: SweepPlan | None = PrivateAttr(default=None)

    @field_validator("vary", mode="before")
    @classmethod
    def _mapping_form(cls, value: Any) -> Any:
        if isinstance(value, dict):
            out = []
            for path, spec in value.items():
                if isinstance(spec, dict):
                    out.append({"path": path, **spec})
                elif isinstance(spec, str) and ":" in spec:
                    out.append({"path": path, "range": spec})
                else:
                    out.append({"path": path, "values": spec if isinstance(spec, list) else [spec]})
            return out
        return value

    @field_validator("policy", "runbook")
    @classmethod
    def _relative(cls, value: str | None, info: ValidationInfo) -> str | None:
        base = (info.context or {}).get("base_dir")
        if value is None:
            return value
        path = value if base is None or Path(value).is_absolute() else str(Path(base) / value)
        # a file that is not there is this sweep file's mistake: say so here, naming the field (the loader's
        # own error would name only the missing file)
        if (info.context or {}).get("check", True) and not Path(path).is_file():
            raise ValueError(f"no such file: {path!r}")
        return path

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Sweep:
        paths = [k.path for k in self.vary]
        if len(set(paths)) != len(paths):
            raise ValueError("vary: a path is listed twice")
        ranged = [k.path for k in self.vary if k.range is not None]
        if ranged and self.search is None:
            raise ValueError(f"vary: {ranged[0]} is a range; ranges need --search N (or give values)")
        if (info.context or {}).get("check", True):
            self._plan = prepare(self, (info.context or {}).get("path"))
        return self

    # -- what the sweep runs ------------------------------------------------------------------------------

    def checked_plan(self) -> SweepPlan | None:
        """The plan this sweep's validation built, None if it was validated without checks."""
        return self._plan

    def base_policy(self) -> Policy:
        from sim.policy import load_policy

        return load_policy(self.policy)

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the knobs' values (the first knob varies slowest)."""
        knobs = [k for k in self.vary if k.values is not None]
        return [dict(zip([k.path for k in knobs], combo, strict=True))
                for combo in itertools.product(*(k.values for k in knobs))]  # type: ignore[misc]


def prepare(sweep: Sweep, source: str | Path | None = None) -> SweepPlan:
    """Load the base policy and the runbook and check every path, value and metric name; returns the
    :class:`~sim.sweep.plan.SweepPlan`.  Errors name the sweep file (if any) and the path.

    The plan needs the sweep only as data (:mod:`sim.sweep.plan` never imports this module at run time), so
    the dependency goes one way: the file's validation builds its plan."""
    from sim.sweep.plan import build_plan

    try:
        return build_plan(sweep)
    except InputError as exc:
        if source is not None and exc.path is None:
            raise InputError(source, exc.field, exc.problem) from None
        raise


def parse_vary(text: str) -> dict[str, Any]:
    """``PATH=v1,v2,...`` (YAML values; commas inside [] or {} do not split) or ``PATH=lo:hi``."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path or not rest.strip():
        raise InputError(None, "--vary", f"{text!r}: write PATH=v1,v2,... or PATH=low:high")
    rest = rest.strip()
    if _is_range(rest):
        return {"path": path, "range": rest}
    values = []
    for item in _split_top_level(rest):
        try:
            values.append(yaml.safe_load(item))
        except yaml.YAMLError:
            raise InputError(None, path, f"cannot read value {item!r}") from None
    return {"path": path, "values": values}


def _is_range(text: str) -> bool:
    parts = text.split(":")
    if len(parts) != 2:
        return False
    try:
        float(parts[0]), float(parts[1])
    except ValueError:
        return False
    return True


def _range_fields(text: str, path: str) -> dict[str, Any]:
    if not _is_range(text):
        raise InputError(None, path, f"range {text!r}: write low:high, e.g. 1:4 or 5.0:60.0")
    lo, hi = text.split(":")
    integer = all(_is_int(v) for v in (lo, hi))
    return {"range": (float(lo), float(hi)), "integer": integer}


def _is_int(text: str) -> bool:
    try:
        int(text.strip())
    except ValueError:
        return False
    return True


def _split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += ch
    items.append(current.strip())
    return [i for i in items if i]


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> Sweep:
    """Read a sweep file, apply command-line overrides, validate everything (one-line errors)."""
    from gameday.files import read_yaml

    doc = read_yaml(path)
    if doc.get("kind") != "sweep":
        raise InputError(path, "kind", f"expected 'sweep', got {doc.get('kind')!r}")
    doc.update(overrides or {})
    return build_sweep(doc, Path(path).resolve().parent, path)


def build_sweep(doc: dict[str, Any], base_dir: Path, source: str | Path | None = None) -> Sweep:
    from pydantic import ValidationError

    from gameday.errors import from_validation_error

    try:
        return Sweep.model_validate(doc, context={"base_dir": base_dir, "path": source})
    except ValidationError as exc:
        raise from_validation_error(source, exc) from None
