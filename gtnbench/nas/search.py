"""Random search guided by a proxy under a compute budget: a pure-numpy simulation (no torch).

Given a pool of architectures with a proxy score and a ground truth each, a
search with budget B draws floor(B / seconds_per_arch) architectures uniformly
without replacement, scores them with the proxy, and keeps the best-scored
one. Its outcome is that architecture's ground truth and its regret against
the best architecture of the whole space.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from gtnbench.metrics import mean_std


@dataclass(frozen=True)
class Summary:
    """One outcome over the search seeds: mean, sample std, median and the per-seed values."""

    mean: float
    std: float
    median: float
    values: tuple[float, ...]

    @classmethod
    def of(cls, values: np.ndarray) -> Summary:
        mean, std = mean_std(values)
        return cls(mean=mean, std=std, median=float(np.median(values)), values=tuple(float(v) for v in values))


@dataclass(frozen=True)
class BudgetResult:
    """The searches at one budget. All NaN when the budget buys no architecture (n_evaluated == 0)."""

    budget_seconds: float
    n_evaluated: int
    accuracy: Summary
    regret: Summary


def affordable(budget_seconds: float, seconds_per_arch: float, pool_size: int) -> int:
    """Architectures a budget pays for: floor(budget / cost), capped at the pool size."""
    ratio = budget_seconds / seconds_per_arch
    if ratio >= pool_size:
        return pool_size
    # The epsilon keeps float noise (0.3 / 0.1 = 2.9999999999999996) from losing an architecture.
    return math.floor(ratio + 1e-9)


def _search_orders(pool_size: int, n_seeds: int, seed: int) -> np.ndarray:
    """One random order of the pool per search seed (row s depends only on seed, s and pool_size)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(pool_size) for _ in range(n_seeds)])


def _picks(orders: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """Per order, the best-scored of its first n architectures (ties: first drawn; NaN scores never win)."""
    drawn = orders[:, :n]
    ranked = np.where(np.isnan(scores), -np.inf, scores)[drawn]
    return drawn[np.arange(len(drawn)), np.argmax(ranked, axis=1)]


def _validate(
    scores: np.ndarray,
    truth: np.ndarray,
    seconds_per_arch: float,
    budgets: Sequence[float],
    best_possible: float,
    n_seeds: int,
) -> None:
    if scores.ndim != 1 or scores.shape != truth.shape or len(scores) == 0:
        raise ValueError(f"scores and truth must be 1-D, aligned and non-empty, got {scores.shape} and {truth.shape}")
    if not seconds_per_arch > 0:
        raise ValueError(f"seconds_per_arch must be positive, got {seconds_per_arch}")
    if any(not b >= 0 for b in budgets):
        raise ValueError(f"budgets must be non-negative, got {list(budgets)}")
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")
    # A pool better than the best of the whole space means mixed units (% vs fraction) or columns.
    if np.nanmax(truth) > best_possible + 1e-9:
        raise ValueError(f"best_possible={best_possible} is below the pool's best truth {np.nanmax(truth)}")


def simulate_search(
    scores: ArrayLike,
    truth: ArrayLike,
    seconds_per_arch: float,
    budgets_seconds: Sequence[float],
    *,
    best_possible: float,
    n_seeds: int = 10,
    seed: int = 0,
) -> list[BudgetResult]:
    """Proxy-guided random search at each budget, repeated over n_seeds search seeds.

    Common random numbers: search seed s draws the pool in one random order
    that depends only on `seed`, s and the pool size, so two proxies scoring
    the same pool are compared on the very same draws, and a larger budget
    extends a smaller one's draws (per seed, regret never rises with budget).
    `best_possible` is the best ground truth of the whole space (e.g. 94.37 on
    NAS-Bench-201 CIFAR-10), in the units of `truth`.
    """
    proxy, target = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    _validate(proxy, target, seconds_per_arch, budgets_seconds, best_possible, n_seeds)
    orders = _search_orders(len(proxy), n_seeds, seed)
    results = []
    for budget in budgets_seconds:
        n = affordable(budget, seconds_per_arch, len(proxy))
        accuracy = target[_picks(orders, proxy, n)] if n > 0 else np.full(n_seeds, math.nan)
        results.append(
            BudgetResult(
                budget_seconds=float(budget),
                n_evaluated=n,
                accuracy=Summary.of(accuracy),
                regret=Summary.of(best_possible - accuracy),
            )
        )
    return results


def simulate_searches(
    proxies: Mapping[str, tuple[ArrayLike, float]],
    truth: ArrayLike,
    budgets_seconds: Sequence[float],
    *,
    best_possible: float,
    n_seeds: int = 10,
    seed: int = 0,
) -> dict[str, list[BudgetResult]]:
    """simulate_search for each proxy name -> (scores, seconds_per_arch), all on the same draws."""
    return {
        name: simulate_search(
            scores, truth, seconds_per_arch, budgets_seconds, best_possible=best_possible, n_seeds=n_seeds, seed=seed
        )
        for name, (scores, seconds_per_arch) in proxies.items()
    }


def search_orders(pool_size: int, n_seeds: int, seed: int = 0) -> np.ndarray:
    """The random orders in which the searches draw the pool ([n_seeds, pool_size]; see simulate_search)."""
    return _search_orders(pool_size, n_seeds, seed)


def mean_pick_curve(scores: ArrayLike, truth: ArrayLike, orders: np.ndarray) -> np.ndarray:
    """Seed-mean ground truth of the architecture a proxy-guided search picks after drawing n = 1, 2, ...,
    pool architectures: element n - 1 of the result. Each row of `orders` is one search seed's draw order;
    the pick is the best-scored architecture drawn so far (ties: the first drawn; NaN scores never win)."""
    proxy, target = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    return mean_pick_curves(proxy[None], target[None], orders)[0]


def mean_pick_curves(scores: np.ndarray, truth: np.ndarray, orders: np.ndarray, chunk: int = 32) -> np.ndarray:
    """`mean_pick_curve` of each row of `scores` [B, n] with the matching row of `truth` [B, n], all on the
    same draw orders [search seeds, n]: [B, n] (a bootstrap's resampled pools in one vectorised pass)."""
    scores, truth = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    positions = np.arange(orders.shape[1])
    out = np.empty(scores.shape)
    for start in range(0, len(scores), chunk):
        rows = slice(start, start + chunk)
        ranked = np.where(np.isnan(scores[rows]), -np.inf, scores[rows])[:, orders]  # [b, seeds, n]
        best = np.maximum.accumulate(ranked, axis=2)
        previous = np.concatenate([np.full(ranked.shape[:2] + (1,), -np.inf), best[..., :-1]], axis=2)
        newer = (ranked > previous) | (positions == 0)
        picked = np.maximum.accumulate(np.where(newer, positions, 0), axis=2)
        drawn = np.take_along_axis(np.broadcast_to(orders, ranked.shape), picked, axis=2)
        out[rows] = np.take_along_axis(truth[rows][:, None, :], drawn, axis=2).mean(axis=1)
    return out


def cells_to_reach(curve: np.ndarray, target: float) -> float:
    """The smallest number of evaluated architectures at which `curve` (a mean_pick_curve) reaches `target`;
    math.inf if it never does."""
    return float(cells_to_reach_rows(np.asarray(curve)[None], np.array([target]))[0])


def cells_to_reach_rows(curves: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """`cells_to_reach` of each row of `curves` [B, n] at the matching target [B]: [B] (inf: never)."""
    reached = np.asarray(curves) >= np.asarray(targets, dtype=float)[:, None]
    first = np.argmax(reached, axis=1).astype(float) + 1
    first[~reached.any(axis=1)] = math.inf
    return first
