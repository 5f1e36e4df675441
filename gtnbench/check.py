"""Regression check: compare a run's metrics with a reference run's, within per-metric tolerances."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from gtnbench.analysis import Cell, cells, latest_records
from gtnbench.store import RunContents

# Metrics compared when the suite does not list a tolerance for them are skipped: timings,
# for instance, vary with the machine and belong in `gtnbench bench`.


@dataclass(frozen=True)
class Deviation:
    method: str
    budget: str
    metric: str
    measured: float | None
    reference: float
    tolerance: float

    @property
    def problem(self) -> str:
        if self.measured is None:
            return "missing from the run"
        return f"differs by {abs(self.measured - self.reference):.4f} > {self.tolerance:.4f}"


@dataclass(frozen=True)
class Comparison:
    compared: int  # (cell, metric) pairs compared
    deviations: list[Deviation]
    failed_trials: int
    config_mismatch: str | None = None  # the run and the reference ran different configurations

    @property
    def passed(self) -> bool:
        return not self.deviations and not self.failed_trials and self.config_mismatch is None


def _index(table: list[Cell]) -> dict[tuple[str, str], Cell]:
    return {(c.method, c.budget): c for c in table}


def compare(run: list[RunContents], reference: list[RunContents], tolerances: Callable[[str], dict[str, float]]) -> Comparison:
    """Every (method, budget, metric) of the reference with a tolerance must be within it in the run.

    `tolerances(method)` gives the metric -> absolute tolerance map of a method."""
    measured = _index(cells(latest_records(run)))
    expected = _index(cells(latest_records(reference)))
    deviations, compared = [], 0
    for key, ref in expected.items():
        for metric, tolerance in tolerances(ref.base_method).items():
            if not ref.values.get(metric):
                continue
            compared += 1
            cell = measured.get(key)
            value = cell.mean(metric) if cell and cell.values.get(metric) else None
            if value is None or abs(value - ref.mean(metric)) > tolerance:
                deviations.append(Deviation(key[0], key[1], metric, value, ref.mean(metric), tolerance))
    failed = sum(c.failed for c in measured.values())
    return Comparison(compared, deviations, failed, _config_mismatch(run, reference))


def _config_mismatch(run: list[RunContents], reference: list[RunContents]) -> str | None:
    ours = sorted({r.manifest.get("config_hash") for r in run})
    theirs = sorted({r.manifest.get("config_hash") for r in reference})
    if ours == theirs:
        return None
    return (f"the run's config hash {', '.join(map(str, ours))} differs from the reference's "
            f"{', '.join(map(str, theirs))}: the suite changed since the reference was made; regenerate it")


@dataclass(frozen=True)
class ExpectationResult:
    method: str
    metric: str
    bound: str
    values: list[float]
    why: str

    @property
    def passed(self) -> bool:
        return bool(self.values) and all(_within(v, self.bound) for v in self.values)


def _within(value: float, bound: str) -> bool:
    kind, limit = bound.split(" ")
    return value >= float(limit) if kind == ">=" else value <= float(limit)


def check_expectations(records: list[dict[str, Any]], expectations: list[dict[str, Any]]) -> list[ExpectationResult]:
    """Each expectation (method, metric, min/max) against every ok record of that method; no record fails it."""
    results = []
    for e in expectations:
        values = [r["metrics"][e["metric"]] for r in records
                  if r["method"] == e["method"] and r["status"] == "ok" and e["metric"] in r["metrics"]]  # fmt: skip
        for kind, limit in ((">=", e.get("min")), ("<=", e.get("max"))):
            if limit is not None:
                results.append(ExpectationResult(e["method"], e["metric"], f"{kind} {limit}", values, e.get("why", "")))
    return results
