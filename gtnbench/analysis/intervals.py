"""Intervals that keep their coverage at the seed counts a GPU budget allows (pure; numpy and scipy only).

A paper-scale suite runs 3-10 seeds. At such n a percentile bootstrap over seeds is far too narrow
(with 3 seeds its 2.5 % quantile is essentially the smallest seed, so a claim whose truth sits exactly
on its threshold read "reproduced" 10-14 % of the time: REVIEW-0bbbb51 N4). The claims therefore use:

- `mean_interval`: Student's t interval of a mean over seeds (mean +- t(n-1) s / sqrt(n));
- `difference_interval`: Welch's t interval of a difference of two means (independent seeds, unequal
  variances, Welch-Satterthwaite degrees of freedom);
- `log_ratio_interval`: Welch on logarithms, for a ratio of geometric means of positive counts, with
  right-censored values (a run that never got there) entering at their censoring limit, which makes
  the value and the lower bound lower bounds and leaves no finite upper bound;
- `crossing_interval`: the budget at which one curve of group means reaches a target group's mean, with
  bounds by test inversion (the budgets at which the Welch interval of the difference first admits,
  and first forces, a crossing);
- `fisher_greater`: the one-sided Fisher exact test of two counts of events.

Each interval is exact for normal data and approximately so otherwise; `gtnbench check --calibration`
measures how often each claim's rule says "reproduced" when its truth sits exactly on the threshold.
Percentile bootstraps remain where the sample is large: architectures (C6-C8, the NAS anchors).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A value and its two-sided interval; NaN bounds: no interval (fewer than two values on a side)."""

    value: float
    low: float = math.nan
    high: float = math.nan
    method: str = ""  # how the interval was made, in words ("t, 3 seeds")


def _clean(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _seeds(n: int) -> str:
    return f"{n} seed{'' if n == 1 else 's'}"


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Student's t interval of the mean of `values` (one per seed)."""
    x = _clean(values)
    n = len(x)
    if n == 0:
        return Interval(math.nan)
    mean = float(np.mean(x))
    if n < 2 or math.isnan(mean):
        return Interval(mean, method=_seeds(n))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * float(np.std(x, ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, f"t, {_seeds(n)}")


def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """mean(a) - mean(b), its standard error and Welch-Satterthwaite degrees of freedom (NaN below two
    values a side)."""
    x, y = _clean(a), _clean(b)
    diff = float(np.mean(x) - np.mean(y)) if len(x) and len(y) else math.nan
    if len(x) < 2 or len(y) < 2:
        return diff, math.nan, math.nan
    vx, vy = np.var(x, ddof=1) / len(x), np.var(y, ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0:
        return diff, 0.0, math.inf
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    return diff, se, float(df)


def difference_interval(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Welch's t interval of mean(a) - mean(b) (seeds of the two sides are independent runs)."""
    diff, se, df = welch(a, b)
    method = f"Welch, {len(a)} and {len(b)} seeds"
    if math.isnan(se) or math.isnan(diff):
        return Interval(diff, method=method)
    half = stats.t.ppf(0.5 + confidence / 2, df) * se if se > 0 else 0.0
    return Interval(diff, diff - half, diff + half, method)


def log_ratio_interval(
    numerator: Sequence[float], denominator: Sequence[float], limit: float, confidence: float = CONFIDENCE
) -> Interval:
    """The ratio of geometric means numerator / denominator with a Welch interval on the logarithms.

    Values of `numerator` that are infinite were censored at `limit` (the run ended before the event):
    they enter as `limit`, so the value and the lower bound become lower bounds, and the upper bound
    is infinite. Infinite values of `denominator` give NaN (nothing to divide by)."""
    top, bottom = _clean(numerator), _clean(denominator)
    if not len(top) or not len(bottom) or np.isinf(bottom).any() or (bottom <= 0).any():
        return Interval(math.nan)
    censored = bool(np.isinf(top).any())
    top = np.where(np.isinf(top), limit, top)
    if (top <= 0).any():
        return Interval(math.nan)
    d = difference_interval(np.log(top), np.log(bottom), confidence)
    method = d.method + (", censored at the run's end" if censored else "")
    if math.isnan(d.low):
        return Interval(math.exp(d.value), method=method)
    return Interval(math.exp(d.value), math.exp(d.low), math.inf if censored else math.exp(d.high), method)


def fisher_greater(events_a: int, total_a: int, events_b: int, total_b: int) -> float:
    """One-sided Fisher exact p-value for "side a has a higher event rate than side b"."""
    table = [[events_a, total_a - events_a], [events_b, total_b - events_b]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def _first_crossing(steps: Sequence[int], gaps: Sequence[float]) -> float:
    """The budget (interpolated in log steps) at which `gaps` (curve minus target, by budget) first
    reaches 0; math.inf if it never does; NaN if a gap is NaN before it does."""
    for i, gap in enumerate(gaps):
        if math.isnan(gap):
            return math.nan
        if gap >= 0:
            if i == 0:
                return float(steps[0])
            before = gaps[i - 1]
            share = -before / (gap - before) if gap != before else 1.0
            return float(math.exp(math.log(steps[i - 1]) + share * (math.log(steps[i]) - math.log(steps[i - 1]))))
    return math.inf


@dataclass(frozen=True)
class Crossing:
    """Where a curve reaches a target: the budget from the means, and the budgets from the Welch
    bounds (`earliest`: where the curve may already have reached the target; `latest`: where it
    surely has). inf: not within the measured budgets."""

    value: float
    earliest: float
    latest: float
    method: str


def crossing_interval(
    steps: Sequence[int], curve: Sequence[Sequence[float]], target: Sequence[float], confidence: float = CONFIDENCE
) -> Crossing:
    """The budget at which the curve (per budget, one value per seed) reaches the target's mean, by test
    inversion of Welch intervals of curve(budget) - target at each budget."""
    intervals = [difference_interval(c, target, confidence) for c in curve]
    value = _first_crossing(steps, [i.value for i in intervals])
    earliest = _first_crossing(steps, [i.high for i in intervals])
    latest = _first_crossing(steps, [i.low for i in intervals])
    sizes = sorted({len(c) for c in curve})
    method = f"Welch at each budget, {'-'.join(map(str, sizes))} and {len(target)} seeds"
    return Crossing(value, earliest, latest, method)
