"""From run directories to tables of results: pure functions of records (no torch)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gtnbench.metrics import mean_std
from gtnbench.store import RunContents, read_run

Record = dict[str, Any]


def load_runs(paths: Iterable[Path]) -> list[RunContents]:
    return [read_run(Path(p)) for p in paths]


def latest_records(runs: Iterable[RunContents]) -> list[Record]:
    """Every trial's last record across runs (a later record of the same trial supersedes)."""
    by_trial: dict[tuple, Record] = {}
    for run in runs:
        for record in run.records:
            by_trial[(record["suite"], record["scale"], record["config_hash"], record["trial"])] = record
    return list(by_trial.values())


def budget_label(budget: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in budget.items())


def method_label(record: Record) -> str:
    """The method's name, with its variant of the ablation axes: gtn[curriculum=none]."""
    variant = record.get("variant") or {}
    if not variant:
        return record["method"]
    values = ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in variant.items())
    return f"{record['method']}[{values}]"


@dataclass(frozen=True)
class Cell:
    """One (method, budget) cell of a results table, aggregated over seeds."""

    suite: str
    scale: str
    dataset: str
    method: str  # with its variant, e.g. gtn[curriculum=none]
    base_method: str  # the method's name in the suite
    kind: str
    budget: str
    steps: int
    values: dict[str, tuple[float, ...]]  # metric -> one value per ok seed
    failed: int
    curve: tuple[tuple[int, float, float], ...] = ()  # (step, mean, std) of test accuracy within training runs
    meta_curve: tuple[tuple[int, float, float], ...] = ()  # (outer iteration, mean, std) of GTN validation accuracy

    def mean(self, metric: str) -> float:
        return mean_std(self.values.get(metric, ()))[0]

    def summary(self, metric: str) -> tuple[float, float, int]:
        """Mean, sample standard deviation (0 for one seed) and the number of seeds of a metric."""
        values = self.values.get(metric, ())
        return (*mean_std(values), len(values))

    def std(self, metric: str) -> float:
        return mean_std(self.values.get(metric, ()))[1]

    @property
    def seeds(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)


def mean_curve(curves: list[list[dict[str, float]]], x: str, y: str) -> tuple[tuple[int, float, float], ...]:
    """Mean and std over runs of y at each x that every run recorded."""
    curves = [c for c in curves if c]
    if not curves:
        return ()
    shared = set.intersection(*({point[x] for point in c} for c in curves))
    rows = []
    for position in sorted(shared):
        mean, std = mean_std([next(p[y] for p in c if p[x] == position) for c in curves])
        rows.append((position, mean, std))
    return tuple(rows)


def cells(records: Iterable[Record]) -> list[Cell]:
    """Aggregate records into cells, in order of first appearance (method order of the suite)."""
    groups: dict[tuple, list[Record]] = {}
    for record in records:
        key = (
            record["suite"],
            record["scale"],
            record["dataset"],
            method_label(record),
            budget_label(record["budget"]),
        )
        groups.setdefault(key, []).append(record)
    table = []
    for (suite, scale, dataset, method, budget), members in groups.items():
        ok = [r for r in members if r["status"] == "ok"]
        metrics = sorted({m for r in ok for m in r["metrics"]})
        values = {m: tuple(r["metrics"][m] for r in ok if m in r["metrics"]) for m in metrics}
        steps = next((r["details"].get("steps") for r in ok if "steps" in r.get("details", {})), None)
        steps = steps if steps is not None else next(iter(members[0]["budget"].values()))
        curve = mean_curve([r["details"].get("curve", []) for r in ok], "step", "test_acc")
        meta_curve = mean_curve([r["details"].get("validation", []) for r in ok], "iteration", "val_acc")
        table.append(
            Cell(
                suite,
                scale,
                dataset,
                method,
                members[0]["method"],
                members[0]["kind"],
                budget,
                steps,
                values,
                len(members) - len(ok),
                curve,
                meta_curve,
            )
        )
    order = {key: i for i, key in enumerate(dict.fromkeys((c.suite, c.scale, c.method) for c in table))}
    return sorted(table, key=lambda c: (order[(c.suite, c.scale, c.method)], c.steps))


def scored_text(manifest: dict) -> str:
    """Which validation and test images a run scored: the whole splits, or the first N of each."""
    images = manifest.get("scored_images")
    return f"first {images:,} validation and {images:,} test images" if images else "whole validation and test splits"


def bn_text(manifest: dict) -> str:
    """The batch-norm evaluation protocols of a run's methods, e.g. "last-batch (gtn, real-fewstep)"."""
    by: dict[str, list[str]] = {}
    for method, protocol in (manifest.get("bn_eval") or {}).items():
        by.setdefault(protocol, []).append(method)
    return "; ".join(f"{p} ({', '.join(ms)})" for p, ms in by.items()) or "–"
