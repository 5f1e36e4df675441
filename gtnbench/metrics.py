"""Summary statistics of measurements: pure functions of numbers (numpy/scipy, no torch)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value); NaN mean for no values."""
    if len(values) == 0:
        return math.nan, math.nan
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def format_mean_std(values: Sequence[float], scale: float = 100.0, digits: int = 2) -> str:
    """'98.12 ± 0.05' (accuracies in percent by default), or '98.12' for a single value."""
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "–"
    if len(values) == 1:
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
