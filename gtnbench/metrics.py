"""Summary statistics of measurements: pure functions of numbers (numpy/scipy, no torch)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value); NaN mean for no values."""
    if len(values) == 0:
        return math.nan, math.nan
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


# Rank agreement of a proxy with ground truth.
#
# `proxy` holds scores (higher = predicted better) and `truth` the ground-truth
# accuracies of the same architectures, aligned by position. Every metric is
# NaN, never an exception, when it is undefined, including when either input
# holds a NaN: a proxy that failed on some architectures must show, not be
# silently dropped.

Statistic = Callable[[np.ndarray, np.ndarray], float]


def _pair(proxy: ArrayLike, truth: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(proxy, dtype=float), np.asarray(truth, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"proxy and truth must be 1-D and aligned, got shapes {x.shape} and {y.shape}")
    return x, y


def _correlation_defined(x: np.ndarray, y: np.ndarray) -> bool:
    """At least 3 points, no NaN, neither input constant (infinite scores, such as NASWOT's -inf, rank fine)."""
    if len(x) < 3 or np.isnan(x).any() or np.isnan(y).any():
        return False
    return bool(np.unique(x).size > 1 and np.unique(y).size > 1)


def spearman(proxy: ArrayLike, truth: ArrayLike) -> float:
    """Signed Spearman rank correlation (ties get average ranks)."""
    x, y = _pair(proxy, truth)
    return float(stats.spearmanr(x, y).statistic) if _correlation_defined(x, y) else math.nan


def kendall(proxy: ArrayLike, truth: ArrayLike) -> float:
    """Signed Kendall tau-b (the variant that corrects for ties)."""
    x, y = _pair(proxy, truth)
    return float(stats.kendalltau(x, y).statistic) if _correlation_defined(x, y) else math.nan


def pearson(proxy: ArrayLike, truth: ArrayLike) -> float:
    """Signed Pearson correlation of the raw values (NaN when a value is infinite)."""
    x, y = _pair(proxy, truth)
    finite = np.isfinite(x).all() and np.isfinite(y).all()
    return float(stats.pearsonr(x, y).statistic) if finite and _correlation_defined(x, y) else math.nan


def top_k_count(n: int, k_percent: float) -> int:
    """How many of n items make the top k %: floor(n k / 100), at least one."""
    if not 0 < k_percent <= 100:
        raise ValueError(f"k_percent must be in (0, 100], got {k_percent}")
    # The epsilon keeps float noise (e.g. 29.999999) from losing an item.
    return max(1, math.floor(n * k_percent / 100 + 1e-9))


def top_k_mask(values: ArrayLike, k_percent: float) -> np.ndarray:
    """Boolean mask of the top k % of `values` (see top_k_count for the size).

    Ties are broken by position (the earlier element wins); NaN ranks below
    every number.
    """
    array = np.asarray(values, dtype=float)
    order = np.argsort(-array, kind="stable")
    mask = np.zeros(len(array), dtype=bool)
    mask[order[: top_k_count(len(array), k_percent)]] = True
    return mask


def precision_at_k(proxy: ArrayLike, truth: ArrayLike, k_percent: float) -> float:
    """Fraction of the top k % by proxy that are also in the top k % by truth."""
    x, y = _pair(proxy, truth)
    if len(x) == 0 or np.isnan(x).any() or np.isnan(y).any():
        return math.nan
    by_proxy = top_k_mask(x, k_percent)
    return float((by_proxy & top_k_mask(y, k_percent)).sum() / by_proxy.sum())


def spearman_top_k(proxy: ArrayLike, truth: ArrayLike, k_percent: float, by: str = "proxy") -> float:
    """Spearman restricted to the top k % of architectures ranked by `by` ("proxy" or "truth").

    by="proxy", k=50 is claim C7's definition: how well the proxy orders the
    architectures it would pick. by="truth" asks how well it orders the good ones.
    """
    x, y = _pair(proxy, truth)
    if by not in ("proxy", "truth"):
        raise ValueError(f'by must be "proxy" or "truth", got {by!r}')
    if len(x) == 0:
        return math.nan
    mask = top_k_mask(x if by == "proxy" else y, k_percent)
    return spearman(x[mask], y[mask])


def _k_label(k_percent: float) -> str:
    return f"{k_percent:g}"


def rank_metrics(proxy: ArrayLike, truth: ArrayLike, ks: Sequence[float] = (5, 10, 20, 50)) -> dict[str, float]:
    """Every rank metric under a stable key.

    Keys: "spearman", "kendall", "pearson", and per k: "precision_at_{k}",
    "spearman_top{k}_by_proxy", "spearman_top{k}_by_truth" (k printed with
    format "g": 10 -> "10", 12.5 -> "12.5").
    """
    results = {"spearman": spearman(proxy, truth), "kendall": kendall(proxy, truth), "pearson": pearson(proxy, truth)}
    for k in ks:
        label = _k_label(k)
        results[f"precision_at_{label}"] = precision_at_k(proxy, truth, k)
        results[f"spearman_top{label}_by_proxy"] = spearman_top_k(proxy, truth, k, by="proxy")
        results[f"spearman_top{label}_by_truth"] = spearman_top_k(proxy, truth, k, by="truth")
    return results


def bootstrap_ci(
    statistic: Statistic,
    proxy: ArrayLike,
    truth: ArrayLike,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    rows: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> tuple[float, float]:
    """Paired bootstrap percentile interval of `statistic(proxy, truth)`.

    Architectures are resampled with replacement, keeping each (proxy, truth)
    pair together. The percentile method is used rather than BCa because BCa
    needs a jackknife pass (n extra evaluations of the statistic) and breaks
    down on the bounded, often degenerate, distributions of top-k metrics.
    NaN-safe: (NaN, NaN) when the statistic is undefined on the data itself;
    otherwise resamples on which it is undefined (e.g. a constant resample)
    are left out of the percentiles. Deterministic given `seed`.
    Pass a parameterised metric with functools.partial, e.g.
    partial(spearman_top_k, k_percent=50, by="proxy"); `rows`, the same statistic of each row pair of
    [B, n] arrays (`spearman_rows_of`, `spearman_top_k_rows_of`), evaluates the resamples in one call
    (the same resamples: scipy draws them alike either way).
    """
    x, y = _pair(proxy, truth)
    if len(x) < 2 or math.isnan(statistic(x, y)):
        return math.nan, math.nan
    with warnings.catch_warnings():
        # scipy warns when NaN resamples make its own interval NaN; ours below skips them.
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            (x, y),
            statistic if rows is None else lambda a, b, axis=-1: _by_rows(rows, a, b),
            vectorized=rows is not None,
            paired=True,
            n_resamples=n_resamples,
            batch=100,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    distribution = result.bootstrap_distribution
    if np.isnan(distribution).all():
        return math.nan, math.nan
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(distribution, [alpha, 1 - alpha])
    return float(low), float(high)


# Speed-up accounting.
#
# A real-data curve gives, for increasing step budgets, one value each: a
# correlation with ground truth (how many real steps match a proxy's ranking
# quality) or a test accuracy (how many real steps reach the same accuracy).
# Both read the same way: steps_to_reach(real curve, method's value).


def steps_to_reach(real_steps: ArrayLike, real_values: ArrayLike, target: float) -> float:
    """Real-data steps needed to reach `target`, interpolated linearly in log2(steps).

    Uses the first crossing of the curve (it need not be monotone). Returns
    math.inf when the curve never reaches the target (the real budget needed
    is then beyond the last step: the speed-up is at least last/method_steps).
    Returns the first step count when the first point already reaches it: the
    real budget needed is then at most that, so a speed-up computed from it is
    an upper bound. A NaN value counts as not reached; a crossing right after
    a NaN point returns the crossing point's steps (no interpolation). NaN
    target -> NaN.
    """
    steps, values = np.asarray(real_steps, dtype=float), np.asarray(real_values, dtype=float)
    if steps.ndim != 1 or steps.shape != values.shape or len(steps) == 0:
        raise ValueError("real_steps and real_values must be 1-D, aligned and non-empty")
    if (steps <= 0).any() or (np.diff(steps) <= 0).any():
        raise ValueError("real_steps must be positive and strictly increasing")
    if math.isnan(target):
        return math.nan
    reached = np.flatnonzero(values >= target)
    if len(reached) == 0:
        return math.inf
    i = int(reached[0])
    if i == 0 or math.isnan(values[i - 1]):
        return float(steps[i])
    fraction = (target - values[i - 1]) / (values[i] - values[i - 1])
    log_steps = math.log2(steps[i - 1]) + fraction * (math.log2(steps[i]) - math.log2(steps[i - 1]))
    return float(2.0**log_steps)


# Percentile intervals over architectures (the NAS claims and anchors: a bootstrap over hundreds of cells,
# with seeds resampled too where there are several; claims/nas.py). Over a handful of seeds the claims use t
# and Welch intervals instead (analysis/intervals.py).


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    draws = draws[~np.isnan(draws)]
    if len(draws) == 0:
        return math.nan, math.nan
    alpha = (1 - confidence) / 2
    return float(np.quantile(draws, alpha, method="lower")), float(np.quantile(draws, 1 - alpha, method="higher"))


def interval_of(draws: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap draws (NaN draws left out; inf kept)."""
    return _percentiles(np.asarray(draws, dtype=float), confidence)


def spearman_rows(proxy: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Spearman of each row of `proxy` [B, n] with the matching row of `truth` [B, n] (average ranks
    for ties; NaN for a constant row or a row holding NaN): the vectorised form of `spearman`."""
    x, y = np.asarray(proxy, dtype=float), np.asarray(truth, dtype=float)
    bad = np.isnan(x).any(axis=1) | np.isnan(y).any(axis=1)
    rx = stats.rankdata(np.where(np.isnan(x), 0, x), axis=1)
    ry = stats.rankdata(np.where(np.isnan(y), 0, y), axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    denominator = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=1) / denominator
    rho[bad | (denominator == 0)] = math.nan
    return rho


def spearman_top_k_rows(proxy: np.ndarray, truth: np.ndarray, k_percent: float) -> np.ndarray:
    """`spearman_top_k(by="proxy")` of each row pair: Spearman within the top k % of each row by its proxy
    score (ties: the earlier position; NaN ranks last), vectorised over rows."""
    x, y = np.asarray(proxy, dtype=float), np.asarray(truth, dtype=float)
    keep = top_k_count(x.shape[1], k_percent)
    order = np.argsort(np.where(np.isnan(x), np.inf, -x), axis=1, kind="stable")[:, :keep]
    return spearman_rows(np.take_along_axis(x, order, axis=1), np.take_along_axis(y, order, axis=1))


def _by_rows(rows: Callable[[np.ndarray, np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A row statistic on arrays of any leading shape [..., n] (scipy passes one sample as [n])."""
    n = np.shape(a)[-1]
    return rows(np.reshape(a, (-1, n)), np.reshape(b, (-1, n))).reshape(np.shape(a)[:-1])


def spearman_rows_of(proxy: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """`spearman` of each row pair: `spearman_rows`, NaN below 3 points as `spearman` gives."""
    rho = spearman_rows(proxy, truth)
    return rho if np.shape(proxy)[-1] >= 3 else np.full_like(rho, math.nan)


def spearman_top_k_rows_of(k_percent: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """`spearman_top_k(by="proxy")` of each row pair, NaN where the top k % holds fewer than 3 points."""

    def rows(proxy: np.ndarray, truth: np.ndarray) -> np.ndarray:
        rho = spearman_top_k_rows(proxy, truth, k_percent)
        return rho if top_k_count(np.shape(proxy)[-1], k_percent) >= 3 else np.full_like(rho, math.nan)

    return rows
