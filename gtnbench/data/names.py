"""Data set names and how results on them are labelled, and the names of the DSA transforms (no torch: used by
reports and suite files)."""

from collections.abc import Iterable

DATASET_NAMES = ("mnist", "cifar10", "cifar10-jpeg")

LABELS = {
    "mnist": "MNIST",
    "cifar10": "CIFAR-10",
    "cifar10-jpeg": "CIFAR-10 (JPEG copy)",
}


def dataset_label(name: str) -> str:
    return LABELS.get(name, name)


def data_label(records: Iterable[dict]) -> str:
    """The data sets of records as results on them are labelled ("CIFAR-10 (JPEG copy)" for the JPEG copy)."""
    return ", ".join(sorted({dataset_label(r["dataset"]) for r in records if r.get("dataset")})) or "–"


# Differentiable Siamese augmentation (gtnbench/data/dsa.py): the transforms a suite or a set file may name.
DSA_TRANSFORMS = ("color", "crop", "cutout", "flip", "scale", "rotate")
