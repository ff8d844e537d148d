"""Weighted fits: each observation counts by what its record can tell (:mod:`gameday.history.evidence`).

Durations are fitted by weighted maximum likelihood (exponential, lognormal, gamma at location 0; lowest AIC
wins, AIC from the weighted log-likelihood); decision odds are weighted proportions pulled towards the base
policy's value by one pseudo-observation, so a handful of incidents never gives odds of exactly 0 or 1.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special, stats

#: Pseudo-observations at the base policy's value behind every fitted probability.
PRIOR_WEIGHT = 1.0


def weighted_median(values: list[float], weights: list[float]) -> float | None:
    """The value at half the total weight (the lower one on a tie); None without weight."""
    x, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    keep = w > 0
    if not keep.any():
        return None
    order = np.argsort(x[keep], kind="stable")
    x, w = x[keep][order], w[keep][order]
    cum = np.cumsum(w)
    half = cum[-1] / 2.0
    i = int(np.searchsorted(cum, half))
    if math.isclose(cum[i], half) and i + 1 < x.size:
        return float((x[i] + x[i + 1]) / 2.0)
    return float(x[i])


def fit(values: list[float], weights: list[float]) -> dict:
    """Weighted MLE fits; ``chosen`` is a policy distribution mapping, None when the values cannot carry one."""
    x, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    keep = np.isfinite(x) & (w > 0)
    x, w = x[keep], w[keep]
    if x.size < 3 or np.ptp(x) == 0 or (x <= 0).any():
        return {"chosen": None, "fits": {}}
    w = w / w.mean()  # weights relative to the average observation: AIC stays on the scale of the count
    fits: dict[str, dict] = {}
    mean = float(np.average(x, weights=w))
    fits["exponential"] = _scored(x, w, "exponential", {"mean": mean}, 1)
    logs = np.log(x)
    mu = float(np.average(logs, weights=w))
    sigma = float(math.sqrt(np.average((logs - mu) ** 2, weights=w)))
    if sigma > 0:
        fits["lognormal"] = _scored(x, w, "lognormal", {"median": math.exp(mu), "sigma": sigma}, 2)
    gap = math.log(mean) - mu  # log of the weighted mean minus the weighted mean log: > 0 unless constant
    if gap > 0:
        shape = optimize.brentq(lambda a: math.log(a) - special.digamma(a) - gap, 1e-6, 1e7)
        fits["gamma"] = _scored(x, w, "gamma", {"shape": shape, "scale": mean / shape}, 2)
    best = min(fits, key=lambda k: fits[k]["aic"])
    return {"chosen": {"dist": best, **fits[best]["params"]}, "fits": fits}


def _scored(x: np.ndarray, w: np.ndarray, name: str, params: dict, k: int) -> dict:
    loglik = float(np.sum(w * _dist(name, params).logpdf(x)))
    ks = float(stats.kstest(x, _dist(name, params).cdf).statistic)
    return {"params": params, "loglik": loglik, "k": k, "aic": 2 * k - 2 * loglik, "ks": ks}


def _dist(name: str, params: dict):
    if name == "exponential":
        return stats.expon(scale=params["mean"])
    if name == "lognormal":
        return stats.lognorm(params["sigma"], scale=params["median"])
    return stats.gamma(params["shape"], scale=params["scale"])


def cdf(name: str, params: dict):
    return _dist(name, params).cdf


def proportion(yes: list[float], trials: list[float], weights: list[float], prior: float) -> float:
    """Weighted successes over weighted trials, with ``PRIOR_WEIGHT`` trials at ``prior``."""
    y = float(np.dot(yes, weights)) + PRIOR_WEIGHT * prior
    n = float(np.dot(trials, weights)) + PRIOR_WEIGHT
    return min(max(y / n, 0.0), 1.0)
