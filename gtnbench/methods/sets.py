"""Small image sets from suite methods: made by a subset, coreset, DM, DC or gtn-set method, or loaded
from a saved set.pt (`checkpoint`), checked against the run's data set."""

from __future__ import annotations

from pathlib import Path

from gtnbench.data.datasets import ImageDataset
from gtnbench.data.image_set import ImageSet, load_image_set
from gtnbench.distill.classes import class_counts
from gtnbench.distill.coreset import FeatureLearner, coreset
from gtnbench.distill.dc import DCConfig, gradient_matching
from gtnbench.distill.dm import DMConfig, distribution_matching
from gtnbench.distill.subset import random_subset
from gtnbench.errors import DataError, TrialFailed
from gtnbench.models.learners import LearnerSpec
from gtnbench.suite import (
    CoresetMethod,
    DCMethod,
    DMMethod,
    GTNSetMethod,
    SetEvaluation,
    SizedSet,
    SubsetMethod,
)

# The `method` a saved set may carry to be loaded by a method of each kind.
SET_METHOD_NAMES = {"subset": ("subset",), "coreset": ("herding", "kmeans"), "dm": ("dm",), "dc": ("dc",),
                    "gtn-set": ("gtn-set",)}  # fmt: skip


def set_counts(method: SizedSet, evaluation: SetEvaluation, num_classes: int) -> list[int]:
    """Images per class: `images_per_class` for every class, or `total` spread evenly ("equal-steps":
    protocol (a)'s steps x batch size, the GTN's T x B)."""
    if method.images_per_class is not None:
        return class_counts(num_classes, per_class=method.images_per_class)
    total = method.total
    if total == "equal-steps":
        total = evaluation.equal_steps.steps * evaluation.equal_steps.batch_size
    return class_counts(num_classes, total=total)


def learned_per_class(counts: list[int]) -> int:
    """A learned set (DM, DC) has as many images in every class: the smallest count of `counts`
    (total // classes for a total that does not divide evenly)."""
    return min(counts)


def load_set_file(path: Path, dataset: ImageDataset, kind: str | None = None) -> ImageSet:
    """A saved set (for a method of `kind`, if given), on the data set's device; refused when another kind
    of method made it, or when it was made on another data set or for images of another shape."""
    try:
        image_set = load_image_set(path, dataset.device)
    except DataError as error:
        raise TrialFailed(str(error)) from None
    if kind is not None and image_set.method not in SET_METHOD_NAMES[kind]:
        raise TrialFailed(f"{path}: a {image_set.method} set, not one a {kind} method makes "
                          f"({', '.join(SET_METHOD_NAMES[kind])})")  # fmt: skip
    if image_set.dataset != dataset.name:
        raise TrialFailed(f"{path}: made on {image_set.dataset}, not on this run's data set {dataset.name}")
    shape = tuple(image_set.images.shape[1:])
    if shape != tuple(dataset.image_shape) or image_set.num_classes > dataset.num_classes:
        raise TrialFailed(f"{path}: images {shape} with {image_set.num_classes} classes do not fit {dataset.name} "
                          f"({tuple(dataset.image_shape)}, {dataset.num_classes} classes)")  # fmt: skip
    return image_set


def gtn_lesson_set(gtn_path: Path, dataset: ImageDataset, seed: int) -> ImageSet:
    """The T x B images of a trained GTN's curriculum, in order (the `none` curriculum: its seeded draw)."""
    from gtnbench.meta import load_gtn

    gtn, config = load_gtn(gtn_path, dataset.device)
    images, labels = gtn.samples()
    provenance = {"gtn_checkpoint": str(gtn_path), "gtn": config, "inner_steps": gtn.spec.inner_steps,
                  "batch_size": gtn.spec.batch_size, "curriculum": gtn.spec.curriculum}  # fmt: skip
    return ImageSet(images.flatten(0, 1).detach(), labels.flatten(), "gtn-set", dataset.name, seed, provenance)


def make_image_set(method: SizedSet | GTNSetMethod, dataset: ImageDataset, learner: LearnerSpec, seed: int,
                   evaluation: SetEvaluation, gtn_path: Path | None = None) -> ImageSet:  # fmt: skip
    """The set `method` makes from dataset.train with `seed` (a gtn-set: from the GTN at `gtn_path`)."""
    if isinstance(method, GTNSetMethod):
        return gtn_lesson_set(gtn_path or Path(method.gtn_checkpoint), dataset, seed)
    counts = set_counts(method, evaluation, dataset.num_classes)
    if isinstance(method, SubsetMethod):
        return random_subset(dataset, counts, seed)
    if isinstance(method, CoresetMethod):
        f = method.features
        return coreset(dataset, counts, method.selection, FeatureLearner(learner, f.steps, f.batch_size, f.lr,
                                                                         f.momentum), seed)  # fmt: skip
    per_class = learned_per_class(counts)
    if isinstance(method, DMMethod):
        config = DMConfig(images_per_class=per_class, iterations=method.iterations, lr_images=method.lr_images,
                          momentum=method.momentum, real_per_class=method.real_per_class, init=method.init,
                          dsa=tuple(method.dsa))  # fmt: skip
        return distribution_matching(dataset, learner, config, seed)
    if isinstance(method, DCMethod):
        config = DCConfig(images_per_class=per_class, iterations=method.iterations, outer_loop=method.outer_loop,
                          inner_loop=method.inner_loop, lr_images=method.lr_images, momentum=method.momentum,
                          lr_network=method.lr_network, real_per_class=method.real_per_class,
                          batch_train=method.batch_train, init=method.init, dsa=tuple(method.dsa))  # fmt: skip
        return gradient_matching(dataset, learner, config, seed)
    raise TypeError(f"not a small-set method: {type(method).__name__}")
