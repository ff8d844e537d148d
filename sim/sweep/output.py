"""What a sweep leaves behind: the tidy table, a Pareto plot and the best point as a policy file."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import yaml

from gameday.errors import InputError
from sim.sweep.metrics import ALL, TIMES
from sim.sweep.paths import derive
from sim.sweep.run import SweepResult, value_of

#: metric columns the objective/constraint names map to, as people read them
LABELS = {"mean": "mean", "p95": "p95", "pages_per_week": "pages per week",
          "people_hours_per_week": "people-hours per week", "utilisation": "on-call utilisation",
          "compliance": "runbook compliance", "mttr_within_target": "MTTR within target"}


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Parquet or CSV by suffix."""
    path = Path(path)
    if path.suffix not in (".parquet", ".csv"):
        raise InputError(None, "--out", f"{path}: use a .parquet or .csv file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def metric_label(key: str, severity: str) -> str:
    """``mttr_p95``, ``SEV-1`` -> ``MTTR p95 (SEV-1)``."""
    head, _, stat = key.rpartition("_")
    if head in TIMES and stat in ("mean", "p95"):
        text = f"{head.upper() if head.startswith('mtt') else head.replace('_', ' ').capitalize()} {stat}"
    elif key.startswith("escalations_L"):
        text = f"L{key.split('_')[1][1:]} escalations per week"
    else:
        text = LABELS.get(key, key)
    return text if severity == ALL else f"{text} ({severity})"


def gain_text(result: SweepResult, point: int) -> str:
    """The best point's objective against the base: value, paired difference and its 95% CI."""
    key, severity = result.plan.objective
    frame = result.table
    row = frame[(frame["point"] == point) & (frame["severity"] == severity)].iloc[0]
    base = value_of(frame, 0, key, severity)
    unit = " min" if key.rpartition("_")[0] in TIMES else ""
    lo, hi = row[f"{key}_diff_low"], row[f"{key}_diff_high"]
    ci = f"95% CI [{lo:+.2f}, {hi:+.2f}]{unit}" if lo == lo else "no CI (one run)"
    return (f"{metric_label(key, severity)} {row[key]:.2f}{unit} vs {base:.2f}{unit} for the base: "
            f"{row[f'{key}_diff']:+.2f}{unit}, {ci}, paired on common random numbers")


def best_policy_yaml(result: SweepResult, point: int, name: str | None = None) -> str:
    """The chosen point as a ``kind: policy`` document whose description states its gain and CI."""
    plan = result.plan
    chosen = next(p.point for p in result.points if p.point.index == point)
    sweep = plan.sweep
    how = (f"{sweep.search} Optuna trials" if sweep.search else f"a grid of {len(result.points) - 1} points")
    constraints = f" subject to {', '.join(c.text for c in plan.constraints)}" if plan.constraints else ""
    description = (
        f"Sweep {sweep.name!r} over {plan.base.name} ({how}, minimise {sweep.minimise}{constraints}; "
        f"{sweep.incidents:,} incidents x {sweep.replications} replications per point, seed {sweep.seed}): "
        f"{chosen.label}. Gain over {plan.base.name}: {gain_text(result, point)}.")
    policy = derive(plan.base, chosen.changes, name=name or f"{plan.base.name}-best", description=description)
    doc = policy.model_dump(by_alias=True, mode="json", exclude_none=True)
    return yaml.safe_dump(doc, sort_keys=False, width=110, allow_unicode=True)


def write_best(result: SweepResult, path: str | Path, name: str | None = None) -> Path | None:
    if result.best is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(best_policy_yaml(result, result.best, name), encoding="utf-8")
    return path


def pareto_front(xs: list[float], ys: list[float]) -> list[int]:
    """Indices of the points no other point beats on both (lower is better on both axes)."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], ys[i]))
    front, best_y = [], math.inf
    for i in order:
        if ys[i] < best_y:
            front.append(i)
            best_y = ys[i]
    return front


def pareto_plot(result: SweepResult, path: str | Path) -> Path:
    """MTTR p95 (the objective's severity) against pages per week and people-hours per week."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, severity = result.plan.objective
    y_key = key if key.endswith("_p95") or key.endswith("_mean") else "mttr_p95"
    frame = result.table[result.table["severity"] == (severity if y_key == key else ALL)]
    allrows = result.table[result.table["severity"] == ALL].set_index("point")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    for ax, x_key in zip(axes, ("pages_per_week", "people_hours_per_week"), strict=True):
        xs = [float(allrows.loc[p, x_key]) for p in frame["point"]]
        ys = [float(v) for v in frame[y_key]]
        ax.scatter(xs, ys, s=18, color="#8aa1b8", label="points")
        front = pareto_front(xs, ys)
        ax.plot([xs[i] for i in front], [ys[i] for i in front], "-o", color="#d1495b", ms=4, label="Pareto front")
        points = list(frame["point"])
        base = points.index(0)
        ax.scatter([xs[base]], [ys[base]], marker="s", s=60, color="black", label="base", zorder=3)
        if result.best is not None and result.best in points:
            b = points.index(result.best)
            ax.scatter([xs[b]], [ys[b]], marker="*", s=160, color="#edae49", label="best", zorder=4)
        ax.set_xlabel(metric_label(x_key, ALL))
        ax.set_ylabel(f"{metric_label(y_key, severity if y_key == key else ALL)}, minutes")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(f"Sweep {result.plan.sweep.name}: {len(result.points)} policies on common random numbers")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
