"""Seeded samples of NAS-Bench-201 architectures (the pool a rank-correlation study scores)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from gtnbench.errors import GtnbenchError
from gtnbench.models.nb201 import active_edges, parse_arch
from gtnbench.nas.table import load_table


def disconnected() -> frozenset[int]:
    """Indices of cells with no path from input to output (their networks output a constant)."""
    return _disconnected(load_table().sha256)


@lru_cache(maxsize=2)
def _disconnected(table_sha256: str) -> frozenset[int]:  # per table in use (nas.table.load_table)
    table = load_table()
    return frozenset(int(i) for i, arch in zip(table.indices, table.arch_strs) if not active_edges(parse_arch(arch)))


@lru_cache(maxsize=16)
def _sample(
    count: int,
    seed: int,
    one_per_iso_class: bool,
    exclude_disconnected: bool,
    exclude: frozenset[int],
    table_sha256: str,
) -> tuple[int, ...]:
    table = load_table()
    pool = table.indices
    if one_per_iso_class:  # the class representative: the smallest index with the same isomorphism key
        pool = pool[table.iso_class == table.indices]
    if exclude_disconnected or exclude:
        pool = np.array(
            [i for i in pool if int(i) not in exclude and not (exclude_disconnected and int(i) in disconnected())]
        )
    if count > len(pool):
        raise GtnbenchError(f"nb201.architectures.count: {count} is more than the {len(pool)} cells in the pool")
    chosen = np.random.default_rng(seed).choice(pool, size=count, replace=False)
    return tuple(int(i) for i in chosen)


def sample_architectures(
    count: int,
    seed: int = 0,
    one_per_iso_class: bool = True,
    exclude_disconnected: bool = True,
    exclude: frozenset[int] = frozenset(),
) -> list[int]:
    """`count` distinct architecture indices, uniformly at random (seeded), optionally one per
    isomorphism class (its representative), without disconnected cells and without `exclude`."""
    return list(_sample(count, seed, one_per_iso_class, exclude_disconnected, frozenset(exclude), load_table().sha256))
