"""Rank correlations over a search space: the cost baselines on the whole table, training-free proxies on a sample.

The cost baselines (FLOPs, parameters) are table lookups, so they are measured on every
architecture. NASWOT and synflow need a network each; `training_free_sample` scores a
seeded sample (on a CPU: a few hundred architectures at reduced input size) and reports the
cost baselines on the same sample beside them, so the numbers compare like with like.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gtnbench.data.datasets import load_dataset
from gtnbench.data.names import dataset_label
from gtnbench.metrics import kendall, spearman
from gtnbench.nas.spaces import SearchSpace
from gtnbench.nas.training_free import naswot_score, synflow_score

TRAINING_FREE = ("naswot", "synflow")


def cost_correlations(
    space: SearchSpace, column: str | None = None, indices: Sequence[int] | None = None
) -> dict[str, dict[str, float]]:
    """Spearman and Kendall of FLOPs and of parameters with the ground truth `column` (default: the space's),
    over `indices` (default: every architecture of the table)."""
    t = space.table()
    rows = [t.row(i) for i in indices] if indices is not None else slice(None)
    truth = t.column(column or space.default_column)[rows]
    return {
        name: {"spearman": spearman(t.column(cost)[rows], truth), "kendall": kendall(t.column(cost)[rows], truth)}
        for name, cost in (("flops", space.flops_column), ("params", space.params_column))
    }


def shrink(x: torch.Tensor, size: int) -> torch.Tensor:
    """Images averaged down to size x size (area interpolation), for cheaper training-free scores."""
    return x if x.shape[-1] == size and x.shape[-2] == size else F.interpolate(x, size=(size, size), mode="area")


def image_batch(root: Path, dataset: str, count: int, size: int, seed: int = 0) -> torch.Tensor:
    """`count` seeded training images of `dataset` (normalised, as the suites load them) shrunk to size x size."""
    train = load_dataset(dataset, Path(root)).train
    picks = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:count]
    return shrink(train.x[picks], size)


@dataclass
class SampleScores:
    """Training-free scores of a sample, its ground truth, and each score's rank correlation with it."""

    space: str
    column: str
    indices: list[int]
    truth: np.ndarray
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # proxy -> score per index (table costs included)

    def correlations(self) -> dict[str, dict[str, float]]:
        return {
            name: {"spearman": spearman(s, self.truth), "kendall": kendall(s, self.truth)}
            for name, s in self.scores.items()
        }


def training_free_sample(
    space: SearchSpace,
    count: int,
    x: torch.Tensor,
    seed: int = 0,
    proxies: Sequence[str] = TRAINING_FREE,
    column: str | None = None,
    **width: int,
) -> SampleScores:
    """NASWOT on the batch `x` and synflow at x's image shape for `count` architectures sampled with `seed`
    (the space's default sampling options), each network freshly built with weights seeded by `seed`;
    FLOPs and parameters from the table beside them."""
    unknown = sorted(set(proxies) - set(TRAINING_FREE))
    if unknown:
        raise ValueError(f"unknown training-free proxy {unknown[0]!r}; known: {', '.join(TRAINING_FREE)}")
    column = column or space.default_column
    indices = space.sample(count, seed)
    t = space.table()
    rows = [t.row(i) for i in indices]
    result = SampleScores(space.name, column, indices, t.column(column)[rows])
    result.scores["flops"] = t.column(space.flops_column)[rows]
    result.scores["params"] = t.column(space.params_column)[rows]
    for name in proxies:
        result.scores[name] = np.empty(count)
    compute = {"naswot": lambda net: naswot_score(net, x), "synflow": lambda net: synflow_score(net, x.shape[1:])}
    for position, index in enumerate(indices):
        net = space.build(
            index,
            in_channels=x.shape[1],
            device=x.device,
            generator=torch.Generator(device=x.device).manual_seed(seed),
            **width,
        )
        for name in proxies:
            result.scores[name][position] = compute[name](net)
    return result


def training_free_study(
    space: SearchSpace,
    root: Path,
    count: int,
    size: int,
    batch: int,
    seed: int = 0,
    proxies: Sequence[str] = TRAINING_FREE,
    **width: int,
) -> dict[str, Any]:
    """The rank-correlation study behind `gtnbench nas proxies`, as JSON-ready numbers: the cost baselines
    on every architecture of the table and training-free proxies on a seeded sample of `count` (one per
    isomorphism class), scored on `batch` training images of the ground truth's data set at size x size."""
    dataset = load_dataset(space.task().dataset, Path(root))
    picks = torch.randperm(len(dataset.train), generator=torch.Generator().manual_seed(seed))[:batch]
    x = shrink(dataset.train.x[picks], size)
    start = time.perf_counter()
    sample = training_free_sample(space, count, x, seed, proxies, **width)
    seconds = time.perf_counter() - start
    table = space.table()
    return {
        "space": space.name,
        "benchmark": space.title,
        "table": table.source,
        "table_sha256": table.sha256,
        "ground_truth": space.default_column,
        "ground_truth_means": space.describe_column(space.default_column),
        "all_architectures": {"n": len(table), "correlations": cost_correlations(space)},
        "sample": {
            "n": count,
            "seed": seed,
            "images": dataset.name,
            "images_label": dataset_label(dataset.name),
            "batch": batch,
            "image_size": size,
            "widths": {**space.widths, **width},
            "correlations": sample.correlations(),
            "seconds": seconds,
            "seconds_per_architecture": seconds / count,
        },
    }
