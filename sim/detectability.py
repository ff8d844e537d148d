"""How many incidents does it take to *see* an MTTR improvement?  (Davidovič, "Incident Metrics in SRE",
Google, 2021.)

Monte Carlo: draw two groups of N incident durations from the same distribution, shrink the second by
the improvement, and look at what a team would observe: how often the "improved" MTTR came out *worse*,
how often it improved by at least X minutes, and the 90% interval of the observed difference of the
mean, the median and the geometric mean.
"""

from __future__ import annotations

import numpy as np

DEFAULT_GRID = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)


def _draw(rng: np.random.Generator, trials: int, n: int, sample: np.ndarray | None, median: float,
          sigma: float) -> np.ndarray:
    if sample is not None:
        return rng.choice(sample, size=(trials, n), replace=True)
    return np.exp(np.log(median) + sigma * rng.standard_normal((trials, n)))


def experiment(n: int, improvement: float, *, trials: int = 2000, seed: int = 0, sample: np.ndarray | None = None,
               median: float = 60.0, sigma: float = 1.2, threshold_minutes: float = 0.0) -> dict:
    """One group size ``n``: observed differences (before - after, positive = better) over ``trials``."""
    rng = np.random.default_rng(seed)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    chunk = max(1, 4_000_000 // max(n, 1))  # bound memory: at most ~4M durations per group at once
    for start in range(0, trials, chunk):
        rows = min(chunk, trials - start)
        before = _draw(rng, rows, n, sample, median, sigma)
        after = _draw(rng, rows, n, sample, median, sigma) * (1.0 - improvement)
        geo = lambda x: np.exp(np.log(np.maximum(x, 1e-9)).mean(axis=1))  # noqa: E731
        parts.append((before.mean(axis=1) - after.mean(axis=1),
                      np.median(before, axis=1) - np.median(after, axis=1), geo(before) - geo(after)))
    d_mean, d_median, d_geo = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return {
        "incidents_per_group": n,
        "improvement": improvement,
        "trials": trials,
        "p_worse": float((d_mean < 0).mean()),
        "p_improved_by_threshold": float((d_mean >= threshold_minutes).mean()),
        "threshold_minutes": threshold_minutes,
        "ci90_mean_difference": [float(x) for x in np.percentile(d_mean, [5, 95])],
        "ci90_median_difference": [float(x) for x in np.percentile(d_median, [5, 95])],
        "ci90_geomean_difference": [float(x) for x in np.percentile(d_geo, [5, 95])],
    }


def incidents_needed(improvement: float, *, grid=DEFAULT_GRID, trials: int = 1000, seed: int = 0, **kw) -> int | None:
    """Smallest N on the grid whose 90% interval of the observed mean difference excludes zero
    (i.e. the improvement shows as an improvement in >= 95% of trials)."""
    for n in grid:
        if experiment(n, improvement, trials=trials, seed=seed, **kw)["ci90_mean_difference"][0] > 0:
            return n
    return None


def count_trend_noise(counts: list[int], *, trials: int = 4000, seed: int = 0) -> dict:
    """Can a trend in monthly incident counts be told from noise?  Monte Carlo, in the spirit of the MTTR test
    above: draw the same months from a Poisson process with *no* trend at the observed mean rate and see how often
    the least-squares slope comes out at least as steep as the observed one (two-sided)."""
    n = len(counts)
    total = int(sum(counts))
    if n < 3 or total == 0:
        why = "no incidents" if total == 0 else f"{n} month{'s' * (n != 1)}"
        return {"p_value": None, "distinguishable": False, "months": n, "incidents": total,
                "text": f"{why}: too few to tell a trend from noise"}
    x = np.arange(n, dtype=float)
    x -= x.mean()
    observed = float(np.dot(x, np.asarray(counts, dtype=float)) / np.dot(x, x))
    rng = np.random.default_rng(seed)
    draws = rng.poisson(total / n, size=(trials, n)).astype(float)
    slopes = draws @ x / np.dot(x, x)
    p_value = float((np.abs(slopes) >= abs(observed) - 1e-12).mean())
    distinguishable = p_value < 0.05
    verdict = "can be told from noise" if distinguishable else "cannot be told from noise"
    return {"p_value": round(p_value, 3), "distinguishable": distinguishable, "months": n, "incidents": total,
            "slope_per_month": round(observed, 3),
            "text": f"{verdict}: with no trend at {total / n:.2g} incidents a month, a slope this steep comes up in "
                    f"{p_value:.0%} of {trials} simulated {n}-month spans"}
