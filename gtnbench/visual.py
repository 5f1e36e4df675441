"""Pictures of what a GTN teaches: a grid of its synthetic images, one row per curriculum step."""

from __future__ import annotations

from pathlib import Path

import torch

from gtnbench.data.datasets import MEAN_STD
from gtnbench.plotting import pyplot, save
from gtnbench.teachers.gtn import GTN

MAX_ROWS = 64


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """Undo the data normalisation (MNIST constants for 1 channel, CIFAR-10's for 3); clip to [0, 1]."""
    mean, std = MEAN_STD["mnist" if images.shape[-3] == 1 else "cifar10"]
    shape = (1,) * (images.dim() - 3) + (-1, 1, 1)
    mean, std = torch.tensor(mean).view(shape), torch.tensor(std).view(shape)
    return (images.cpu() * std + mean).clamp(0, 1)


def first_of_each_class(pixels: torch.Tensor, labels: torch.Tensor, classes: int) -> list[torch.Tensor]:
    """One step's first image of every class; a blank (white) tile for a class the batch lacks
    (the all-shuffled curriculum draws its batches at random, so they need not hold every class)."""
    tiles = []
    for c in range(classes):
        found = (labels == c).nonzero()
        tiles.append(pixels[int(found[0])] if len(found) else torch.ones_like(pixels[0]))
    return tiles


def save_sample_grid(gtn: GTN, path: Path, title: str) -> Path:
    """Rows: curriculum steps (at most 64, evenly spaced); columns: the first image of each class."""
    from torchvision.utils import make_grid

    plt = pyplot()

    images, labels = gtn.samples()
    classes = gtn.generator_spec.num_classes
    steps = list(range(images.shape[0]))
    if len(steps) > MAX_ROWS:
        steps = [round(i * (len(steps) - 1) / (MAX_ROWS - 1)) for i in range(MAX_ROWS)]
    pixels = to_pixels(images)
    picked = torch.stack([tile for t in steps for tile in first_of_each_class(pixels[t], labels[t].cpu(), classes)])
    grid = make_grid(picked, nrow=classes, padding=2, pad_value=1.0)
    height, width = grid.shape[1:]
    fig, axis = plt.subplots(figsize=(width / 40 + 1.2, height / 40 + 0.8), dpi=100)
    axis.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    cell = height / len(steps)
    axis.set_yticks([cell * (i + 0.5) for i in range(len(steps))], [f"step {t + 1}" for t in steps], fontsize=7)
    axis.set_xticks([width / classes * (c + 0.5) for c in range(classes)], [str(c) for c in range(classes)])
    axis.set_xlabel("label")
    axis.set_title(f"{title}\ncurriculum: {gtn.spec.curriculum}", fontsize=9)
    save(fig, path, dpi=100)
    return path
