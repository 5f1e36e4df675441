"""Data sets as device-resident, normalised tensors with the paper's fixed, seeded splits."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from gtnbench.data import sources
from gtnbench.data.names import DATASET_NAMES, LABELS
from gtnbench.errors import DataError

# Normalisation constants of the official data; the JPEG copy uses CIFAR-10's own.
MEAN_STD = {
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

# Fraction of the official training set held out for validation:
# MNIST 10k of 60k (50k meta-train), CIFAR-10 5k of 50k (45k meta-train).
VALIDATION_FRACTION = {"mnist": 1 / 6, "cifar10": 1 / 10}


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # float32, N x C x H x W, normalised
    y: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return self.y.shape[0]


@dataclass(frozen=True)
class ImageDataset:
    """One data set on one device: `train` (meta-train), `val` (held out from train) and `test`."""

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    split_seed: int

    @property
    def label(self) -> str:
        return LABELS[self.name]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])

    @property
    def device(self) -> torch.device:
        return self.train.x.device

    def scored_on(self, images: int | None) -> ImageDataset:
        """The data set with its validation and test splits cut to their first `images` (None: whole)."""
        if images is None:
            return self
        return replace(
            self,
            val=Split(self.val.x[:images], self.val.y[:images]),
            test=Split(self.test.x[:images], self.test.y[:images]),
        )

    def split(self, name: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def resolve_dataset_name(name: str, root: Path) -> str:
    """Map a suite's dataset to the data at hand: `cifar10` falls back to the JPEG copy."""
    if name not in DATASET_NAMES:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")
    if name == "cifar10" and not sources.cifar10_official_present(root) and sources.cifar10_jpeg_present(root):
        return "cifar10-jpeg"
    return name


def _read(name: str, root: Path) -> sources.RawImages:
    if name == "mnist":
        return sources.read_mnist(root)
    if name == "cifar10":
        if not (sources.cifar10_official_present(root) or sources.cifar10_jpeg_present(root)):
            raise DataError(
                f"cifar10 not found under data root {root} (looked for cifar-10-batches-py/ and "
                f"{sources.JPEG_ARCHIVE}); run `gtnbench data fetch cifar10 --data-root {root}`"
            )
        return sources.read_cifar10_official(root)
    return sources.read_cifar10_jpeg(root)


def _normalise(images: np.ndarray, family: str) -> torch.Tensor:
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in MEAN_STD[family])
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255)
    return (x - mean) / std


def split_indices(count: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded permutation of range(count) cut into (train, validation) index tensors."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    held_out = round(count * fraction)
    return order[held_out:].sort().values, order[:held_out].sort().values


@lru_cache(maxsize=4)
def load_dataset(name: str, root: Path, device: str = "cpu", split_seed: int = 0) -> ImageDataset:
    """Load a data set from `root`, split it with `split_seed`, and move it to `device`.

    `name` is resolved first: `cifar10` gives the JPEG copy (named `cifar10-jpeg`) when
    the official files are absent and the copy is present.
    """
    resolved = resolve_dataset_name(name, root)
    raw = _read(resolved, root)
    family = "mnist" if resolved == "mnist" else "cifar10"
    train_x = _normalise(raw.train_images, family)
    train_y = torch.from_numpy(raw.train_labels)
    keep, held_out = split_indices(len(train_y), VALIDATION_FRACTION[family], split_seed)
    to = torch.device(device)
    return ImageDataset(
        name=resolved,
        train=Split(train_x[keep].to(to), train_y[keep].to(to)),
        val=Split(train_x[held_out].to(to), train_y[held_out].to(to)),
        test=Split(_normalise(raw.test_images, family).to(to), torch.from_numpy(raw.test_labels).to(to)),
        num_classes=10,
        split_seed=split_seed,
    )
