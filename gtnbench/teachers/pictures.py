"""Pictures of what a teacher teaches: a GTN's synthetic images, one row per curriculum step; a small
training set (subset, coreset, DM, DC), one row per class."""

from __future__ import annotations

from pathlib import Path

import torch

from gtnbench.data.datasets import MEAN_STD
from gtnbench.data.image_set import ImageSet
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


MAX_PER_CLASS = 10  # a row of ten shows a class; more makes report pages of megabytes


def save_set_grid(image_set: ImageSet, path: Path, title: str, max_per_class: int = MAX_PER_CLASS) -> Path:
    """Row c: the first `max_per_class` images of class c in the set's order (white tiles where a
    class has fewer)."""
    from torchvision.utils import make_grid

    plt = pyplot()
    pixels, labels = to_pixels(image_set.images), image_set.labels.cpu()
    classes = image_set.num_classes
    columns = min(max_per_class, max(image_set.per_class()))
    blank = torch.ones_like(pixels[0])
    tiles = []
    for c in range(classes):
        members = (labels == c).nonzero().flatten()[:columns].tolist()
        tiles += [pixels[i] for i in members] + [blank] * (columns - len(members))
    grid = make_grid(torch.stack(tiles), nrow=columns, padding=2, pad_value=1.0)
    height, width = grid.shape[1:]
    fig, axis = plt.subplots(figsize=(max(3.0, width / 100 + 1.2), height / 100 + 0.8), dpi=100)  # 1 px per pixel
    axis.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    axis.set_yticks([height / classes * (c + 0.5) for c in range(classes)], [str(c) for c in range(classes)])
    axis.set_ylabel("label")
    axis.set_xticks([])
    counts = sorted(set(image_set.per_class()))
    per_class = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    axis.set_title(f"{title}\n{image_set.method}, {per_class} images per class", fontsize=9)
    save(fig, path, dpi=100)
    return path
