"""Distribution matching (DM; Zhao & Bilen, WACV 2023): learned images whose per-class mean embedding
under randomly initialised networks matches that of real images.

Each iteration samples a fresh network (the method's learner, built from a new seed), a batch of
`real_per_class` real images of every class, and with DSA one Siamese augmentation per class
(the same for that class's real and synthetic images). The loss is the sum over classes of the
squared distance between the mean embeddings of the real and of the synthetic images of the class;
the images take an SGD step (momentum 0.5, as the reference) on it. Defaults are the reference
implementation's (VICO-UoE/DatasetCondensation, main_DM.py): 20,000 iterations, image learning rate
1.0, 256 real images per class, initialisation from random real images, DSA with all six transforms,
and the embedding `feature-map`, the flattened last feature map (the reference's `ConvNet.embed`,
2,048 values an image for its ConvNet on CIFAR-10; models/features.py); `penultimate` (the pooled
vector the classifier reads, 256 values for the CIFAR-10 learner) is the named alternative.

With the reference ConvNet (learner `convnet`: instance norm, per image) this is the reference's
computation. A learner with mean-only batch norm uses batch statistics, so (as the reference does for
its batch-norm ConvNet) the real images of all classes go through the network as one batch and the
synthetic images as another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from gtnbench.data.datasets import ImageDataset
from gtnbench.data.dsa import Augmentation, augment, check_strategy, draw_augmentation
from gtnbench.data.image_set import ImageSet, plain
from gtnbench.data.names import DSA_TRANSFORMS
from gtnbench.distill.classes import INITS, LearnedSet, draw_from_class
from gtnbench.distill.network import fresh_network
from gtnbench.models.features import EMBEDDINGS, embed
from gtnbench.models.learners import LearnerSpec

Embed = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class DMConfig:
    images_per_class: int = 10
    iterations: int = 20_000
    lr_images: float = 1.0
    momentum: float = 0.5
    real_per_class: int = 256
    init: str = "real"  # real: random real images of the class; noise: N(0, 1) pixels
    dsa: tuple[str, ...] = DSA_TRANSFORMS  # () for none
    embedding: str = "feature-map"  # the reference's flattened last feature map; "penultimate": the pooled vector

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; known: {', '.join(INITS)}")
        if self.embedding not in EMBEDDINGS:
            raise ValueError(f"unknown embedding {self.embedding!r}; known: {', '.join(EMBEDDINGS)}")
        check_strategy(self.dsa)


def mean_embedding_loss(
    embed: Embed,
    real: Sequence[torch.Tensor],
    synthetic: Sequence[torch.Tensor],
    augmentations: Sequence[Augmentation] | None = None,
) -> torch.Tensor:
    """Sum over classes c of ||mean embed(real[c]) - mean embed(synthetic[c])||^2; real and synthetic
    each go through `embed` as one batch of all classes; augmentations[c] (if given) is applied to
    both real[c] and synthetic[c]. Gradients flow into the synthetic images only."""
    if augmentations is not None:
        real = [augment(x, a) for x, a in zip(real, augmentations)]
        synthetic = [augment(x, a) for x, a in zip(synthetic, augmentations)]
    with torch.no_grad():
        real_features = embed(torch.cat(list(real))).split([x.shape[0] for x in real])
    synthetic_features = embed(torch.cat(list(synthetic))).split([x.shape[0] for x in synthetic])
    real_means = torch.stack([f.mean(0) for f in real_features])
    synthetic_means = torch.stack([f.mean(0) for f in synthetic_features])
    return (real_means - synthetic_means).square().sum()


class DistributionMatching(LearnedSet):
    """The synthetic set and its optimiser; `step()` runs one iteration. All randomness (networks,
    real batches, augmentations, initialisation) comes from `seed`."""

    def real_batches(self) -> list[torch.Tensor]:
        x = self.dataset.train.x
        return [
            x[draw_from_class(members, self.config.real_per_class, self.rng).to(x.device)] for members in self.by_class
        ]

    def synthetic_batches(self) -> list[torch.Tensor]:
        return list(self.images.split(self.config.images_per_class))

    def augmentations(self) -> list[Augmentation] | None:
        if not self.config.dsa:
            return None
        size = self.dataset.image_shape[1:]
        return [draw_augmentation(self.config.dsa, 1, size, self.rng) for _ in range(self.dataset.num_classes)]

    def step(self) -> float:
        """One iteration: a fresh network, fresh real batches and augmentations, one image update."""
        network_seed = int(torch.randint(2**31 - 1, (1,), generator=self.rng))
        network, params = fresh_network(
            self.learner, self.dataset.image_shape, self.dataset.num_classes, network_seed, self.dataset.device
        )
        real, augmentations = self.real_batches(), self.augmentations()
        loss = mean_embedding_loss(
            lambda x: embed(network, params, x, self.config.embedding), real, self.synthetic_batches(), augmentations
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.iteration += 1
        self.losses.append(float(loss.detach()))
        return self.losses[-1]

    def result(self) -> ImageSet:
        provenance = {
            "config": plain(asdict(self.config)),
            "learner": plain(asdict(self.learner)),
            "iterations_done": self.iteration,
            "losses": self.losses,
            "init_indices": None if self.init_indices is None else self.init_indices.tolist(),
            "split_seed": self.dataset.split_seed,
            **self.cost(),
        }
        return ImageSet(
            self.images.detach().clone(), self.labels.clone(), "dm", self.dataset.name, self.seed, provenance
        )


def distribution_matching(
    dataset: ImageDataset,
    learner: LearnerSpec,
    config: DMConfig,
    seed: int,
    log: Callable[[int, float], None] | None = None,
    log_every: int = 100,
) -> ImageSet:
    """Run `config.iterations` DM iterations on dataset.train; log(iteration, loss) every `log_every`.
    The first iteration's FLOPs are counted (distill/cost.py)."""
    matcher = DistributionMatching(dataset, learner, config, seed)
    for _ in range(config.iterations):
        loss = matcher.counted_step()
        if log is not None and (matcher.iteration % log_every == 0 or matcher.iteration == config.iterations):
            log(matcher.iteration, loss)
    return matcher.result()
