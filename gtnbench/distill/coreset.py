"""Coresets: real training images chosen per class in the feature space of a learner.

- herding: greedy mean matching (Welling 2009, in the form of the iCaRL / DC-BENCH / DatasetCondensation
  coreset baselines): the k-th pick is the not yet picked image that brings the mean of the
  picks' features closest to the class mean;
- kmeans: scikit-learn's KMeans with as many clusters as images wanted, and for each centroid the
  real image of the class nearest to it.

The features are the learner's penultimate activations (gtnbench.models.features), of a learner
freshly initialised from `seed` or first trained `feature_steps` SGD steps on the real training split;
they are computed over the whole split in fixed chunks of its stored order (batch-statistics
normalisation makes a feature depend on its chunk), then grouped by class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from gtnbench.data.datasets import ImageDataset
from gtnbench.data.image_set import ImageSet, plain
from gtnbench.distill.classes import check_counts, indices_by_class
from gtnbench.distill.cost import FLOPS_HOW, count_flops
from gtnbench.distill.network import features_of, fresh_network, sgd_steps
from gtnbench.models.learners import LearnerSpec
from gtnbench.teachers.real import RealDataTeacher

SELECTIONS = ("herding", "kmeans")


@dataclass(frozen=True)
class FeatureLearner:
    """Which network embeds the images: `spec`, trained `steps` SGD steps (0: at initialisation)
    with batch `batch_size`, constant `lr` and `momentum` on the real training split."""

    spec: LearnerSpec
    steps: int = 0
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.5


def herding_order(features: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of `count` distinct rows of `features` [N, D], picked greedily: pick k+1 minimises
    ||mean(picks 1..k+1) - mean(all)||."""
    if not 0 < count <= features.shape[0]:
        raise ValueError(f"cannot pick {count} of {features.shape[0]} points")
    points = features.double()
    target_mean = points.mean(0)
    picked, total = [], torch.zeros_like(target_mean)
    available = torch.ones(points.shape[0], dtype=torch.bool, device=points.device)
    for k in range(count):
        # ||(total + f) / (k+1) - mean|| is smallest where ||f - ((k+1) mean - total)|| is
        distance = (points - ((k + 1) * target_mean - total)).square().sum(1)
        distance[~available] = float("inf")
        best = int(distance.argmin())
        picked.append(best)
        available[best] = False
        total += points[best]
    return torch.tensor(picked, dtype=torch.long)


def kmeans_representatives(features: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """Indices of `count` distinct rows: KMeans(count) on the rows, then for each centroid in turn the
    nearest row not yet taken."""
    from sklearn.cluster import KMeans

    if not 0 < count <= features.shape[0]:
        raise ValueError(f"cannot pick {count} of {features.shape[0]} points")
    points = features.double().cpu()
    centres = KMeans(n_clusters=count, n_init="auto", random_state=seed).fit(points.numpy()).cluster_centers_
    distance = torch.cdist(torch.from_numpy(np.ascontiguousarray(centres)), points)
    picked: list[int] = []
    for row in distance:
        row = row.clone()
        row[picked] = float("inf")
        picked.append(int(row.argmin()))
    return torch.tensor(picked, dtype=torch.long)


# The last features computed, with what they were computed from and their FLOPs: a suite's coresets of one
# seed (herding and k-means at several sizes) share one feature learner, so a process computes them once.
_last_features: list[tuple[ImageDataset, FeatureLearner, int, torch.Tensor, int]] = []


def training_split_features(dataset: ImageDataset, learner: FeatureLearner, seed: int) -> tuple[torch.Tensor, int]:
    """Penultimate features [len(train), D] of the training split, under `learner` built from `seed`, and
    the FLOPs of computing them (the feature learner's steps: its first step's count times the steps)."""
    for cached, spec, cached_seed, features, flops in _last_features:
        if cached is dataset and spec == learner and cached_seed == seed:
            return features, flops
    network, params = fresh_network(learner.spec, dataset.image_shape, dataset.num_classes, seed, dataset.device)
    flops = 0
    if learner.steps:
        teacher = RealDataTeacher(dataset.train, learner.batch_size, learner.lr, learner.momentum)
        lesson = teacher.lesson(learner.steps, torch.Generator(dataset.device).manual_seed(seed))
        _, step_flops = count_flops(lambda: sgd_steps(network, params, [lesson.batch(0)], learner.lr))
        params = sgd_steps(
            network, params, (lesson.batch(t) for t in range(learner.steps)), learner.lr, learner.momentum
        )
        flops += step_flops * learner.steps
    features, embed_flops = count_flops(lambda: features_of(network, params, dataset.train.x))
    _last_features[:] = [(dataset, learner, seed, features, flops + embed_flops)]
    return features, flops + embed_flops


def coreset(
    dataset: ImageDataset, counts: Sequence[int], selection: str, learner: FeatureLearner, seed: int
) -> ImageSet:
    """counts[c] real images of class c chosen by `selection` (herding or kmeans) in the features of
    `learner` (built from `seed`; KMeans seeded with seed + c), grouped by class; `indices` are
    positions in dataset.train, in order of choice within each class."""
    if selection not in SELECTIONS:
        raise ValueError(f"unknown coreset selection {selection!r}; known: {', '.join(SELECTIONS)}")
    by_class = indices_by_class(dataset.train, dataset.num_classes)
    check_counts(by_class, counts, f"coreset ({selection})")
    features, flops = training_split_features(dataset, learner, seed)
    features = features.cpu()
    chosen = []
    for c, (members, count) in enumerate(zip(by_class, counts)):
        class_features = features[members]
        if selection == "herding":
            order = herding_order(class_features, count)
        else:
            order = kmeans_representatives(class_features, count, seed + c)
        chosen.append(members[order])
    indices = torch.cat(chosen)
    on_device = indices.to(dataset.device)
    provenance = {
        "counts": list(counts),
        "split": "train",
        "split_seed": dataset.split_seed,
        "feature_learner": plain(asdict(learner)),
        "flops": flops,
        "flops_how": FLOPS_HOW + "; the selection itself (scikit-learn, herding) is not counted",
    }
    return ImageSet(
        dataset.train.x[on_device], dataset.train.y[on_device], selection, dataset.name, seed, provenance, indices
    )
