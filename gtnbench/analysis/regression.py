"""Regression check: compare a run's metrics with a reference run's, within per-metric tolerances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gtnbench.analysis.records import Cell, cells, latest_records
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
        return self.compared > 0 and not self.deviations and not self.failed_trials and self.config_mismatch is None


def _index(table: list[Cell]) -> dict[tuple[str, str], Cell]:
    return {(c.method, c.budget): c for c in table}


def compare(
    run: list[RunContents], reference: list[RunContents], tolerances: Callable[[str], dict[str, float]]
) -> Comparison:
    """Every (method, budget, metric) of the reference with a tolerance must be within it in the run.

    `tolerances(method)` gives the metric -> absolute tolerance map of a method. A reference of another
    suite or scale is not compared at all: the mismatch says which it is."""
    other = _other_suite(run, reference)
    if other is not None:
        return Comparison(0, [], 0, other)
    ours, theirs = latest_records(run), latest_records(reference)
    measured = _index(cells(r for r in ours if not r["kind"].startswith("nb201")))
    expected = _index(cells(r for r in theirs if not r["kind"].startswith("nb201")))
    deviations, compared = [], 0
    for key, ref in expected.items():
        for metric, tolerance in tolerances(ref.base_method).items():
            if metric == "spearman" or not ref.values.get(metric):
                continue
            compared += 1
            cell = measured.get(key)
            value = cell.mean(metric) if cell and cell.values.get(metric) else None
            if value is None or abs(value - ref.mean(metric)) > tolerance:
                deviations.append(Deviation(key[0], key[1], metric, value, ref.mean(metric), tolerance))
    nas_compared, nas_deviations = _compare_proxies(ours, theirs, tolerances)
    failed = sum(c.failed for c in measured.values()) + sum(
        r["status"] != "ok" for r in ours if r["kind"].startswith("nb201")
    )
    return Comparison(compared + nas_compared, deviations + nas_deviations, failed, _config_mismatch(run, reference))


def _compare_proxies(
    ours: list[dict[str, Any]], theirs: list[dict[str, Any]], tolerances: Callable[[str], dict[str, float]]
) -> tuple[int, list[Deviation]]:
    """Every NAS proxy of the reference: its Spearman with the ground truth, within the `spearman` tolerance."""
    from gtnbench.analysis.rankcorr import collect, ground_truth_of, mean_scores
    from gtnbench.metrics import spearman

    expected = collect(r for r in theirs if r["kind"].startswith("nb201"))
    if not expected:
        return 0, []
    measured = collect(r for r in ours if r["kind"].startswith("nb201"))
    table, column = ground_truth_of(theirs)

    def rho(proxy) -> float:
        scores = mean_scores(proxy)
        return spearman([scores[a] for a in scores], [table.value(column, a) for a in scores])

    deviations = []
    for name, proxy in expected.items():
        tolerance = tolerances(proxy.method)["spearman"]
        value = rho(measured[name]) if name in measured else None
        if value is None or not abs(value - rho(proxy)) <= tolerance:
            deviations.append(Deviation(proxy.method, name, "spearman", value, rho(proxy), tolerance))
    return len(expected), deviations


def _other_suite(run: list[RunContents], reference: list[RunContents]) -> str | None:
    """Why the reference is no reference for the run (another suite or scale), or None."""
    for key in ("suite", "scale"):
        ours, theirs = ({str(r.manifest.get(key)) for r in side} for side in (run, reference))
        if ours != theirs:
            return (
                f"the run is {key} {', '.join(sorted(ours))}, the reference {reference[0].path} is {key} "
                f"{', '.join(sorted(theirs))}: check against a reference of the same suite and scale"
            )
    return None


def _config_mismatch(run: list[RunContents], reference: list[RunContents]) -> str | None:
    ours = sorted({r.manifest.get("config_hash") for r in run})
    theirs = sorted({r.manifest.get("config_hash") for r in reference})
    if ours == theirs:
        return None
    return (
        f"the run's config hash {', '.join(map(str, ours))} differs from the reference's "
        f"{', '.join(map(str, theirs))}: the suite changed since the reference was made; regenerate it"
    )


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
        values = [
            r["metrics"][e["metric"]]
            for r in records
            if r["method"] == e["method"] and r["status"] == "ok" and e["metric"] in r["metrics"]
        ]
        for kind, limit in ((">=", e.get("min")), ("<=", e.get("max"))):
            if limit is not None:
                results.append(ExpectationResult(e["method"], e["metric"], f"{kind} {limit}", values, e.get("why", "")))
    return results
