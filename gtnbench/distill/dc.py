"""Gradient matching (DC; Zhao, Mopuri & Bilen, ICLR 2021): learned images whose per-class loss
gradients match those of real images along a network's training trajectory.

One iteration, as in the reference implementation (VICO-UoE/DatasetCondensation, main.py):
a freshly initialised network; then `outer_loop` times: for every class c, the gradient of the
cross-entropy of a batch of `real_per_class` real images of class c and that of the class's
synthetic images, with respect to every network parameter; the image loss is the sum over classes
and layers of the layer-wise distance (sum over output nodes of 1 - cosine similarity of the two
gradients' rows); one SGD step of the images (momentum 0.5); then, except after the last outer
loop, `inner_loop` epochs of plain SGD (lr_network, no momentum) of the network on the synthetic
set in shuffled batches of `batch_train`. Defaults are the reference's: 1,000 iterations, image
learning rate 0.1, network learning rate 0.01, 256 real images per class, batches of 256, noise
initialisation, and (outer_loop, inner_loop) by images per class: 1: (1, 1), 10: (10, 50),
20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10). With `dsa` it is DSA (Zhao & Bilen,
ICML 2021): a Siamese augmentation per class on real and synthetic images, and augmented batches
(one transform per batch, parameters per image) when the network trains on the synthetic set.

The network is used in functional form (its parameters a dict of tensors, functional_call), so no
state of a module carries over. What differs from the reference:
- the network is gtnbench's learner (the suite's), not the reference's ConvNet (three
  conv-instance-norm-ReLU-avgpool blocks of width 128). Instance norm is per image, so the
  reference can take gradients on one-class batches; a batch norm centred with a one-class
  batch's own statistics loses what tells the classes apart (and matching then does not learn).
  So, as the reference does for its batch-norm networks, each outer loop first takes the
  statistics of a mixed real batch (NORM_PER_CLASS images per class, models/norm.py's training
  pass) and holds them fixed (an evaluation pass) for every per-class gradient, real and
  synthetic; the network's own training steps on the synthetic set use batch statistics;
- the layer-wise distance skips tensors with at most one element per output node: biases,
  batch-norm biases (as the reference skips 1-d tensors) and also the gains of weight-normalised
  layers (whose per-node "cosine" would only be the sign agreement of two scalars); the directions
  of weight-normalised layers are matched like plain weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

from gtnbench.data.datasets import ImageDataset
from gtnbench.data.image_set import ImageSet, plain
from gtnbench.distill.classes import INITS, LearnedSet, draw_from_class
from gtnbench.distill.network import fresh_network, sgd_steps
from gtnbench.distill.siamese import augment, check_strategy, draw_augmentation
from gtnbench.errors import GtnbenchError
from gtnbench.models.learners import LearnerSpec
from gtnbench.models.norm import Stats, statistics_pass

REFERENCE_LOOPS = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}
COSINE_EPS = 1e-6  # the reference's guard against zero norms
NORM_PER_CLASS = 16  # real images per class whose batch-norm statistics are frozen for matching (the reference's)


@dataclass(frozen=True)
class DCConfig:
    images_per_class: int = 10
    iterations: int = 1000
    outer_loop: int = 0  # 0: the reference's value for images_per_class
    inner_loop: int = 0  # 0: likewise
    lr_images: float = 0.1
    momentum: float = 0.5
    lr_network: float = 0.01
    real_per_class: int = 256
    batch_train: int = 256
    init: str = "noise"  # noise: N(0, 1) pixels; real: random real images of the class
    dsa: tuple[str, ...] = ()  # DSA transforms; () is plain DC

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; known: {', '.join(INITS)}")
        check_strategy(self.dsa)
        if not (self.outer_loop and self.inner_loop) and self.images_per_class not in REFERENCE_LOOPS:
            raise GtnbenchError(f"DC: the reference sets outer_loop and inner_loop only for {sorted(REFERENCE_LOOPS)} "
                                f"images per class; give both for {self.images_per_class}")  # fmt: skip

    def loops(self) -> tuple[int, int]:
        """(outer_loop, inner_loop): the given values, or the reference's for images_per_class."""
        outer, inner = REFERENCE_LOOPS.get(self.images_per_class, (0, 0))
        return self.outer_loop or outer, self.inner_loop or inner


def layer_distance(real: torch.Tensor, synthetic: torch.Tensor) -> torch.Tensor:
    """Sum over output nodes (rows of dimension 0) of 1 - cosine similarity of the two gradients'
    rows; 0 for a tensor with at most one element per output node."""
    if real.dim() < 2 or real[0].numel() == 1:
        return torch.zeros((), dtype=synthetic.dtype, device=synthetic.device)
    real, synthetic = real.flatten(1), synthetic.flatten(1)
    cosine = (real * synthetic).sum(-1) / (real.norm(dim=-1) * synthetic.norm(dim=-1) + COSINE_EPS)
    return (1 - cosine).sum()


def gradient_match_loss(real: Sequence[torch.Tensor], synthetic: Sequence[torch.Tensor]) -> torch.Tensor:
    """The reference's distance between two gradients (lists of per-parameter tensors): the sum of
    the layer distances."""
    return torch.stack([layer_distance(r, s) for r, s in zip(real, synthetic, strict=True)]).sum()


def frozen_statistics(network: torch.nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor) -> Stats:
    """The batch-norm statistics of one training-mode pass of the network over x (models/norm.py)."""
    with torch.no_grad(), statistics_pass(training=True) as current:
        functional_call(network, params, (x,))
    return tuple(current.produced)


def class_loss(network: torch.nn.Module, params: dict[str, torch.Tensor], stats: Stats, x: torch.Tensor,
               label: int) -> torch.Tensor:  # fmt: skip
    """Cross-entropy of images x, all of class `label`, with batch norm at the given statistics."""
    with statistics_pass(training=False, given=stats, exact=True):
        out = functional_call(network, params, (x,))
    return F.cross_entropy(out, torch.full((x.shape[0],), label, device=x.device))


class GradientMatching(LearnedSet):
    """The synthetic set and its optimiser; `step()` runs one iteration. All randomness (networks,
    real batches, shuffling, augmentations, initialisation) comes from `seed`."""

    def match_loss(self, network: torch.nn.Module, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum over classes of the distance of the real and synthetic gradients at `params`, batch norm
        frozen at the statistics of a mixed real batch of NORM_PER_CLASS images per class."""
        leaves = {name: p.detach().requires_grad_() for name, p in params.items()}
        tensors, x, device = list(leaves.values()), self.dataset.train.x, self.dataset.device
        mixed = torch.cat([draw_from_class(members, NORM_PER_CLASS, self.rng) for members in self.by_class])
        stats = frozen_statistics(network, leaves, x[mixed.to(device)])
        size, total = self.dataset.image_shape[1:], torch.zeros((), device=device)
        for c, (members, synthetic) in enumerate(zip(self.by_class, self.images.split(self.config.images_per_class))):
            real = x[draw_from_class(members, self.config.real_per_class, self.rng).to(device)]
            if self.config.dsa:
                siamese = draw_augmentation(self.config.dsa, 1, size, self.rng)
                real, synthetic = augment(real, siamese), augment(synthetic, siamese)
            real_grads = torch.autograd.grad(class_loss(network, leaves, stats, real, c), tensors,
                                             allow_unused=True, materialize_grads=True)  # fmt: skip
            synthetic_loss = class_loss(network, leaves, stats, synthetic, c)
            synthetic_grads = torch.autograd.grad(synthetic_loss, tensors, create_graph=True, allow_unused=True,
                                                  materialize_grads=True)  # fmt: skip
            total = total + gradient_match_loss([g.detach() for g in real_grads], synthetic_grads)
        return total

    def _synthetic_epochs(self, epochs: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels = self.images.detach().clone(), self.labels
        size = self.dataset.image_shape[1:]
        for _ in range(epochs):
            order = torch.randperm(images.shape[0], generator=self.rng).to(images.device)
            for batch in order.split(self.config.batch_train):
                x = images[batch]
                if self.config.dsa:
                    x = augment(x, draw_augmentation(self.config.dsa, x.shape[0], size, self.rng))
                yield x, labels[batch]

    def fresh_network(self) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
        """The learner built from the next seed of the matcher's generator, and its parameters."""
        network_seed = int(torch.randint(2**31 - 1, (1,), generator=self.rng))
        return fresh_network(self.learner, self.dataset.image_shape, self.dataset.num_classes, network_seed,
                             self.dataset.device)  # fmt: skip

    def update_images(self, network: torch.nn.Module, params: dict[str, torch.Tensor]) -> float:
        """One image step on the match loss at `params`; returns that loss."""
        loss = self.match_loss(network, params)
        (self.images.grad,) = torch.autograd.grad(loss, [self.images])
        self.optimizer.step()
        return float(loss.detach())

    def train_network(self, network: torch.nn.Module, params: dict[str, torch.Tensor],
                      epochs: int) -> dict[str, torch.Tensor]:  # fmt: skip
        """`epochs` epochs of plain SGD of the network on the current synthetic set."""
        return sgd_steps(network, params, self._synthetic_epochs(epochs), self.config.lr_network)

    def step(self) -> float:
        """One iteration: a fresh network trained along the way; returns the match loss averaged over
        the outer loops (summed over classes)."""
        network, params = self.fresh_network()
        outer, inner = self.config.loops()
        total = 0.0
        for loop in range(outer):
            total += self.update_images(network, params)
            if loop < outer - 1:
                params = self.train_network(network, params, inner)
        self.iteration += 1
        self.losses.append(total / outer)
        return self.losses[-1]

    def result(self) -> ImageSet:
        outer, inner = self.config.loops()
        provenance = {"config": plain(asdict(self.config)), "loops": [outer, inner],
                      "learner": plain(asdict(self.learner)), "iterations_done": self.iteration,
                      "losses": self.losses, "split_seed": self.dataset.split_seed,
                      "init_indices": None if self.init_indices is None else self.init_indices.tolist()}  # fmt: skip
        return ImageSet(self.images.detach().clone(), self.labels.clone(), "dc", self.dataset.name, self.seed,
                        provenance)  # fmt: skip


def gradient_matching(dataset: ImageDataset, learner: LearnerSpec, config: DCConfig, seed: int,
                      log: Callable[[int, float], None] | None = None, log_every: int = 10) -> ImageSet:  # fmt: skip
    """Run `config.iterations` DC iterations on dataset.train; log(iteration, loss) every `log_every`."""
    matcher = GradientMatching(dataset, learner, config, seed)
    for _ in range(config.iterations):
        loss = matcher.step()
        if log is not None and (matcher.iteration % log_every == 0 or matcher.iteration == config.iterations):
            log(matcher.iteration, loss)
    return matcher.result()
