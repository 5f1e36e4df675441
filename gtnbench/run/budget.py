"""The clock a run must fit (`gtnbench run --budget 10m`): the time left, and whether the next batch's estimate
fits in it. The runner only reads this clock; the estimate comes from perf/plan.py, built by the command."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from gtnbench.errors import GtnbenchError
from gtnbench.suite.trials import Trial


def parse_duration(text: str) -> float:
    """Seconds of '90', '90s', '10m', '1.5h', '1h30m'."""
    units = {"s": 1, "m": 60, "h": 3600}
    total, number = 0.0, ""
    try:
        for char in text.strip().lower():
            if char.isdigit() or char == ".":
                number += char
            elif char in units and number:
                total, number = total + float(number) * units[char], ""
            else:
                raise ValueError(char)
        total += float(number) if number else 0.0
    except ValueError:
        raise GtnbenchError(f"--budget {text!r}: expected a duration such as 600, 90s, 10m, 1.5h or 1h30m") from None
    if total <= 0:
        raise GtnbenchError(f"--budget {text!r}: must be more than 0")
    return total


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class Budget:
    """Admits a run's next batch of trials only while it fits: the time left must cover the batch's
    expected time (the mean of what such trials took in this run so far, else the plan's estimate,
    else nothing). Once a batch is refused, nothing more is admitted, and `stopped` says why."""

    def __init__(
        self,
        seconds: float,
        estimate: Callable[[list[Trial]], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds, self.estimate, self.clock = seconds, estimate, clock
        self.started = clock()
        self.stopped: str | None = None
        self._taken: dict[tuple, list[float]] = {}

    @staticmethod
    def _kind(trial: Trial) -> tuple:
        return trial.method, trial.kind, trial.budget

    def expected(self, batch: list[Trial]) -> float:
        total = 0.0
        for trial in batch:
            taken = self._taken.get(self._kind(trial))
            if taken:
                total += statistics.fmean(taken)
            elif self.estimate is not None:
                total += self.estimate([trial])
        return total

    def left(self) -> float:
        return self.seconds - (self.clock() - self.started)

    def admit(self, batch: list[Trial]) -> bool:
        if self.stopped is not None:
            return False
        left, need = self.left(), self.expected(batch)
        if left <= 0:
            self.stopped = f"the budget of {format_seconds(self.seconds)} is spent"
        elif need > left:
            self.stopped = (
                f"the next trial, {batch[0].id}, would need about {format_seconds(need)} and "
                f"{format_seconds(left)} are left"
            )
        return self.stopped is None

    def took(self, records: list[dict[str, Any]]) -> None:
        """Learn from finished records (their `seconds` is the time per trial of their batch)."""
        for record in records:
            kind = (record["method"], record["kind"], tuple(tuple(p) for p in sorted(record["budget"].items())))
            self._taken.setdefault(kind, []).append(float(record.get("seconds") or 0.0))
