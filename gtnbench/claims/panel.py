"""Intervals over seeds and cells for proxies that scored the same cells: the statistics of the NAS claims and
anchors (claims/nas.py, claims/anchors.py) in one place, pure numpy.

A proxy is one evaluation per cell: one seed's training (for a GTN proxy, on the GTN meta-trained
with that seed). A claim's quantity is therefore computed per seed and averaged over seeds. Its 95 %
interval is a t interval whose variance has two parts: the seeds' (a jackknife over each method's
seeds: a GTN meta-training with its proxies is one unit, so is a real-data proxy's seed, calibration
included) and the cells' (a bootstrap over the cells, every proxy resampled jointly: the comparison is
paired, with every seed kept); its degrees of freedom are Welch-Satterthwaite's of the seed parts
alone: the cells' part adds to the variance but never to the degrees of freedom (counted as exact, it
let a small seed spread pass for many: 4 ± 2 % "reproduced" for C6 on the threshold at 100 runs).
A percentile bootstrap over three seeds said "reproduced" 8 % of the time for C6 with the truth on
the threshold (`check --calibration`, 1,000 cells): its 2.5 % quantile is nearly the worst seed, and
three seeds cannot show the tail a t quantile on 2 degrees of freedom allows for.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from gtnbench.analysis.rankcorr import Proxy
from gtnbench.claims.verdicts import Estimate, Settings

RowStatistic = Callable[[np.ndarray, np.ndarray], np.ndarray]  # scores [B, n], truth [B, n] -> [B]


@dataclass(frozen=True)
class Panel:
    """Proxies' per-seed scores on one pool of cells (every proxy scored every cell in every seed)."""

    names: list[str]
    pool: list[int]
    truth: np.ndarray  # [n]
    scores: dict[str, dict[int, np.ndarray]]  # proxy -> seed -> [n]
    methods: dict[str, str]  # proxy -> its method (a method's proxies share their seeds' draws)

    def seeds(self, name: str) -> list[int]:
        return sorted(self.scores[name])

    def only_seed(self, seed: int) -> Panel:
        """The panel of one seed (proxies that did not run it keep all their seeds: tables, costs)."""
        scores = {n: ({seed: s[seed]} if seed in s else s) for n, s in self.scores.items()}
        return Panel(self.names, self.pool, self.truth, scores, self.methods)


@dataclass(frozen=True)
class Draws:
    """Rows of resampled cells [B, n] shared by every proxy, and per method the seeds each row averages
    [B, k] (positions in the method's sorted seeds)."""

    cells: np.ndarray
    seeds: dict[str, np.ndarray]


def _seed_counts(panel: Panel) -> dict[str, int]:
    return {panel.methods[n]: len(panel.seeds(n)) for n in panel.names}


def _every_seed(counts: dict[str, int], rows: int) -> dict[str, np.ndarray]:
    return {m: np.tile(np.arange(k), (rows, 1)) for m, k in counts.items()}


def whole_draw(panel: Panel) -> Draws:
    """One row: every cell, every seed (the point estimate)."""
    return Draws(np.arange(len(panel.pool))[None], _every_seed(_seed_counts(panel), 1))


def cell_draws(panel: Panel, settings: Settings) -> Draws:
    """`settings.resamples` rows of cells drawn with replacement, every seed kept."""
    rng = np.random.default_rng(settings.seed)
    cells = rng.integers(0, len(panel.pool), size=(settings.resamples, len(panel.pool)))
    return Draws(cells, _every_seed(_seed_counts(panel), settings.resamples))


def seed_jackknives(panel: Panel) -> list[tuple[int, Draws]]:
    """Per method with two or more seeds: its seed count k and k rows on every cell, row j leaving its seed j out."""
    counts, whole = _seed_counts(panel), np.arange(len(panel.pool))[None]
    out = []
    for method, k in sorted(counts.items()):
        if k >= 2:
            left_out = np.array([np.delete(np.arange(k), j) for j in range(k)])
            out.append((k, Draws(np.repeat(whole, k, axis=0), {**_every_seed(counts, k), method: left_out})))
    return out


RowsOf = Callable[[Draws], np.ndarray]  # draws -> the quantity in each row: [B] or [B, m]


def _spread(rows: np.ndarray) -> np.ndarray:
    """Variance over rows, NaN rows left out (a statistic undefined on a draw, as a constant row's Spearman);
    an infinite row makes it NaN (no interval)."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all rows NaN: NaN, said by the interval's absence
        variance = np.nanvar(np.where(np.isinf(rows), np.nan, rows), axis=0, ddof=1)
    return np.where(np.isinf(rows).any(axis=0), np.nan, variance)


def seed_t_bounds(
    panel: Panel, settings: Settings, of: RowsOf, confidence: float = 0.95, point: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The t interval of the quantity `of` computes: point ± t(df) sqrt(seed jackknife + cell bootstrap
    variance), df by Welch-Satterthwaite of the seed parts alone (a run with one seed per method gets the
    normal quantile). An infinite draw gives NaN bounds (no interval). `point`: `of` on every cell and
    seed, where the caller has it already."""
    point = of(whole_draw(panel))[0] if point is None else point
    cells = _spread(of(cell_draws(panel, settings)))
    parts = [((k - 1) ** 2 / k * _spread(of(draws)), k - 1) for k, draws in seed_jackknives(panel)]
    seeds = sum((v for v, _ in parts), np.zeros_like(cells))
    total = cells + seeds
    spread = sum((v * v / df for v, df in parts), np.zeros_like(cells))
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(spread > 0, seeds * seeds / np.where(spread > 0, spread, 1.0), np.inf)
        half = stats.t.ppf((1 + confidence) / 2, df) * np.sqrt(total)
    return point - half, point + half


def interval_method(panel: Panel, settings: Settings) -> str:
    counts = sorted({len(panel.seeds(n)) for n in panel.names})
    cells = f"{len(panel.pool)} cells ({settings.resamples} resamples)"
    if counts == [1]:
        return f"normal interval, bootstrap variance over {cells}"
    return f"t interval: jackknife over {'/'.join(map(str, counts))} seeds, bootstrap over {cells}"


SPEARMAN_LIMITS, SPEARMAN_GAP_LIMITS = (-1.0, 1.0), (-2.0, 2.0)  # where a Spearman, or a difference of two, can lie


def seed_t_estimate(
    panel: Panel, settings: Settings, of: RowsOf, limits: tuple[float, float] = (-math.inf, math.inf)
) -> Estimate:
    """A scalar quantity's point estimate (every cell and seed) with its `seed_t_bounds`, cut to the `limits`
    the quantity cannot leave (a cut interval covers as often)."""
    point = of(whole_draw(panel))[0]
    low, high = seed_t_bounds(panel, settings, of, point=point)
    return Estimate(
        float(point),
        float(np.clip(low, *limits)),
        float(np.clip(high, *limits)),
        interval_method(panel, settings),
    )


def per_seed_rows(panel: Panel, name: str, statistic: RowStatistic, cells: np.ndarray) -> np.ndarray:
    """The statistic of each seed of the proxy on each row of resampled cells: [seeds, B]."""
    truth = panel.truth[cells]
    return np.stack([statistic(panel.scores[name][s][cells], truth) for s in panel.seeds(name)])


def seed_mean(panel: Panel, name: str, statistic: RowStatistic) -> float:
    """The statistic on all the pool's cells, averaged over the proxy's seeds."""
    return float(two_stage(panel, whole_draw(panel), name, statistic)[0])


def two_stage(panel: Panel, draws: Draws, name: str, statistic: RowStatistic) -> np.ndarray:
    """The seed-averaged statistic in every bootstrap draw: [B]."""
    rows = per_seed_rows(panel, name, statistic, draws.cells)
    picks = draws.seeds[panel.methods[name]]
    return rows[picks, np.arange(len(picks))[:, None]].mean(axis=1)


def panel_of(proxies: dict[str, Proxy], truth: dict[int, float], names: list[str]) -> Panel:
    """The proxies `names` on the cells every one of them scored in every seed."""
    scored = [set.intersection(*(set(s) for s in proxies[n].scores.values())) for n in names]
    pool = sorted(set.intersection(*scored))
    scores = {n: {seed: np.array([s[a] for a in pool]) for seed, s in proxies[n].scores.items()} for n in names}
    return Panel(names, pool, np.array([truth[a] for a in pool]), scores, {n: proxies[n].method for n in names})
