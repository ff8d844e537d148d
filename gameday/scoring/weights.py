"""The scoring file: weights per check plus the few tolerances the runbook does not state."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gameday.files import load_model

DEFAULT_WEIGHTS = Path(__file__).with_name("weights.yaml")


class CheckWeights(BaseModel):
    """One field per check id; closed so a typo in an override file is reported, not ignored."""

    model_config = ConfigDict(extra="forbid")

    severity_matches: float = Field(ge=0)
    declared_in_time: float = Field(ge=0)
    roles_assigned: float = Field(ge=0)
    war_room: float = Field(ge=0)
    paged: float = Field(ge=0)
    status_updates: float = Field(ge=0)
    hypothesis_before_fix: float = Field(ge=0)
    remediation_choice: float = Field(ge=0)
    verification_true: float = Field(ge=0)
    stability_watch: float = Field(ge=0)
    postmortem: float = Field(ge=0)
    unaided: float = Field(ge=0)


class ScoringConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["scoring"] = "scoring"
    weights: CheckWeights
    verification_window_minutes: float = Field(default=5.0, gt=0, description="runbook minutes")
    update_grace_fraction: float = Field(default=0.1, ge=0, le=1)
    postmortem_required_for: list[Literal["drill", "sim", "timeline"]] = Field(default_factory=lambda: ["drill"])


def load_weights(path: str | Path | None = None) -> ScoringConfig:
    """The shipped weights, or an override file (same schema, every check named)."""
    return load_model(path or DEFAULT_WEIGHTS, ScoringConfig)
