"""Medians and p90s with intervals that stay honest at a handful of incidents.

The interval of a quantile comes from order statistics (the number of values below the true quantile is
binomial), so it needs no assumption about the shape of the durations; with too few values one or both ends are
unbounded, shown as such instead of a made-up figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

LEVEL = 0.95


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (linear interpolation, numpy's default); None for no values."""
    import numpy as np

    return float(np.quantile(np.asarray(values, dtype=float), q)) if len(values) else None


def quantile_interval(values: Sequence[float], q: float, level: float = LEVEL) -> tuple[float | None, float | None]:
    """A distribution-free ``level`` interval for the q-quantile: ``(lower, upper)``, None for an end the sample
    cannot bound (e.g. the p90 of nine incidents has no upper bound)."""
    data = sorted(float(v) for v in values)
    n = len(data)
    if n == 0:
        return None, None
    alpha = (1.0 - level) / 2.0
    cdf = _binomial_cdf(n, q)  # cdf[k] = P(B <= k), B ~ Binom(n, q): how many values fall below the quantile
    # lower: X(l) with P(B <= l - 1) <= alpha (the largest such l); upper: X(u) with P(B >= u) <= alpha
    lower_rank = max((k + 1 for k in range(n) if cdf[k] <= alpha), default=0)
    upper_rank = min((k for k in range(1, n + 1) if 1.0 - cdf[k - 1] <= alpha), default=n + 1)
    lower = data[lower_rank - 1] if lower_rank >= 1 else None
    upper = data[upper_rank - 1] if upper_rank <= n else None
    return lower, upper


def _binomial_cdf(n: int, q: float) -> list[float]:
    """P(B <= k) for k = 0..n (log-space pmf: exact enough for any n a store holds, no scipy import)."""
    log_q, log_p = math.log(q), math.log1p(-q)
    total, out = 0.0, []
    for k in range(n + 1):
        total += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_q
                          + (n - k) * log_p)
        out.append(min(total, 1.0))
    return out


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, median and p90 with their intervals (runbook minutes, 1 decimal)."""
    clean = [float(v) for v in values if v is not None and not math.isnan(v)]
    med_lo, med_hi = quantile_interval(clean, 0.5)
    p90_lo, p90_hi = quantile_interval(clean, 0.9)
    return {"n": len(clean), "median": r(quantile(clean, 0.5)), "median_low": r(med_lo), "median_high": r(med_hi),
            "p90": r(quantile(clean, 0.9)), "p90_low": r(p90_lo), "p90_high": r(p90_hi)}


def r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
