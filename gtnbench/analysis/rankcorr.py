"""From NAS proxy records to rank correlations, speed-ups and search curves (pure; no torch).

The records of one run score architectures of one search space (details["space"]: "nb201" or
"macro"; records older than the field are NAS-Bench-201's); ground_truth_of gives its table.

A *proxy* here is one column of scores over the sampled architectures: a train-based method
at one step budget ("real@128"), one training-free score ("free:naswot") or a table column
("hp12"). Scores are averaged over seeds per architecture; only architectures scored by
every seed count. Costs are seconds per architecture as measured in the records.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from gtnbench.errors import GtnbenchError
from gtnbench.metrics import (
    bootstrap_ci,
    mean_std,
    rank_metrics,
    spearman,
    spearman_rows_of,
    spearman_top_k,
    spearman_top_k_rows_of,
    steps_to_reach,
)
from gtnbench.nas.search import BudgetResult, simulate_searches
from gtnbench.nas.table import GroundTruth

Record = dict[str, Any]
PROXY_KINDS = ("nb201-train", "nb201-free", "nb201-table")


@dataclass
class Proxy:
    name: str
    method: str
    kind: str
    teacher: str | None  # "real" / "gtn" for train-based proxies
    steps: int | None  # training steps per architecture (train-based and tabular)
    scores: dict[int, dict[int, float]] = field(default_factory=dict)  # seed -> arch -> score
    seconds: list[float] = field(default_factory=list)  # measured cost of each scoring
    estimated_cost: bool = False


def collect(records: Iterable[Record]) -> dict[str, Proxy]:
    """Group the ok records of NAS methods (kinds nb201-*, any search space) into proxies, in order of appearance."""
    proxies: dict[str, Proxy] = {}

    def proxy(name: str, record: Record, teacher=None, steps=None) -> Proxy:
        if name not in proxies:
            proxies[name] = Proxy(name, record["method"], record["kind"], teacher, steps)
        return proxies[name]

    for r in records:
        if r["status"] != "ok" or r["kind"] not in PROXY_KINDS:  # a calibration trial scores no proxy
            continue
        details, seed = r["details"], r["seed"]
        if r["kind"] == "nb201-table":
            p = proxy(r["method"], r, steps=details["steps"])
            p.scores[seed] = {int(a): s for a, s in details["scores"].items()}
            continue
        for key, score in details["scores"].items():
            if r["kind"] == "nb201-train":
                p = proxy(f"{r['method']}@{key}", r, details["teacher"], int(key))
            else:
                p = proxy(f"{r['method']}:{key}", r)
            p.scores.setdefault(seed, {})[r["arch"]] = score
            p.seconds.append(details["seconds"][key])
    return proxies


def space_of(records: Iterable[Record]) -> str:
    """The search space the ok NAS records scored ("nb201" for records older than details["space"])."""
    spaces = {
        (r.get("details") or {}).get("space") or "nb201"
        for r in records
        if r["kind"].startswith("nb201") and r["status"] == "ok"
    }
    if len(spaces) > 1:
        raise GtnbenchError(
            f"the runs score architectures of several search spaces ({', '.join(sorted(spaces))}); "
            "report and check them separately"
        )
    return spaces.pop() if spaces else "nb201"


def ground_truth_of(records: Iterable[Record]) -> tuple[GroundTruth, str]:
    """The table of the records' search space and the ground-truth column they were scored against
    (default: the space's)."""
    from gtnbench.nas.spaces import get_space

    records = list(records)
    space = get_space(space_of(records))
    column = next(
        (r["details"]["ground_truth"] for r in records if (r.get("details") or {}).get("ground_truth")),
        space.default_column,
    )
    return space.table(), column


def mean_scores(proxy: Proxy) -> dict[int, float]:
    """Architecture -> score averaged over seeds (architectures every seed scored)."""
    seeds = list(proxy.scores.values())
    shared = set.intersection(*(set(s) for s in seeds)) if seeds else set()
    return {a: float(np.mean([s[a] for s in seeds])) for a in sorted(shared)}


def seconds_per_arch(proxy: Proxy, proxies: dict[str, Proxy]) -> float:
    """Measured mean cost; for a tabular proxy, estimated from a real-data proxy's seconds per step
    (its schedule trains `steps` steps at batch 256, twice the proxies' 128)."""
    if proxy.seconds:
        return float(np.mean(proxy.seconds))
    per_step = [np.mean(p.seconds) / p.steps for p in proxies.values() if p.teacher == "real" and p.seconds]
    if proxy.steps and per_step:
        proxy.estimated_cost = True
        return float(2 * proxy.steps * np.mean(per_step))
    return math.nan


@dataclass(frozen=True)
class ProxyRow:
    name: str
    method: str
    teacher: str | None
    steps: int | None
    n: int
    metrics: dict[str, float]  # rank_metrics of the seed-mean scores
    spearman_ci: tuple[float, float]
    c7_ci: tuple[float, float]  # Spearman over the top 50 % by proxy
    spearman_seeds: tuple[float, float]  # mean, std of Spearman over seeds
    seconds: float
    estimated_cost: bool


def truth_of(table: GroundTruth, column: str, archs: Iterable[int]) -> np.ndarray:
    return np.array([table.value(column, a) for a in archs])


def rank_rows(proxies: dict[str, Proxy], table: GroundTruth, column: str, resamples: int = 1000) -> list[ProxyRow]:
    rows = []
    for proxy in proxies.values():
        scores = mean_scores(proxy)
        archs = list(scores)
        x, y = np.array([scores[a] for a in archs]), truth_of(table, column, archs)
        per_seed = [
            spearman([s[a] for a in sorted(s)], truth_of(table, column, sorted(s))) for s in proxy.scores.values()
        ]
        rows.append(
            ProxyRow(
                proxy.name,
                proxy.method,
                proxy.teacher,
                proxy.steps,
                len(archs),
                rank_metrics(x, y),
                bootstrap_ci(spearman, x, y, n_resamples=resamples, rows=spearman_rows_of),
                bootstrap_ci(
                    partial(spearman_top_k, k_percent=50, by="proxy"),
                    x,
                    y,
                    n_resamples=resamples,
                    rows=spearman_top_k_rows_of(50),
                ),
                mean_std(per_seed),
                seconds_per_arch(proxy, proxies),
                proxy.estimated_cost,
            )
        )
    return rows


def real_curve(rows: list[ProxyRow], metric: str = "spearman") -> tuple[list[int], list[float]]:
    """The real-data train-based proxy's metric against its step budget (the speed-up yardstick)."""
    real = sorted((r for r in rows if r.teacher == "real"), key=lambda r: r.steps)
    return [r.steps for r in real], [r.metrics[metric] for r in real]


@dataclass(frozen=True)
class Speedup:
    """Descriptive: no interval (claim C6's verdict, with its interval, comes from gtnbench.claims)."""

    proxy: str
    steps: int
    spearman: float
    real_steps_needed: float  # inf: real data never reaches it within the measured budgets; NaN: incomplete
    factor: float
    seconds_factor: float  # per evaluation, measured seconds at the matching real-data budget


def speedups(rows: list[ProxyRow]) -> list[Speedup]:
    """For every train-based proxy that is not real data: real-data steps needed to reach its Spearman (NaN
    when the real curve or the proxy's Spearman holds NaN: never "not reached")."""
    steps, values = real_curve(rows)
    if len(steps) < 2:
        return []
    real_seconds = {r.steps: r.seconds for r in rows if r.teacher == "real"}
    incomplete = any(math.isnan(v) for v in values)
    out = []
    for row in rows:
        if row.teacher in (None, "real"):
            continue
        value = row.metrics["spearman"]
        needed = math.nan if incomplete or math.isnan(value) else steps_to_reach(steps, values, value)
        per_step = np.mean([real_seconds[s] / s for s in steps])
        seconds_factor = needed * per_step / row.seconds if math.isfinite(needed) else needed
        out.append(Speedup(row.name, row.steps, value, needed, needed / row.steps, seconds_factor))
    return out


def search_curves(
    proxies: dict[str, Proxy],
    rows: list[ProxyRow],
    table: GroundTruth,
    column: str,
    n_seeds: int,
    seed: int = 0,
    points: int = 12,
) -> tuple[list[float], dict[str, list[BudgetResult]]]:
    """Random search guided by each proxy, at equal budgets in seconds, over the architectures all proxies scored."""
    scores = {name: mean_scores(p) for name, p in proxies.items()}
    pool = sorted(set.intersection(*(set(s) for s in scores.values()))) if scores else []
    costs = {row.name: row.seconds for row in rows if math.isfinite(row.seconds) and row.seconds > 0}
    if not pool or not costs:
        return [], {}
    low, high = min(costs.values()), max(costs.values()) * len(pool)
    budgets = list(np.geomspace(low, high, points))
    truth = truth_of(table, column, pool)
    best = float(np.nanmax(table.column(column)))
    guided = {name: (np.array([scores[name][a] for a in pool]), costs[name]) for name in costs}
    return budgets, simulate_searches(guided, truth, budgets, best_possible=best, n_seeds=n_seeds, seed=seed)


@dataclass(frozen=True)
class NasStudy:
    """Everything the report shows of a run's NAS proxies, computed here so that report/ only renders it."""

    space: str  # the search space's name (nb201, macro)
    table: GroundTruth
    column: str
    proxies: dict[str, Proxy]
    rows: list[ProxyRow]
    speedups: list[Speedup]
    budgets: list[float]  # the search's budgets in seconds (descriptive: no claim is judged on them)
    searches: dict[str, list[BudgetResult]]


def nas_study(records: list[Record], column: str, search_seeds: int, resamples: int) -> NasStudy | None:
    """The rank table, speed-ups and searches of the records' NAS proxies (None: the records have none)."""
    proxies = collect(records)
    if not proxies:
        return None
    table, _ = ground_truth_of(records)
    rows = rank_rows(proxies, table, column, resamples)
    budgets, searches = search_curves(proxies, rows, table, column, search_seeds)
    return NasStudy(space_of(records), table, column, proxies, rows, speedups(rows), budgets, searches)
