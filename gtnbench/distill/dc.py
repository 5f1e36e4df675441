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

The network is used in functional form (its parameters a dict of tensors, functional_call); what a
PyTorch module would keep between calls (batch-norm running estimates) is threaded explicitly. With
the reference ConvNet (learner `convnet`: conv, instance norm, ReLU, average pooling) this is the
reference's computation. With gtnbench's other learners, two choices follow the reference and have
a named alternative (`DCConfig`, recorded in the set's provenance):
- `match`: what is matched for a weight-normalised layer (w = g v / ||v||). "weight" (default, the
  reference's: it matches the gradient of the weights) recovers the gradient with respect to w itself
  from the gradients with respect to g and v (`weight_gradients`) and matches its rows like a plain
  layer's; "direction" matches v's gradient, i.e. only the part of each row's weight gradient
  orthogonal to the row (its radial part, carried by g, is never matched). Tensors with at most one
  element per output node are skipped either way (biases, norm parameters, the gains g), as the
  reference skips 1-d tensors.
- `bn_stats`: a network with batch norm cannot take gradients on one-class batches centred with their
  own statistics (what tells the classes apart is lost), so, as the reference does, each outer loop
  first puts a mixed real batch (NORM_PER_CLASS images per class) through the network in training
  mode and then holds the statistics fixed (evaluation mode) for every per-class gradient. "running"
  (default, the reference's): the statistics are the network's running estimates (weight 0.1 on each
  new batch), moved by that mixed batch and by every training step of the network on the synthetic
  set, as a PyTorch module's are; "batch-mean": the exact statistics of the mixed batch alone. A
  network without batch norm (the ConvNet) skips the mixed batch, as the reference does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

from gtnbench.data.datasets import ImageDataset
from gtnbench.data.dsa import augment, check_strategy, draw_augmentation
from gtnbench.data.image_set import ImageSet, plain
from gtnbench.distill.classes import INITS, LearnedSet, draw_from_class
from gtnbench.distill.network import RunningStatistics, fresh_network, sgd_steps
from gtnbench.errors import GtnbenchError
from gtnbench.models.learners import LearnerSpec
from gtnbench.models.norm import BatchNorm, MeanOnlyBatchNorm, Stats, statistics_pass

REFERENCE_LOOPS = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}
COSINE_EPS = 1e-6  # the reference's guard against zero norms
NORM_PER_CLASS = 16  # real images per class whose batch-norm statistics are frozen for matching (the reference's)
MATCHES = ("weight", "direction")  # what is matched of a weight-normalised layer (module docstring)
BN_STATISTICS = ("running", "batch-mean")  # which frozen batch-norm statistics the per-class gradients see


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
    match: str = "weight"  # the reference: the weight gradient; "direction": weight-normalised v only
    bn_stats: str = "running"  # the reference: running estimates; "batch-mean": the mixed batch's own

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; known: {', '.join(INITS)}")
        if self.match not in MATCHES:
            raise ValueError(f"unknown match {self.match!r}; known: {', '.join(MATCHES)}")
        if self.bn_stats not in BN_STATISTICS:
            raise ValueError(f"unknown bn_stats {self.bn_stats!r}; known: {', '.join(BN_STATISTICS)}")
        check_strategy(self.dsa)
        if not (self.outer_loop and self.inner_loop) and self.images_per_class not in REFERENCE_LOOPS:
            raise GtnbenchError(
                f"DC: the reference sets outer_loop and inner_loop only for {sorted(REFERENCE_LOOPS)} "
                f"images per class; give both for {self.images_per_class}"
            )

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


WEIGHT_NORM_GAIN, WEIGHT_NORM_DIRECTION = ".original0", ".original1"  # g and v, as torch's parametrization names them


def weight_gradients(
    names: Sequence[str], grads: Sequence[torch.Tensor], params: dict[str, torch.Tensor]
) -> list[torch.Tensor]:
    """The gradients with, for every weight-normalised layer (w = g v / ||v|| per output row), v's gradient
    replaced by the gradient with respect to w itself: dL/dw = (||v|| / g) dL/dv + (dL/dg) v / ||v||
    (dL/dv is the part of dL/dw orthogonal to v scaled by g / ||v||, dL/dg its component along v / ||v||).
    The gains' gradients stay (matching skips them). Differentiable in `grads`."""
    index = {name: i for i, name in enumerate(names)}
    out = list(grads)
    for name in names:
        if not name.endswith(WEIGHT_NORM_GAIN):
            continue
        direction = name[: -len(WEIGHT_NORM_GAIN)] + WEIGHT_NORM_DIRECTION
        g, v = params[name].detach(), params[direction].detach()
        norm = v.flatten(1).norm(dim=1).view(g.shape)
        out[index[direction]] = grads[index[direction]] * (norm / g) + grads[index[name]] * (v / norm)
    return out


def has_batch_norm(network: torch.nn.Module) -> bool:
    return any(isinstance(m, (MeanOnlyBatchNorm, BatchNorm)) for m in network.modules())


def frozen_statistics(network: torch.nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor) -> Stats:
    """The batch-norm statistics of one training-mode pass of the network over x (models/norm.py)."""
    with torch.no_grad(), statistics_pass(training=True) as current:
        functional_call(network, params, (x,))
    return tuple(current.produced)


def class_loss(
    network: torch.nn.Module, params: dict[str, torch.Tensor], stats: Stats, x: torch.Tensor, label: int
) -> torch.Tensor:
    """Cross-entropy of images x, all of class `label`, with batch norm at the given statistics."""
    with statistics_pass(training=False, given=stats, exact=True):
        out = functional_call(network, params, (x,))
    return F.cross_entropy(out, torch.full((x.shape[0],), label, device=x.device))


class GradientMatching(LearnedSet):
    """The synthetic set and its optimiser; `step()` runs one iteration. All randomness (networks,
    real batches, shuffling, augmentations, initialisation) comes from `seed`. `running` holds the
    current network's batch-norm running estimates (bn_stats "running")."""

    def __init__(self, dataset: ImageDataset, learner: LearnerSpec, config: DCConfig, seed: int) -> None:
        super().__init__(dataset, learner, config, seed)
        self.running = RunningStatistics()

    def frozen(self, network: torch.nn.Module, params: dict[str, torch.Tensor]) -> Stats:
        """The statistics the per-class gradients see: none for a network without batch norm; else those
        left by a training-mode pass of a mixed real batch (NORM_PER_CLASS images per class)."""
        if not has_batch_norm(network):
            return ()
        mixed = torch.cat([draw_from_class(members, NORM_PER_CLASS, self.rng) for members in self.by_class])
        x = self.dataset.train.x[mixed.to(self.dataset.device)]
        if self.config.bn_stats == "batch-mean":
            return frozen_statistics(network, params, x)
        with torch.no_grad():
            self.running.forward(network, params, x)
        return self.running.stats

    def match_loss(self, network: torch.nn.Module, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum over classes of the distance of the real and synthetic gradients at `params` (with
        `match = "weight"`, weight-normalised layers' weight gradients), batch norm frozen (`frozen`)."""
        leaves = {name: p.detach().requires_grad_() for name, p in params.items()}
        names, tensors, x, device = list(leaves), list(leaves.values()), self.dataset.train.x, self.dataset.device
        stats = self.frozen(network, leaves)
        size, total = self.dataset.image_shape[1:], torch.zeros((), device=device)
        for c, (members, synthetic) in enumerate(zip(self.by_class, self.images.split(self.config.images_per_class))):
            real = x[draw_from_class(members, self.config.real_per_class, self.rng).to(device)]
            if self.config.dsa:
                siamese = draw_augmentation(self.config.dsa, 1, size, self.rng)
                real, synthetic = augment(real, siamese), augment(synthetic, siamese)
            real_grads = torch.autograd.grad(
                class_loss(network, leaves, stats, real, c), tensors, allow_unused=True, materialize_grads=True
            )
            synthetic_loss = class_loss(network, leaves, stats, synthetic, c)
            synthetic_grads = torch.autograd.grad(
                synthetic_loss, tensors, create_graph=True, allow_unused=True, materialize_grads=True
            )
            real_grads = [g.detach() for g in real_grads]
            if self.config.match == "weight":
                real_grads = weight_gradients(names, real_grads, leaves)
                synthetic_grads = weight_gradients(names, synthetic_grads, leaves)
            total = total + gradient_match_loss(real_grads, synthetic_grads)
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
        """The learner built from the next seed of the matcher's generator, and its parameters (and no
        running estimates yet)."""
        self.running = RunningStatistics()
        network_seed = int(torch.randint(2**31 - 1, (1,), generator=self.rng))
        return fresh_network(
            self.learner, self.dataset.image_shape, self.dataset.num_classes, network_seed, self.dataset.device
        )

    def update_images(self, network: torch.nn.Module, params: dict[str, torch.Tensor]) -> float:
        """One image step on the match loss at `params`; returns that loss."""
        loss = self.match_loss(network, params)
        (self.images.grad,) = torch.autograd.grad(loss, [self.images])
        self.optimizer.step()
        return float(loss.detach())

    def train_network(
        self, network: torch.nn.Module, params: dict[str, torch.Tensor], epochs: int
    ) -> dict[str, torch.Tensor]:
        """`epochs` epochs of plain SGD of the network on the current synthetic set (in training mode: with
        bn_stats "running" each step also moves the running estimates)."""
        running = self.running if self.config.bn_stats == "running" and has_batch_norm(network) else None
        return sgd_steps(network, params, self._synthetic_epochs(epochs), self.config.lr_network, running=running)

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
        provenance = {
            "config": plain(asdict(self.config)),
            "loops": [outer, inner],
            "learner": plain(asdict(self.learner)),
            "iterations_done": self.iteration,
            "losses": self.losses,
            "split_seed": self.dataset.split_seed,
            "init_indices": None if self.init_indices is None else self.init_indices.tolist(),
            **self.cost(),
        }
        return ImageSet(
            self.images.detach().clone(), self.labels.clone(), "dc", self.dataset.name, self.seed, provenance
        )


def gradient_matching(
    dataset: ImageDataset,
    learner: LearnerSpec,
    config: DCConfig,
    seed: int,
    log: Callable[[int, float], None] | None = None,
    log_every: int = 10,
) -> ImageSet:
    """Run `config.iterations` DC iterations on dataset.train; log(iteration, loss) every `log_every`.
    The first iteration's FLOPs are counted (distill/cost.py)."""
    matcher = GradientMatching(dataset, learner, config, seed)
    for _ in range(config.iterations):
        loss = matcher.counted_step()
        if log is not None and (matcher.iteration % log_every == 0 or matcher.iteration == config.iterations):
            log(matcher.iteration, loss)
    return matcher.result()
