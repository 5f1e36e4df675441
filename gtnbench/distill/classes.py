"""Per-class bookkeeping shared by the set makers: image counts per class, class index lists,
seeded draws of real images of one class, the starting images of a learned set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from gtnbench.data.datasets import ImageDataset, Split
from gtnbench.distill.cost import FLOPS_HOW, count_flops
from gtnbench.errors import GtnbenchError
from gtnbench.models.learners import LearnerSpec

INITS = ("real", "noise")  # how learned sets start: random real images of the class, or N(0, 1) pixels


def class_counts(num_classes: int, per_class: int | None = None, total: int | None = None) -> list[int]:
    """Images per class: `per_class` for every class, or `total` spread as evenly as possible
    (the first total % num_classes classes get one more), e.g. a GTN's T x B = 4,096 over 10 classes."""
    if (per_class is None) == (total is None):
        raise GtnbenchError("give exactly one of per_class and total")
    if per_class is not None:
        if per_class < 1:
            raise GtnbenchError(f"per_class must be at least 1, got {per_class}")
        return [per_class] * num_classes
    if total < num_classes:
        raise GtnbenchError(f"total must be at least the number of classes ({num_classes}), got {total}")
    return [total // num_classes + (c < total % num_classes) for c in range(num_classes)]


def indices_by_class(split: Split, num_classes: int) -> list[torch.Tensor]:
    """For each class, the (CPU, ascending) indices of its images in `split`."""
    labels = split.y.cpu()
    return [(labels == c).nonzero().flatten() for c in range(num_classes)]


def check_counts(by_class: Sequence[torch.Tensor], counts: Sequence[int], what: str) -> None:
    if len(counts) != len(by_class):
        raise GtnbenchError(f"{what}: {len(counts)} class counts for {len(by_class)} classes")
    for c, (members, count) in enumerate(zip(by_class, counts)):
        if count > len(members):
            raise GtnbenchError(f"{what}: class {c} has {len(members)} training images, fewer than the {count} asked")


def draw_from_class(members: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` distinct members at random (all of them, in random order, if there are fewer)."""
    return members[torch.randperm(len(members), generator=generator)[:count]]


def class_labels(counts: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """Labels [sum(counts)] grouped by class: counts[0] zeros, then counts[1] ones, ..."""
    return torch.repeat_interleave(torch.arange(len(counts), device=device), torch.tensor(counts, device=device))


def initial_images(
    dataset: ImageDataset, per_class: int, init: str, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Starting images [classes x per_class, C, H, W] grouped by class, and the training-split
    indices they were copied from (None for noise)."""
    counts = [per_class] * dataset.num_classes
    if init == "noise":
        images = torch.randn(sum(counts), *dataset.image_shape, generator=generator)
        return images.to(dataset.device), None
    by_class = indices_by_class(dataset.train, dataset.num_classes)
    check_counts(by_class, counts, "initialisation from real images")
    chosen = torch.cat([draw_from_class(members, per_class, generator) for members in by_class])
    return dataset.train.x[chosen.to(dataset.device)].clone(), chosen


class LearnedSet:
    """What DM and DC share: N learned images per class (initialised from `config.init`), their
    labels, and an SGD optimiser on the pixels, all seeded by `seed`. `config` has the fields
    images_per_class, init, lr_images and momentum."""

    def __init__(self, dataset: ImageDataset, learner: LearnerSpec, config: Any, seed: int) -> None:
        self.dataset, self.learner, self.config, self.seed = dataset, learner, config, seed
        self.rng = torch.Generator().manual_seed(seed)
        self.by_class = indices_by_class(dataset.train, dataset.num_classes)
        images, self.init_indices = initial_images(dataset, config.images_per_class, config.init, self.rng)
        self.images = images.requires_grad_()
        self.labels = class_labels([config.images_per_class] * dataset.num_classes, dataset.device)
        self.optimizer = torch.optim.SGD([self.images], lr=config.lr_images, momentum=config.momentum)
        self.iteration, self.losses = 0, []
        self.flops_per_iteration: int | None = None

    def counted_step(self) -> float:
        """The subclass's `step()` (one iteration); the first one under torch's FLOP counter (the same
        numbers: it only counts)."""
        if self.flops_per_iteration is not None:
            return self.step()
        loss, self.flops_per_iteration = count_flops(self.step)
        return loss

    def cost(self) -> dict[str, Any]:
        """The FLOPs of the iterations done (the first one's count times their number), for the provenance."""
        if self.flops_per_iteration is None:
            return {}
        return {
            "flops": self.flops_per_iteration * self.iteration,
            "flops_per_iteration": self.flops_per_iteration,
            "flops_how": FLOPS_HOW,
        }
