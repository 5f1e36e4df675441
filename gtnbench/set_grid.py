"""Pictures of a small training set (subset, coreset, DM, DC): one row per class."""

from __future__ import annotations

from pathlib import Path

import torch

from gtnbench.data.image_set import ImageSet
from gtnbench.plotting import pyplot, save
from gtnbench.visual import to_pixels

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
