"""Step-duration distributions as closed pydantic models, sampled by inverse CDF.

Every sample is ``ppf(u)`` of a uniform ``u`` so two policies fed the same uniforms see the same
quantile of their own distributions: common random numbers line up incident by incident.
All values are minutes.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from scipy import special

#: Longest duration a distribution may give or be centred on (a year, in minutes): beyond it a policy is a typo.
MAX_MINUTES = 525_600.0
#: Widest lognormal (sigma of the log): at 10 the 99.9th percentile is 10^13 times the median.
MAX_SIGMA = 10.0


class _Dist(BaseModel):
    """Closed, immutable and finite (NaN and infinities refused in every parameter)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """Draw with ``rng`` (one uniform per value); a float when ``size`` is None."""
        if size is None:
            return float(self.ppf(np.array([rng.random()]))[0])
        return self.ppf(rng.random(size))

    def mean(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class Fixed(_Dist):
    dist: Literal["fixed"] = "fixed"
    value: float = Field(ge=0, le=MAX_MINUTES, description="minutes")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value, dtype=float)

    def mean(self) -> float:
        return self.value


class Exponential(_Dist):
    dist: Literal["exponential"] = "exponential"
    mean_minutes: float = Field(gt=0, le=MAX_MINUTES, alias="mean")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return -self.mean_minutes * np.log1p(-np.asarray(u, dtype=float))

    def mean(self) -> float:
        return self.mean_minutes


class Lognormal(_Dist):
    """Give ``median`` and ``sigma`` (of the log), or ``mean`` and ``sd`` (of the value)."""

    dist: Literal["lognormal"] = "lognormal"
    median: float | None = Field(default=None, gt=0, le=MAX_MINUTES)
    sigma: float | None = Field(default=None, gt=0, le=MAX_SIGMA)
    mean_minutes: float | None = Field(default=None, gt=0, le=MAX_MINUTES, alias="mean")
    sd: float | None = Field(default=None, gt=0, le=MAX_MINUTES)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _params(self) -> Lognormal:
        if (self.median is None) == (self.mean_minutes is None):
            raise ValueError("give either median+sigma or mean+sd")
        if self.median is not None and self.sigma is None:
            raise ValueError("sigma is required with median")
        if self.mean_minutes is not None and self.sd is None:
            raise ValueError("sd is required with mean")
        if self.mean_minutes is not None and self.sd is not None and self.mu_sigma[1] > MAX_SIGMA:
            raise ValueError(f"sd {self.sd:g} around mean {self.mean_minutes:g} is a lognormal wider than "
                             f"sigma {MAX_SIGMA:g}")
        return self

    @property
    def mu_sigma(self) -> tuple[float, float]:
        if self.median is not None:
            return math.log(self.median), float(self.sigma)  # type: ignore[arg-type]
        m, s = float(self.mean_minutes), float(self.sd)  # type: ignore[arg-type]
        sigma2 = math.log1p((s / m) ** 2)
        return math.log(m) - sigma2 / 2, math.sqrt(sigma2)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        mu, sigma = self.mu_sigma
        return np.exp(mu + sigma * special.ndtri(np.asarray(u, dtype=float)))

    def mean(self) -> float:
        mu, sigma = self.mu_sigma
        return math.exp(mu + sigma * sigma / 2)


class Gamma(_Dist):
    dist: Literal["gamma"] = "gamma"
    shape: float = Field(gt=0, le=1e6)
    scale: float = Field(gt=0, le=MAX_MINUTES, description="minutes")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return special.gammaincinv(self.shape, np.asarray(u, dtype=float)) * self.scale

    def mean(self) -> float:
        return self.shape * self.scale


class Empirical(_Dist):
    """Resample observed minutes from a CSV (path relative to the policy file)."""

    dist: Literal["empirical"] = "empirical"
    path: str
    column: str | None = Field(default=None, description="default: the first numeric column")
    _values: np.ndarray = PrivateAttr(default_factory=lambda: np.empty(0))

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base_dir")
        path = Path(value)
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        return str(path)

    @model_validator(mode="after")
    def _load(self) -> Empirical:
        path = Path(self.path)
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh))
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not rows:
            raise ValueError(f"{path}: no rows")
        column = self.column
        if column is None:
            column = next((k for k, v in rows[0].items() if _is_number(v)), None)
            if column is None:
                raise ValueError(f"{path}: no numeric column")
        if column not in rows[0]:
            raise ValueError(f"{path}: no column {column!r}")
        values = [float(r[column]) for r in rows if _is_number(r[column])]
        if not values or min(values) < 0 or max(values) > MAX_MINUTES:
            raise ValueError(f"{path}: column {column!r} needs numbers from 0 to {MAX_MINUTES:g} minutes")
        self._values = np.sort(np.asarray(values, dtype=float))
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        n = len(self._values)
        index = np.minimum((np.asarray(u) * n).astype(np.int64), n - 1)
        return self._values[index]

    def mean(self) -> float:
        return float(self._values.mean())


def _is_number(text: str | None) -> bool:
    """A finite number (``nan`` and ``inf`` are words here, not durations)."""
    try:
        return math.isfinite(float(text))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


Distribution = Annotated[Fixed | Exponential | Lognormal | Gamma | Empirical, Field(discriminator="dist")]
