"""Fit a policy's decision odds and step durations to what the team's records measure, each weighted by what it
can tell (:mod:`gameday.history.evidence`), and say what was fitted and what kept the base policy's values.

Intervals measured per incident (runbook minutes) and the policy fields the simulator spends in them:

=============  =====================================  ================================================
interval       from -> to                             policy fields scaled together
=============  =====================================  ================================================
detect         start -> detected / alert_firing       detection.onset, detection.user_report
acknowledge    detected -> acknowledged               responders.ack
declare        acknowledged -> severity_declared      steps.assess, steps.declare
mitigate       severity_declared -> mitigated         the investigation loop's steps, fixes, role and SME
                                                      answers (:data:`sim.calibrate_match.STEPS_IN_MITIGATE`)
verify         mitigated -> verified (restored)       steps.verify
=============  =====================================  ================================================

Odds first (they set how often the loop turns), then each interval in lifecycle order: its fields are stretched
by one factor until the interval's simulated median is the observed weighted median
(:mod:`sim.calibrate_match`); a single-field interval with enough weight gets its weighted-MLE shape first.  An
interval or decision weighing less than ``TOO_FEW_WEIGHT`` real incidents keeps the base policy's value, and the
result says so.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from gameday.errors import InputError
from gameday.history.evidence import TOO_FEW_WEIGHT, too_few, too_few_text
from sim.calibrate_data import INTERVALS, Evidence, gather
from sim.calibrate_fit import cdf, fit, proportion, weighted_median
from sim.calibrate_match import group, match, median, put, simulated

DEFAULT_BASE = Path(__file__).resolve().parents[1] / "scenarios" / "policies" / "baseline.yaml"
DECISIONS = (
    "root_cause_probability",
    "rollback_probability",
    "rollback_success",
    "hotfix_success",
    "recurrence_probability",
)
#: Intervals the simulator has only on the declared path (the ticket path has no declaration or fix).
DECLARED_ONLY = ("declare", "mitigate", "verify")
#: Kept for callers of the old name: an interval needs this much weight (real incidents) to be fitted.
TOO_FEW = TOO_FEW_WEIGHT


def calibrate(
    inputs: list[Path],
    out: Path,
    base: Path | None = None,
    figure_path: Path | None = None,
    history: Path | bool | None = False,
    seed: int = 1,
) -> dict[str, Any]:
    """Fit, write the policy YAML (the base policy with fitted fields replaced) and a goodness-of-fit PNG, and
    return what was fitted, from what, with which weights, and what kept the base's value and why."""
    import yaml

    from gameday.files import read_yaml
    from gameday.runbook import load_runbook
    from sim.policy import Policy

    evidence = gather(inputs, history)
    if not evidence.intervals:
        where = inputs[0] if inputs else (history if isinstance(history, Path) else "the history store")
        raise InputError(where, None, "no measurable intervals found (no incident with two lifecycle events)")
    if not any(i["weight"] > 0 for i in evidence.intervals):
        where = inputs[0] if inputs else (history if isinstance(history, Path) else "the history store")
        why = "; ".join(sorted({i["why"] for i in evidence.intervals}))
        raise InputError(where, None, f"nothing here tells about the team (every incident weighs 0: {why})")
    base_path = base or DEFAULT_BASE
    doc = read_yaml(base_path)
    base_doc = copy.deepcopy(doc)
    base_dir = {"base_dir": base_path.parent}
    base_policy = Policy.model_validate(doc, context=base_dir)
    runbook = load_runbook()
    declared = runbook.declared_severities()

    decisions = {name: _fit_decision(evidence, name, base_policy, doc) for name in DECISIONS}
    intervals: dict[str, dict[str, Any]] = {}
    for name in INTERVALS:
        intervals[name] = _fit_interval(evidence, name, doc, runbook, declared, seed, base_dir)
    doc["name"] = _slug_name(out.stem)
    fitted = [n for n, f in intervals.items() if f["fitted"]]
    doc["description"] = (
        f"calibrated from {len(inputs)} file(s){' and the history store' if history else ''}"
        f": fitted {', '.join(fitted) or 'nothing'}; the rest is {base_path.stem}'s"
    )
    Policy.model_validate(doc, context={"base_dir": out.parent})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    fig = figure(evidence, intervals, figure_path or out.with_suffix(".png"))
    scaled = {f for i in intervals.values() if i["fitted"] for f in i["fields"]}
    return {
        "policy": str(out),
        "figure": str(fig),
        "base": str(base_path),
        "seed": seed,
        "intervals": intervals,
        "decisions": decisions,
        "ignored": evidence.ignored,
        "kept": _kept_steps(base_policy, scaled, intervals),
        "mttr": _mttr_check(evidence, base_doc, doc, runbook, declared, seed, base_dir),
    }


def _fit_decision(evidence: Evidence, name: str, base: Any, doc: dict) -> dict[str, Any]:
    rows = [d for d in evidence.decisions if d["decision"] == name]
    base_value = _probability(getattr(base.decisions, name))
    weight = float(sum(d["weight"] for d in rows))
    said = {
        "n": sum(1 for d in rows if d["weight"] > 0),
        "weight": round(weight, 3),
        "base": base_value,
        "weights": _weights(rows),
    }
    if not rows or weight == 0:
        return said | {"fitted": False, "value": base_value, "why": "not measured by any record that weighs"}
    if too_few(weight):
        return said | {"fitted": False, "value": base_value, "why": too_few_text(weight, said["n"])}
    value = round(
        proportion([d["yes"] for d in rows], [d["trials"] for d in rows], [d["weight"] for d in rows], base_value), 4
    )
    doc.setdefault("decisions", {})[name] = value
    return said | {
        "fitted": True,
        "value": value,
        "why": f"weighted proportion, {1:g} pseudo-observation at the base's {base_value:g}",
    }


def _fit_interval(
    evidence: Evidence, name: str, doc: dict, runbook: Any, declared: list[str], seed: int, base_dir: dict
) -> dict[str, Any]:
    from sim.policy import Policy

    rows = [i for i in evidence.intervals if i["interval"] == name]
    values, weights = [r["minutes"] for r in rows], [r["weight"] for r in rows]
    weight = float(sum(weights))
    said: dict[str, Any] = {
        "n": sum(1 for w in weights if w > 0),
        "weight": round(weight, 3),
        "weights": _weights(rows),
        "fitted": False,
        "fields": [],
        "too_few": False,
    }
    if not rows or weight == 0:
        return said | {"why": "not measured by any record that weighs" if rows else "not measured"}
    target = weighted_median(values, weights)
    said["observed_median"] = round(target, 3) if target is not None else None
    if too_few(weight):
        return said | {"too_few": True, "why": too_few_text(weight, said["n"])}
    policy = Policy.model_validate(doc, context=base_dir)
    paths = group(policy, name)
    shape = fit(values, weights)
    said["mle"] = shape
    if len(paths) == 1 and shape["chosen"] is not None:
        put(doc, paths[0], shape["chosen"])  # the weighted MLE's shape; the match below sets its median
    severities = declared if name in DECLARED_ONLY else [s.name for s in runbook.severities]
    shares = _shares(rows, severities) or {
        s: v for s, v in policy.arrivals_per_day.items() if s in severities and v > 0
    }
    found = match(doc, runbook, name, float(target), shares, seed, context=base_dir)
    doc.clear()
    doc.update(found.pop("doc"))
    return (
        said
        | found
        | {
            "fitted": True,
            "shares": shares,
            "why": f"scaled x{found['factor']:.3g} so the simulated median meets the observed",
        }
    )


def _shares(rows: list[dict[str, Any]], severities: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        if r["severity"] in severities and r["weight"] > 0:
            out[r["severity"]] = out.get(r["severity"], 0.0) + r["weight"]
    return out


def _weights(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per reason: how many observations, each weighing what."""
    out: dict[tuple[str, float], int] = {}
    for r in rows:
        key = (r["why"], round(float(r["weight"]), 4))
        out[key] = out.get(key, 0) + 1
    return [{"why": why, "weight": w, "n": n} for (why, w), n in sorted(out.items(), key=lambda kv: -kv[0][1])]


def _probability(value: Any) -> float:
    if isinstance(value, dict):
        return float(value.get("default", np.mean(list(value.values()))))
    return float(value)


def _kept_steps(base: Any, scaled: set[str], intervals: dict[str, dict]) -> list[dict[str, str]]:
    """Every duration field of the base policy that calibration left alone, and why."""
    owner = {".".join(p): name for name in INTERVALS for p in group(base, name)}
    fields = [f"steps.{s}" for s in type(base.steps).model_fields] + list(owner)
    out = []
    for f in dict.fromkeys(fields):
        if f in scaled:
            continue
        name = owner.get(f)
        why = (
            f"{name}: {intervals[name]['why']}"
            if name
            else "no interval the records measure covers it (the ticket path, closing, the review, updates)"
        )
        out.append({"field": f, "why": why})
    return out


def _mttr_check(
    evidence: Evidence, base: dict, calibrated: dict, runbook: Any, declared: list[str], seed: int, context: dict
) -> list[dict[str, Any]]:
    """Per declared severity observed: the observed MTTRs beside the base's and the calibrated policy's
    simulated medians (the same draws)."""
    out = []
    for severity in declared:
        seen = [o for o in evidence.outcomes if o["severity"] == severity]
        rows = [o for o in seen if o["weight"] > 0] or seen
        if not seen:
            continue
        values = [o["mttr"] for o in seen]
        # a timeline starts at its alert (its MTTR counts from detection): compare like with like
        span = "mttr" if any(o["from_start"] for o in rows) else "mttr_from_detection"
        sims = {}
        for label, doc in (("base", base), ("calibrated", calibrated)):
            sims[label] = median(simulated(doc, runbook, span, {severity: 1.0}, seed, context=context))
        out.append(
            {
                "severity": severity,
                "observed_n": len(seen),
                "weighing": sum(o["weight"] > 0 for o in seen),
                "observed_min": min(values),
                "observed_max": max(values),
                "observed_median": weighted_median([o["mttr"] for o in rows], [o["weight"] for o in rows]),
                "simulated_from": "start" if span == "mttr" else "detection",
                "simulated_base": sims["base"],
                "simulated_calibrated": sims["calibrated"],
                "within": min(values) <= sims["calibrated"] <= max(values),
            }
        )
    return out


def figure(evidence: Evidence, intervals: dict[str, dict], path: Path) -> Path:
    """Goodness of fit: the observed CDF (weighted) against each weighted-MLE fit, one panel per interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in INTERVALS if intervals[n].get("n")] or list(INTERVALS)[:1]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=False):
        rows = sorted(
            (r["minutes"], r["weight"]) for r in evidence.intervals if r["interval"] == name and r["weight"] > 0
        )
        ax.set_title(name)
        ax.set_xlabel("minutes")
        if not rows:
            continue
        x = np.asarray([r[0] for r in rows])
        w = np.cumsum([r[1] for r in rows])
        ax.step(x, w / w[-1], where="post", color="black", label=f"observed (n={x.size}, weighted)")
        grid = np.linspace(0, max(float(x.max()), 1e-3) * 1.05, 200)
        mle = intervals[name].get("mle") or {"fits": {}}
        for fam, f in mle["fits"].items():
            style = "-" if fam == mle["chosen"]["dist"] else ":"
            ax.plot(grid, cdf(fam, f["params"])(grid), style, label=f"{fam} KS={f['ks']:.2f}")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("CDF")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _slug_name(text: str) -> str:
    import re

    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name if name and name[0].isalnum() else f"calibrated-{name}".strip("-")
