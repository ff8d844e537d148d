"""The scoring file: weights per check plus the few tolerances the runbook does not state.

The weights model is made from the check registry (:data:`gameday.scoring.catalogue.CHECKS`): one required,
non-negative field per registered check, nothing else, so a weights file that leaves a check out or names
one the registry does not know is refused in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from gameday.files import load_model
from gameday.scoring.catalogue import CHECKS, check_ids

DEFAULT_WEIGHTS = Path(__file__).with_name("weights.yaml")


#: Largest weight a check may have (the shipped weights sum to 100).
MAX_WEIGHT = 1000.0


class _WeightsBase(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_checks(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [str(k) for k in data if k not in check_ids()]
            if unknown:
                raise ValueError(f"no check named {unknown[0]!r} (checks: {', '.join(check_ids())})")
        return data


#: One field per registered check id (its weight); closed, so a typo in an override file is reported.
CheckWeights: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "CheckWeights",
    __base__=_WeightsBase,
    __doc__="One weight per registered check (gameday.scoring.checks), no other key.",
    **{c.id: (float, Field(ge=0, le=MAX_WEIGHT, description=c.title)) for c in CHECKS},
)


class ScoringConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["scoring"] = "scoring"
    weights: CheckWeights  # type: ignore[valid-type]
    verification_window_minutes: float = Field(default=5.0, gt=0, le=24 * 60, description="runbook minutes")
    update_grace_fraction: float = Field(default=0.1, ge=0, le=1)
    declaration_message_within_minutes: float = Field(
        default=5.0, ge=0, le=24 * 60,
        description="runbook minutes after the declaration by which its message is posted (Step 1.3: at once)")
    postmortem_required_for: list[Literal["drill", "sim", "timeline"]] = Field(default_factory=lambda: ["drill"])


def load_weights(path: str | Path | None = None) -> ScoringConfig:
    """The shipped weights, or an override file (same schema, every check named)."""
    return load_model(path or DEFAULT_WEIGHTS, ScoringConfig)
