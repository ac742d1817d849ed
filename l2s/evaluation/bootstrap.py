"""Bootstrap intervals over clips: how sure a figure is, and whether two runs really differ.

An error rate of a split is pooled over its clips (edits over reference units, so long
clips weigh more), and figures over several languages are the mean of each language's rate.
Resampling the clips of each language with replacement (stratified, so every draw keeps
each language's clip count) gives the spread such a figure would have on another draw of
clips of the same kind. Two runs scored on the same clips are compared by their paired
difference: both are resampled with the same indices, so what the clips have in common
(a hard speaker, a long sentence) cancels and only the runs' difference is left.

The interval says nothing about the training's own luck: two seeds of one recipe can
differ by more than it. Figures that compare recipes show the seeds' range beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DRAWS = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def __format__(self, spec: str) -> str:
        spec = spec or ".3f"
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


def interval(
    statistic: Callable[[np.ndarray], float],
    strata: np.ndarray,
    draws: int = DRAWS,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """`statistic(indices)` on every clip, and its percentile interval over `draws` resamples
    of the clip indices, drawn with replacement within each stratum (language)."""
    strata = np.asarray(strata)
    groups = [np.flatnonzero(strata == s) for s in dict.fromkeys(strata.tolist())]
    if not groups or any(len(g) == 0 for g in groups):
        raise ValueError("a bootstrap needs at least one clip")
    rng = np.random.default_rng(seed)
    values = np.array([statistic(np.concatenate([rng.choice(g, len(g)) for g in groups])) for _ in range(draws)])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(statistic(np.arange(len(strata)))), float(low), float(high))


def mean_rate(errors: np.ndarray, counts: np.ndarray, strata: np.ndarray) -> Callable[[np.ndarray], float]:
    """The statistic `interval` takes for an error rate: each stratum's pooled rate (errors
    over counts of the chosen clips), averaged over the strata."""
    errors, counts, strata = (np.asarray(a) for a in (errors, counts, strata))
    labels = list(dict.fromkeys(strata.tolist()))

    def statistic(idx: np.ndarray) -> float:
        s = strata[idx]
        return float(np.mean([errors[idx][s == k].sum() / max(counts[idx][s == k].sum(), 1) for k in labels]))

    return statistic


def rate_interval(errors, counts, strata, draws: int = DRAWS, seed: int = 0) -> Interval:
    """An error rate (mean over strata of the pooled rates) with its bootstrap interval."""
    return interval(mean_rate(errors, counts, strata), strata, draws, seed)


def mean_interval(values, draws: int = DRAWS, seed: int = 0) -> Interval:
    """The mean of per-clip scores (STOI, PESQ: NaN clips left out) with its interval."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return interval(lambda idx: float(values[idx].mean()), np.zeros(len(values)), draws, seed)


def as_metrics(found: Interval, digits: int = 4) -> dict[str, float]:
    """An interval's ends as a metrics file keeps them ({"low", "high"}: DVC shows numbers
    in nested keys, not lists)."""
    return {"low": round(found.low, digits), "high": round(found.high, digits)}


def paired_difference(errors_a, errors_b, counts, strata, draws: int = DRAWS, seed: int = 0) -> Interval:
    """Rate of run a minus rate of run b on the same clips (same `counts` and `strata`, clip
    by clip), with the interval of the difference under paired resampling."""
    a, b = mean_rate(errors_a, counts, strata), mean_rate(errors_b, counts, strata)
    return interval(lambda idx: a(idx) - b(idx), strata, draws, seed)
