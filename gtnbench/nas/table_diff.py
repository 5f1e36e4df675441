"""Two NAS-Bench-201 tables side by side, column by column (`gtnbench nb201 compare`): an imported table
(nas.importer) against the shipped one, before a run uses it.

Rows are matched by architecture index. Per column, over the rows where both tables hold a number: how
many, the largest absolute difference and the Spearman rank correlation (what a rank-correlation study
would see change); and the numbers only one table holds (the importer leaves `*_hp200_oneseed` empty).
Arch strings and isomorphism classes must agree on every shared row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gtnbench.metrics import spearman
from gtnbench.nas.table import COLUMNS, GroundTruth


@dataclass(frozen=True)
class ColumnDifference:
    column: str
    rows: int  # shared rows where both tables hold a number
    only_a: int  # numbers only table A holds (NaN in B)
    only_b: int
    max_abs_difference: float  # NaN without shared numbers
    spearman: float  # NaN under three shared numbers, or a constant column


@dataclass
class TableComparison:
    rows_a: int
    rows_b: int
    shared: int  # architecture indices both tables hold
    arch_mismatches: list[int] = field(default_factory=list)  # shared indices whose arch strings differ
    iso_mismatches: list[int] = field(default_factory=list)  # ... whose isomorphism classes differ
    columns: list[ColumnDifference] = field(default_factory=list)

    def exceeds(self, tolerance: float) -> list[ColumnDifference]:
        """Columns whose largest difference is beyond `tolerance`."""
        return [c for c in self.columns if c.max_abs_difference > tolerance]

    @property
    def same_architectures(self) -> bool:
        return not self.arch_mismatches and not self.iso_mismatches


def compare_tables(a: GroundTruth, b: GroundTruth) -> TableComparison:
    """Table B against table A, row by shared index and column by column."""
    shared = sorted(set(a.indices.tolist()) & set(b.indices.tolist()))
    rows_a = np.array([a.row(i) for i in shared], dtype=np.int64)
    rows_b = np.array([b.row(i) for i in shared], dtype=np.int64)
    out = TableComparison(len(a), len(b), len(shared))
    out.arch_mismatches = [i for i, ra, rb in zip(shared, rows_a, rows_b) if a.arch_strs[ra] != b.arch_strs[rb]]
    out.iso_mismatches = [i for i, ra, rb in zip(shared, rows_a, rows_b) if a.iso_class[ra] != b.iso_class[rb]]
    for name in COLUMNS:
        x, y = a.column(name)[rows_a], b.column(name)[rows_b]
        both = ~np.isnan(x) & ~np.isnan(y)
        largest = float(np.max(np.abs(x[both] - y[both]))) if both.any() else math.nan
        rho = spearman(x[both], y[both]) if both.sum() >= 3 else math.nan
        out.columns.append(
            ColumnDifference(
                name,
                int(both.sum()),
                int((~np.isnan(x) & np.isnan(y)).sum()),
                int((np.isnan(x) & ~np.isnan(y)).sum()),
                largest,
                rho,
            )
        )
    return out
