"""A class-balanced random subset of the real training split: the baseline any small synthetic
training set has to beat (DD-Ranking's convention)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gtnbench.data.datasets import ImageDataset
from gtnbench.data.image_set import ImageSet
from gtnbench.distill.classes import check_counts, draw_from_class, indices_by_class


def random_subset(dataset: ImageDataset, counts: Sequence[int], seed: int) -> ImageSet:
    """counts[c] distinct images of class c drawn at random (seeded) from dataset.train, grouped by
    class; `indices` are their positions in that split (split seed in the provenance)."""
    by_class = indices_by_class(dataset.train, dataset.num_classes)
    check_counts(by_class, counts, "subset")
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.cat(
        [draw_from_class(members, count, generator).sort().values for members, count in zip(by_class, counts)]
    )
    on_device = chosen.to(dataset.device)
    provenance = {
        "counts": list(counts),
        "split": "train",
        "split_seed": dataset.split_seed,
        "flops": 0,
        "flops_how": "none: a seeded draw of indices",
    }
    return ImageSet(
        dataset.train.x[on_device], dataset.train.y[on_device], "subset", dataset.name, seed, provenance, chosen
    )
