"""Fit step-duration distributions (MLE, scipy) from drill journals or an incident-history CSV.

Intervals measured per incident (runbook minutes):

=============  =====================================  ==========================
interval       from -> to                             policy field it tunes
=============  =====================================  ==========================
detect         start -> detected / alert_firing       detection.user_report
acknowledge    detected -> acknowledged               responders.ack
assess         acknowledged -> severity_declared      steps.assess
mitigate       severity_declared -> mitigated         steps.investigate (lumped)
verify         mitigated -> verified (restored)       steps.verify
=============  =====================================  ==========================

Each interval is fitted as exponential, lognormal and gamma (location 0) and the lowest AIC wins.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

from gameday.errors import InputError

INTERVALS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # name: (start event types, end event types, policy field path)
    "detect": (("fault_injected", "incident_started"), ("alert_firing", "detected"), ("detection", "user_report")),
    "acknowledge": (("alert_firing", "detected"), ("acknowledged",), ("responders", "ack")),
    "assess": (("acknowledged",), ("severity_declared",), ("steps", "assess")),
    "mitigate": (("severity_declared",), ("mitigated",), ("steps", "investigate")),
    # restored, not resolved: "resolved" comes after the stability watch (gameday.metrics)
    "verify": (("mitigated",), ("verified",), ("steps", "verify")),
}
CSV_COLUMNS = {
    "start": ("started_at", "start", "fault_injected", "incident_started", "began"),
    "detected": ("detected_at", "detected", "alert_firing"),
    "acknowledged": ("acknowledged_at", "acknowledged", "acked_at"),
    "severity_declared": ("declared_at", "severity_declared", "declared"),
    "mitigated": ("mitigated_at", "mitigated"),
    "restored": ("restored_at", "verified_at", "restored", "verified"),
    "resolved": ("resolved_at", "resolved"),
}


def intervals_from_journals(paths: list[Path]) -> dict[str, list[float]]:
    from gameday.journal import load_frame

    return _intervals(load_frame(*paths))


def intervals_from_history(store: Path | None) -> dict[str, list[float]]:
    """The same intervals from the history store's drills and imported past incidents (``gameday history``);
    simulated baselines and generated examples are left out: calibration is about what the team did."""
    from gameday.history.store import HistoryStore

    frame = HistoryStore(store).frame(
        "SELECT e.key AS journal, e.incident, e.type, e.runbook_minutes FROM events e JOIN incidents i "
        "USING (key, incident) WHERE i.kind IN ('drill', 'incident')")
    return _intervals(frame)


def _intervals(frame: object) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in INTERVALS}
    for _, events in frame.groupby(["journal", "incident"], sort=True):  # type: ignore[attr-defined]
        first = events.groupby("type")["runbook_minutes"].min().to_dict()
        for name, (starts, ends, _) in INTERVALS.items():
            a = min((first[s] for s in starts if s in first), default=None)
            b = min((first[e] for e in ends if e in first), default=None)
            if a is not None and b is not None and b >= a:
                out[name].append(float(b - a))
    return out


def intervals_from_csv(path: Path) -> dict[str, list[float]]:
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(path, None, f"cannot read CSV: {exc}") from None
    lower = {c.lower(): c for c in table.columns}
    cols: dict[str, str] = {}
    for key, names in CSV_COLUMNS.items():
        for candidate in names:
            if candidate in lower:
                cols[key] = lower[candidate]
                break
    if "start" not in cols or len(cols) < 2:
        raise InputError(path, None, "need a start column (started_at) and at least one later timestamp column")
    times = {k: pd.to_datetime(table[c], utc=True, errors="coerce") for k, c in cols.items()}
    chain = {"detect": ("start", "detected"), "acknowledge": ("detected", "acknowledged"),
             "assess": ("acknowledged", "severity_declared"), "mitigate": ("severity_declared", "mitigated"),
             "verify": ("mitigated", "restored")}  # not resolved: that is the restore plus the stability watch
    out: dict[str, list[float]] = {name: [] for name in INTERVALS}
    for name, (a, b) in chain.items():
        if a in times and b in times:
            minutes = (times[b] - times[a]).dt.total_seconds() / 60.0
            out[name] = [float(m) for m in minutes.dropna() if m >= 0]
    return out


def fit(values: list[float]) -> dict:
    """MLE fits (loc=0); the chosen one is a policy distribution mapping."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"n": 0, "chosen": None, "fits": {}}
    if x.size < 3 or np.ptp(x) == 0 or (x <= 0).any():
        return {"n": int(x.size), "chosen": {"dist": "fixed", "value": float(np.median(x))}, "fits": {},
                "note": "too few or non-positive values for MLE; using the median"}
    fits = {}
    scale = float(x.mean())
    fits["exponential"] = {"params": {"mean": scale}, "loglik": float(stats.expon.logpdf(x, scale=scale).sum()),
                           "k": 1}
    shape, _, lscale = stats.lognorm.fit(x, floc=0)
    fits["lognormal"] = {"params": {"median": float(lscale), "sigma": float(shape)},
                         "loglik": float(stats.lognorm.logpdf(x, shape, scale=lscale).sum()), "k": 2}
    a, _, gscale = stats.gamma.fit(x, floc=0)
    fits["gamma"] = {"params": {"shape": float(a), "scale": float(gscale)},
                     "loglik": float(stats.gamma.logpdf(x, a, scale=gscale).sum()), "k": 2}
    for name, f in fits.items():
        f["aic"] = 2 * f["k"] - 2 * f["loglik"]
        f["ks"] = float(stats.kstest(x, _cdf(name, f["params"])).statistic)
    best = min(fits, key=lambda k: fits[k]["aic"])
    return {"n": int(x.size), "chosen": {"dist": best, **fits[best]["params"]}, "fits": fits}


def _cdf(name: str, params: dict):
    if name == "exponential":
        return stats.expon(scale=params["mean"]).cdf
    if name == "lognormal":
        return stats.lognorm(params["sigma"], scale=params["median"]).cdf
    return stats.gamma(params["shape"], scale=params["scale"]).cdf


def figure(data: dict[str, list[float]], fitted: dict[str, dict], path: Path) -> Path:
    """Goodness of fit: empirical CDF against each fitted CDF, one panel per interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in INTERVALS if fitted[n]["fits"]]
    cols = max(1, len(names))
    fig, axes = plt.subplots(1, cols, figsize=(4.2 * cols, 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=False):
        x = np.sort(np.asarray(data[name]))
        ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", color="black", label=f"observed (n={x.size})")
        grid = np.linspace(0, x.max() * 1.05, 200)
        for fam, f in fitted[name]["fits"].items():
            style = "-" if fam == fitted[name]["chosen"]["dist"] else ":"
            ax.plot(grid, _cdf(fam, f["params"])(grid), style, label=f"{fam} KS={f['ks']:.2f}")
        ax.set_title(name)
        ax.set_xlabel("minutes")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("CDF")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: Fewer values than this and a fit says so: the policy then carries the median, or the base's own value.
TOO_FEW = 5


def calibrate(inputs: list[Path], out: Path, base: Path | None = None, figure_path: Path | None = None,
              history: Path | bool | None = False) -> dict:
    """Fit every interval found and write a policy YAML (the base policy with fitted fields replaced); ``history``
    adds the store's drills and past incidents (True: the default store)."""
    import yaml

    from gameday.files import read_yaml
    from sim.policy import Policy

    data: dict[str, list[float]] = {name: [] for name in INTERVALS}
    journals = [p for p in inputs if p.suffix in (".jsonl", ".json")]
    csvs = [p for p in inputs if p.suffix == ".csv"]
    unknown = [p for p in inputs if p not in journals and p not in csvs]
    if unknown:
        raise InputError(unknown[0], None, "expected a journal (.jsonl) or an incident-history CSV (.csv)")
    parts = [intervals_from_journals(journals)] if journals else []
    if history is not False:
        parts.append(intervals_from_history(None if history is True else history))
    for part in parts + [intervals_from_csv(p) for p in csvs]:
        for name, values in part.items():
            data[name].extend(values)
    fitted = {name: fit(values) for name, values in data.items()}
    if not any(f["n"] for f in fitted.values()):
        raise InputError(inputs[0] if inputs else "the history store", None, "no measurable intervals found")
    doc = read_yaml(base) if base else {"kind": "policy", "name": out.stem.lower().replace("_", "-")}
    doc["name"] = _slug_name(out.stem)
    store = " and the history store" if history is not False else ""
    doc["description"] = f"calibrated from {len(inputs)} file(s){store}: " + ", ".join(
        f"{n} ({f['n']} values)" for n, f in fitted.items() if f["n"])
    for name, f in fitted.items():
        if f["chosen"] is None:
            continue
        section, key = INTERVALS[name][2]
        doc.setdefault(section, {})[key] = f["chosen"]
    Policy.model_validate(doc, context={"base_dir": out.parent})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    fig = figure(data, fitted, figure_path or out.with_suffix(".png"))
    intervals = {}
    for n, f in fitted.items():
        fits = {fam: {"aic": g["aic"], "ks": g["ks"], **g["params"]} for fam, g in f["fits"].items()}
        intervals[n] = {k: v for k, v in f.items() if k != "fits"} | {"fits": fits, "too_few": 0 < f["n"] < TOO_FEW}
    return {"policy": str(out), "figure": str(fig), "intervals": intervals}


def _slug_name(text: str) -> str:
    import re

    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name if name and name[0].isalnum() else f"calibrated-{name}".strip("-")


_ = math
