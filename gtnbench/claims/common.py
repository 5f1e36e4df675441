"""Small pieces every claim measure shares: picking records, estimates over seeds, wording."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gtnbench.analysis.intervals import Interval, difference_interval, mean_interval
from gtnbench.claims.verdicts import Baseline, Estimate, Record, Settings


def plural(n: int, word: str) -> str:
    """'1 seed', '3 seeds'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def matching(records: Iterable[Record], **match: Any) -> list[Record]:
    """Records (any status) whose fields, budget entries or details equal the given values."""
    chosen = []
    for record in records:
        fields = {**record, **record.get("variant", {}), **record.get("budget", {}), **record.get("details", {})}
        if all(fields.get(key) == value for key, value in match.items()):
            chosen.append(record)
    return chosen


def ok(records: Iterable[Record], **match: Any) -> list[Record]:
    return [r for r in matching(records, **match) if r["status"] == "ok"]


def scale_of(records: list[Record]) -> str:
    scales = {r["scale"] for r in records}
    return scales.pop() if len(scales) == 1 else "mixed"


def values(records: Iterable[Record], metric: str) -> list[float]:
    return [float(r["metrics"][metric]) for r in records if metric in r.get("metrics", {})]


def as_estimate(interval: Interval) -> Estimate:
    return Estimate(interval.value, interval.low, interval.high, interval.method)


def mean(values: Sequence[float]) -> Estimate:
    """The mean over seeds with its t interval."""
    return as_estimate(mean_interval(values))


def difference(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """mean(a) - mean(b) over independent seeds with its Welch interval."""
    return as_estimate(difference_interval(a, b))


def estimate(groups: Sequence[Sequence[float]], statistic: Callable[..., Estimate], settings: Settings) -> Estimate:
    """A statistic of groups of per-seed values (`mean`, `difference`) with its interval."""
    return statistic(*groups)


def interval_text(e: Estimate, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
    """'98.70 % [98.52, 98.85]' (or without interval: '98.70 % (one seed: no interval)')."""

    def number(v: float) -> str:
        return "∞" if math.isinf(v) else f"{v * scale:.{digits}f}"

    head = f"{number(e.value)}{unit}"
    if e.has_interval:
        return f"{head} [{number(e.low)}, {number(e.high)}]"
    return f"{head} ({e.method}: no interval)" if e.method.endswith(" seed") else f"{head} (no interval)"


def pct(e: Estimate) -> str:
    return interval_text(e, 100, 2, " %")


def comparison(
    difference_estimate: Estimate, what: str, scale: float = 100.0, unit: str = " points", digits: int = 2
) -> str:
    """How the judged method compares with a baseline, from the interval of judged minus baseline."""
    e = difference_estimate
    if math.isnan(e.value):
        return "not comparable"
    sign = "+" if e.value >= 0 else ""
    text = f"{what} {sign}{interval_text(e, scale, digits, unit)}"
    if not e.has_interval:
        return text
    if e.low > 0:
        return text + ": better"
    if e.high < 0:
        return text + ": worse"
    return text + ": no clear difference"


@dataclass(frozen=True)
class Group:
    """The judged method's records: the ok ones and how many failed."""

    name: str
    ok: list[Record]
    failed: int

    @property
    def missing(self) -> str | None:
        if not self.ok and not self.failed:
            return f"{self.name} is not in these runs"
        if self.failed:
            return f"{self.failed} of {self.failed + len(self.ok)} trials of {self.name} failed"
        return None


def group(records: list[Record], method: str, **match: Any) -> Group:
    chosen = matching(records, method=method, **match)
    return Group(method, [r for r in chosen if r["status"] == "ok"], sum(r["status"] != "ok" for r in chosen))


def baseline_accuracy(
    name: str, judged: list[float], other: list[float], settings: Settings, what: str = "GTN", label: str | None = None
) -> Baseline:
    """A baseline's accuracy over seeds, and the judged method minus it."""
    if not other:
        return Baseline(label or name, "not in these runs")
    own = estimate([other], mean, settings)
    diff = estimate([judged, other], difference, settings) if judged else Estimate(math.nan)
    return Baseline(label or name, pct(own), comparison(diff, what))
