"""Data set names and how results on them are labelled (no torch: used by reports)."""

DATASET_NAMES = ("mnist", "cifar10", "cifar10-jpeg")

LABELS = {
    "mnist": "MNIST",
    "cifar10": "CIFAR-10",
    "cifar10-jpeg": "CIFAR-10 (JPEG copy)",
}


def dataset_label(name: str) -> str:
    return LABELS.get(name, name)
