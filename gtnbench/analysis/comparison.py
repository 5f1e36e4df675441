"""Run against run: the same suite on another device, code version or precision (`gtnbench compare A B`).

Which runs compare: the same suite at the same scale. A different configuration hash is
allowed (the suite was edited, or the schema gained a field, between the runs) and is said in
the notes, as are differences of device, code version, precision and data set: the point of a
comparison is to see what such a change does. Cells (method with its variant, budget) are
matched by name; metrics measured in both runs are compared, the rest are listed.

Per cell and metric: both means over seeds, the difference B - A and its 95 % interval over
seeds (paired by seed when both runs hold the same seeds: a seed fixes the learner's
initialisation and batches, so the pair isolates the change, and the interval is Student's t of
the per-seed differences; otherwise Welch's t of the two sets; one seed per side gives a point,
which says nothing about seed noise, so it gets no interval: at a handful of seeds a bootstrap
would be far too narrow), and whether |B - A| exceeds the suite's tolerance for that metric (`[tolerances]` of
run A, the same absolute tolerances as `gtnbench check --against`; metrics without one, such
as timings, are shown but not judged).

NAS-Bench-201 proxies: per proxy, the Spearman correlation of its seed-mean scores with the
run's ground truth in each run, and the difference with a paired bootstrap interval over the
architectures both runs scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gtnbench.analysis.intervals import difference_interval, mean_interval
from gtnbench.analysis.records import budget_label, latest_records, method_label
from gtnbench.errors import GtnbenchError
from gtnbench.store import RunContents, read_run

Record = dict[str, Any]
PERCENT_METRICS = ("test_acc", "val_acc", "untrained_test_acc", "gain_over_untrained")


class IncomparableRuns(GtnbenchError):
    """Two runs that no comparison can make sense of (other suites, other scales, nothing in common)."""


@dataclass(frozen=True)
class MetricDifference:
    method: str  # with its variant, e.g. gtn[curriculum=none]
    budget: str
    metric: str
    mean_a: float
    mean_b: float
    n_a: int
    n_b: int
    difference: float  # mean_b - mean_a
    interval: tuple[float, float] | None  # None when a side has one seed: one value is a point
    paired: bool
    tolerance: float | None

    @property
    def exceeds(self) -> bool | None:
        """Whether |B - A| is beyond the tolerance; None where the suite sets none for the metric."""
        return None if self.tolerance is None else abs(self.difference) > self.tolerance


@dataclass(frozen=True)
class ProxyDifference:
    proxy: str
    spearman_a: float
    spearman_b: float
    archs: int  # architectures both runs scored
    difference: float
    interval: tuple[float, float]


@dataclass
class RunComparison:
    a: RunContents
    b: RunContents
    notes: list[str] = field(default_factory=list)
    metrics: list[MetricDifference] = field(default_factory=list)
    proxies: list[ProxyDifference] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)  # cells measured in A only
    only_b: list[str] = field(default_factory=list)

    @property
    def exceeded(self) -> list[MetricDifference]:
        return [m for m in self.metrics if m.exceeds]


def seed_difference_interval(a: Sequence[float], b: Sequence[float], paired: bool) -> tuple[float, float]:
    """95 % interval of mean(b) - mean(a) over seeds: Student's t of the per-seed differences when paired,
    else Welch's t."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    interval = mean_interval(b - a) if paired else difference_interval(b, a)
    return interval.low, interval.high


def _per_seed(records: list[Record]) -> dict[tuple[str, str], dict[str, Any]]:
    """(method label, budget) -> {"base": method name, "values": metric -> seed -> value} of ok records."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        if r["status"] != "ok" or r["kind"].startswith("nb201"):
            continue
        cell = cells.setdefault((method_label(r), budget_label(r["budget"])), {"base": r["method"], "values": {}})
        for metric, value in r["metrics"].items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                cell["values"].setdefault(metric, {})[r["seed"]] = float(value)
    return cells


def _tolerances(manifest: dict[str, Any]):
    from pydantic import ValidationError

    from gtnbench.suite.config import Tolerances

    try:
        return Tolerances.model_validate(manifest.get("config", {}).get("tolerances", {})).for_method
    except ValidationError:
        return lambda method: {}


def _refuse_or_notes(a: RunContents, b: RunContents) -> list[str]:
    ma, mb = a.manifest, b.manifest
    for key in ("suite", "scale"):
        if ma.get(key) != mb.get(key):
            raise IncomparableRuns(
                f"{a.path} is {key} {ma.get(key)!r}, {b.path} is {key} {mb.get(key)!r}: "
                f"only runs of one suite at one scale compare"
            )
    notes = []
    for key, what in (
        ("config_hash", "config hash"),
        ("dataset", "data set"),
        ("device_name", "device"),
        ("code_version", "code version"),
        ("precision", "precision"),
    ):
        if ma.get(key) != mb.get(key):
            notes.append(f"{what}: A {ma.get(key)!r}, B {mb.get(key)!r}")
    if ma.get("config_hash") != mb.get("config_hash"):
        notes.append("the configurations differ: a difference may come from the suite's edit, not only from the change")
    if ma.get("versions") != mb.get("versions"):
        changed = sorted(
            k
            for k in {**(ma.get("versions") or {}), **(mb.get("versions") or {})}
            if (ma.get("versions") or {}).get(k) != (mb.get("versions") or {}).get(k)
        )
        notes.append(
            "libraries: "
            + ", ".join(
                f"{k} {(ma.get('versions') or {}).get(k)} -> {(mb.get('versions') or {}).get(k)}" for k in changed
            )
        )
    return notes


def _compare_cells(ra: list[Record], rb: list[Record], tolerance_of, out: RunComparison) -> None:
    cells_a, cells_b = _per_seed(ra), _per_seed(rb)
    out.only_a = [f"{m} {b}" for m, b in cells_a if (m, b) not in cells_b]
    out.only_b = [f"{m} {b}" for m, b in cells_b if (m, b) not in cells_a]
    for key, cell_a in cells_a.items():
        if key not in cells_b:
            continue
        tolerances = tolerance_of(cell_a["base"])
        for metric, by_seed_a in cell_a["values"].items():
            by_seed_b = cells_b[key]["values"].get(metric)
            if not by_seed_b:
                continue
            paired = set(by_seed_a) == set(by_seed_b)
            seeds = sorted(by_seed_a)
            va = [by_seed_a[s] for s in seeds] if paired else list(by_seed_a.values())
            vb = [by_seed_b[s] for s in seeds] if paired else list(by_seed_b.values())
            difference = float(np.mean(vb) - np.mean(va))
            interval = seed_difference_interval(va, vb, paired) if min(len(va), len(vb)) > 1 else None
            out.metrics.append(
                MetricDifference(
                    key[0],
                    key[1],
                    metric,
                    float(np.mean(va)),
                    float(np.mean(vb)),
                    len(va),
                    len(vb),
                    difference,
                    interval,
                    paired,
                    tolerances.get(metric),
                )
            )


def _compare_proxies(ra: list[Record], rb: list[Record], resamples: int, seed: int) -> list[ProxyDifference]:
    from gtnbench.analysis.rankcorr import collect, ground_truth_of, mean_scores, truth_of
    from gtnbench.metrics import spearman

    proxies_a, proxies_b = collect(ra), collect(rb)
    if not proxies_a or not proxies_b:
        return []
    table, column = ground_truth_of([*ra, *rb])  # refuses runs of two search spaces
    rng, found = np.random.default_rng(seed), []
    for name, proxy in proxies_a.items():
        if name not in proxies_b:
            continue
        sa, sb = mean_scores(proxy), mean_scores(proxies_b[name])
        archs = sorted(set(sa) & set(sb))
        if len(archs) < 3:
            continue
        x, y, truth = np.array([sa[i] for i in archs]), np.array([sb[i] for i in archs]), truth_of(table, column, archs)
        draws = []
        for _ in range(resamples):
            pick = rng.integers(0, len(archs), size=len(archs))
            draws.append(spearman(y[pick], truth[pick]) - spearman(x[pick], truth[pick]))
        draws = np.array(draws)
        low, high = np.nanquantile(draws, [0.025, 0.975]) if not np.isnan(draws).all() else (math.nan, math.nan)
        rho_a, rho_b = spearman(x, truth), spearman(y, truth)
        found.append(ProxyDifference(name, rho_a, rho_b, len(archs), rho_b - rho_a, (float(low), float(high))))
    return found


def compare_runs(a: Path | RunContents, b: Path | RunContents, resamples: int = 2000, seed: int = 0) -> RunComparison:
    """Compare run B with run A (see the module docstring); IncomparableRuns when they cannot be."""
    a = a if isinstance(a, RunContents) else read_run(Path(a))
    b = b if isinstance(b, RunContents) else read_run(Path(b))
    out = RunComparison(a, b, _refuse_or_notes(a, b))
    ra, rb = latest_records([a]), latest_records([b])
    _compare_cells(ra, rb, _tolerances(a.manifest), out)
    if any(r["kind"].startswith("nb201") for r in ra):
        out.proxies = _compare_proxies(ra, rb, min(resamples, 1000), seed)
    if not out.metrics and not out.proxies:
        raise IncomparableRuns(
            f"{a.path} and {b.path} have no metric measured in both (no ok record of a common method and budget)"
        )
    return out


def format_value(metric: str, value: float, signed: bool = False) -> str:
    """Accuracies in percent (points for differences), everything else with four significant digits."""
    if math.isnan(value):
        return "–"
    sign = "+" if signed else ""
    if metric in PERCENT_METRICS:
        return f"{100 * value:{sign}.2f}"
    return f"{value:{sign}.4g}"
