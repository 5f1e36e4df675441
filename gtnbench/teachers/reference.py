"""A small set taught as the DC/DM reference evaluates it (VICO-UoE/DatasetCondensation, utils.py
`evaluate_synset` and `epoch`): protocol (b) `reference`.

- batches: every epoch a fresh permutation of the set cut into batches of `batch_size`, the last one
  smaller (a DataLoader with shuffle=True and drop_last=False);
- epochs: the reference's loop runs `epochs` + 1 of them (`for ep in range(Epoch + 1)`);
- step sizes: SGD with momentum 0.9 and weight decay 5e-4 (coupled into the gradient, torch's SGD), lr
  0.01 divided by 10 after epoch `epochs` // 2 + 1 (0-based), where the reference builds a new
  optimiser, so the momentum buffer starts again (momentum 0 at that step);
- augmentation of every training batch: "dsa" (DSA with one transform of the strategy per batch and its
  parameters drawn per image, the reference's non-Siamese mode), "crop-scale-rotate" (data/
  reference_augment.py) or "none".

Every draw (orders, augmentation) is made with the lesson, so `lesson.batch(t)` is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gtnbench.data.dsa import augment as dsa_augment
from gtnbench.data.dsa import check_strategy, draw_augmentation
from gtnbench.data.reference_augment import crop_scale_rotate, draw_crop_scale_rotate
from gtnbench.teachers.base import Lesson, Teacher

AUGMENTATIONS = ("none", "dsa", "crop-scale-rotate")
LR_DROP = 0.1


@dataclass(frozen=True)
class ReferenceRecipe:
    """The reference evaluation's settings (its defaults: lr 0.01, momentum 0.9, weight decay 5e-4, batch
    256; epochs 1,000 with augmentation, 300 without)."""

    epochs: int
    augment: str = "none"
    dsa: tuple[str, ...] = ()
    batch_size: int = 256
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {self.augment!r}; known: {', '.join(AUGMENTATIONS)}")
        if self.augment == "dsa" and not self.dsa:
            raise ValueError("augment 'dsa' needs its transforms (dsa)")
        check_strategy(self.dsa)

    def batches_per_epoch(self, set_size: int) -> int:
        return math.ceil(set_size / self.batch_size)

    def steps(self, set_size: int) -> int:
        """Training steps: (epochs + 1) epochs of ceil(set size / batch) batches."""
        return (self.epochs + 1) * self.batches_per_epoch(set_size)

    def drop_step(self, set_size: int) -> int:
        """The first step at lr / 10: the start of epoch epochs // 2 + 2 (0-based)."""
        return (self.epochs // 2 + 2) * self.batches_per_epoch(set_size)


def reference_step_sizes(
    recipe: ReferenceRecipe, set_size: int, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step learning rates and momenta: lr, then lr / 10 from the drop step on, where the momentum is 0
    for one step (a fresh optimiser's buffer)."""
    steps, drop = recipe.steps(set_size), recipe.drop_step(set_size)
    lrs = torch.full((steps,), recipe.lr, dtype=torch.float64, device=device)
    momenta = torch.full((steps,), recipe.momentum, dtype=torch.float32, device=device)
    if drop < steps:
        lrs[drop:] = recipe.lr * LR_DROP
        momenta[drop] = 0.0
    return lrs.to(torch.float32), momenta


class ReferenceSetTeacher(Teacher):
    """A fixed set of images and targets (labels, or target rows: teachers/fixed_set.py `set_targets`)
    taught as the reference evaluates it."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, recipe: ReferenceRecipe) -> None:
        if images.shape[0] != targets.shape[0] or images.shape[0] == 0:
            raise ValueError(
                f"a set needs as many labels as images, and at least one (got {images.shape[0]} "
                f"images, {targets.shape[0]} labels)"
            )
        self.images, self.targets, self.recipe = images.detach(), targets, recipe

    def steps(self) -> int:
        return self.recipe.steps(self.images.shape[0])

    def lesson(self, steps: int, generator: torch.Generator) -> Lesson:
        count, recipe, device = self.images.shape[0], self.recipe, self.images.device
        if steps != self.steps():
            raise ValueError(f"the reference recipe trains {self.steps()} steps on {count} images, not {steps}")
        orders = [torch.randperm(count, generator=generator, device=device) for _ in range(recipe.epochs + 1)]
        batches = [part for order in orders for part in order.split(recipe.batch_size)]
        draws = torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=generator, device=device)))
        size = tuple(self.images.shape[2:])
        if recipe.augment == "dsa":
            augmentations = [draw_augmentation(recipe.dsa, len(rows), size, draws) for rows in batches]
        elif recipe.augment == "crop-scale-rotate":
            augmentations = [draw_crop_scale_rotate(len(rows), draws) for rows in batches]

        def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
            rows = batches[t]
            x = self.images[rows]
            if recipe.augment == "dsa":
                x = dsa_augment(x, augmentations[t])
            elif recipe.augment == "crop-scale-rotate":
                x = crop_scale_rotate(x, augmentations[t])
            return x, self.targets[rows]

        lrs, momenta = reference_step_sizes(recipe, count, device)
        uniform = count <= recipe.batch_size or count % recipe.batch_size == 0
        return Lesson(steps, batch, lrs, momenta, weight_decay=recipe.weight_decay, uniform=uniform)
