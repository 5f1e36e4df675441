"""Small image sets from suite methods: made by a subset, coreset, DM, DC or gtn-set method, loaded
from a saved set.pt (`checkpoint`), or brought in a set file (`file`: gtnbench/data/set_file.py), checked
against the run's data set."""

from __future__ import annotations

from pathlib import Path

from gtnbench.data.datasets import ImageDataset
from gtnbench.data.image_set import ImageSet, load_image_set
from gtnbench.distill.classes import class_counts
from gtnbench.distill.coreset import FeatureLearner, coreset
from gtnbench.distill.dc import DCConfig, gradient_matching
from gtnbench.distill.dm import DMConfig, distribution_matching
from gtnbench.distill.subset import random_subset
from gtnbench.errors import DataError, GtnbenchError, TrialFailed
from gtnbench.methods.base import learner_spec
from gtnbench.models.learners import LearnerSpec
from gtnbench.suite.methods import (
    CoresetMethod,
    DCMethod,
    DMMethod,
    FileSetMethod,
    GTNSetMethod,
    SetEvaluation,
    SizedSet,
    SubsetMethod,
)

# The `method` a saved set may carry to be loaded by a method of each kind.
SET_METHOD_NAMES = {
    "subset": ("subset",),
    "coreset": ("herding", "kmeans"),
    "dm": ("dm",),
    "dc": ("dc",),
    "gtn-set": ("gtn-set",),
    "file": ("file",),
}


def set_counts(method: SizedSet, evaluation: SetEvaluation, num_classes: int) -> list[int]:
    """Images per class: `images_per_class` for every class, `counts` as given (one per class), or
    `total` spread evenly ("equal-steps": protocol (a)'s steps x batch size, the GTN's T x B)."""
    if method.counts is not None:
        if len(method.counts) != num_classes:
            raise GtnbenchError(f"counts: {len(method.counts)} class counts for {num_classes} classes")
        return list(method.counts)
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
        raise TrialFailed(
            f"{path}: a {image_set.method} set, not one a {kind} method makes ({', '.join(SET_METHOD_NAMES[kind])})"
        )
    if image_set.dataset != dataset.name:
        raise TrialFailed(f"{path}: made on {image_set.dataset}, not on this run's data set {dataset.name}")
    shape = tuple(image_set.images.shape[1:])
    if shape != tuple(dataset.image_shape) or image_set.num_classes > dataset.num_classes:
        raise TrialFailed(
            f"{path}: images {shape} with {image_set.num_classes} classes do not fit {dataset.name} "
            f"({tuple(dataset.image_shape)}, {dataset.num_classes} classes)"
        )
    return image_set


def gtn_lesson_set(gtn_path: Path, dataset: ImageDataset, seed: int) -> ImageSet:
    """The T x B images of a trained GTN's curriculum, in order (the `none` curriculum: its seeded draw)."""
    from gtnbench.meta import load_gtn

    gtn, config = load_gtn(gtn_path, dataset.device)
    images, labels = gtn.samples()
    provenance = {
        "gtn_checkpoint": str(gtn_path),
        "gtn": config,
        "inner_steps": gtn.spec.inner_steps,
        "batch_size": gtn.spec.batch_size,
        "curriculum": gtn.spec.curriculum,
    }
    return ImageSet(images.flatten(0, 1).detach(), labels.flatten(), "gtn-set", dataset.name, seed, provenance)


def file_set(method: FileSetMethod, dataset: ImageDataset) -> ImageSet:
    """The set a `file` method brings, read and checked (gtnbench/data/set_file.py); a file whose content is
    not the one the suite names (`sha256`) is refused."""
    from gtnbench.data.set_file import read_set_file

    try:
        brought = read_set_file(Path(method.path), dataset)
    except DataError as error:
        raise TrialFailed(str(error)) from None
    if method.sha256 and brought.image_set.provenance["sha256"] != method.sha256:
        raise TrialFailed(
            f"{method.path}: its sha256 is {brought.image_set.provenance['sha256'][:12]}..., not the "
            f"{method.sha256[:12]}... the suite names: the file changed"
        )
    return brought.image_set


def making_learner(method: DMMethod | DCMethod, learner: LearnerSpec) -> LearnerSpec:
    """The network a DM or DC set is made with: `make_with`, else the learner that scores it."""
    return learner_spec(method.make_with) if method.make_with is not None else learner


def make_image_set(
    method: SizedSet | GTNSetMethod | FileSetMethod,
    dataset: ImageDataset,
    learner: LearnerSpec,
    seed: int,
    evaluation: SetEvaluation,
    gtn_path: Path | None = None,
) -> ImageSet:
    """The set `method` makes from dataset.train with `seed` (a gtn-set: from the GTN at `gtn_path`; a file
    method: the file's set)."""
    if isinstance(method, GTNSetMethod):
        return gtn_lesson_set(gtn_path or Path(method.gtn_checkpoint), dataset, seed)
    if isinstance(method, FileSetMethod):
        return file_set(method, dataset)
    counts = set_counts(method, evaluation, dataset.num_classes)
    if isinstance(method, SubsetMethod):
        return random_subset(dataset, counts, seed)
    if isinstance(method, CoresetMethod):
        f = method.features
        return coreset(
            dataset, counts, method.selection, FeatureLearner(learner, f.steps, f.batch_size, f.lr, f.momentum), seed
        )
    per_class = learned_per_class(counts)
    if isinstance(method, DMMethod):
        config = DMConfig(
            images_per_class=per_class,
            iterations=method.iterations,
            lr_images=method.lr_images,
            momentum=method.momentum,
            real_per_class=method.real_per_class,
            init=method.init,
            dsa=tuple(method.dsa),
            embedding=method.embedding,
        )
        return distribution_matching(dataset, making_learner(method, learner), config, seed)
    if isinstance(method, DCMethod):
        config = DCConfig(
            images_per_class=per_class,
            iterations=method.iterations,
            outer_loop=method.outer_loop,
            inner_loop=method.inner_loop,
            lr_images=method.lr_images,
            momentum=method.momentum,
            lr_network=method.lr_network,
            real_per_class=method.real_per_class,
            batch_train=method.batch_train,
            init=method.init,
            dsa=tuple(method.dsa),
            match=method.match,
            bn_stats=method.bn_stats,
        )
        return gradient_matching(dataset, making_learner(method, learner), config, seed)
    raise TypeError(f"not a small-set method: {type(method).__name__}")
