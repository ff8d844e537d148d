"""Policies built in code for theory tests: every step 0 except the one under study."""

from __future__ import annotations

from typing import Any

from sim.policy import Policy

ZERO = {"dist": "fixed", "value": 0.0}


def queue_policy(rate_per_minute: float, service_mean: float, oncall: int | None, **extra: Any) -> Policy:
    """SEV-1 incidents whose only time-consuming step is one exponential investigation (M/M/c)."""
    steps = {name: ZERO for name in ("assess", "declare", "ticket", "assign", "assemble", "war_room", "hypothesis",
                                     "escalate", "rollback", "hotfix", "verify", "close", "review", "status_update")}
    steps["investigate"] = {"dist": "exponential", "mean": service_mean}
    doc: dict[str, Any] = {
        "kind": "policy",
        "name": "mmc",
        "arrivals_per_day": {"SEV-1": rate_per_minute * 1440.0},
        "detection": {"alert_probability": 0.0, "user_report": ZERO},
        "responders": {"oncall": oncall, "answer_probability": 1.0, "ack": ZERO},
        "escalation": {"severities": []},
        "steps": steps,
        "decisions": {"root_cause_probability": 1.0, "rollback_probability": 1.0, "rollback_success": 1.0,
                      "recurrence_probability": 0.0},
        "stability_minutes": 0.0,
    }
    for key, value in extra.items():
        doc[key] = value
    return Policy.model_validate(doc)
